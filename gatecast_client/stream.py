"""Stream: a series fed one chunk of new observations at a time, its state carried along."""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gatecast_client.payload import InternalsMode
from gatecast_client.result import ForecastResult
from gatecast_client.state import State

if TYPE_CHECKING:  # gatecast_client.client imports this module to build streams
    from gatecast_client.client import Client


class Stream:
    """Forecasts of one series (or a batch) fed chunk by chunk: each update sends only the
    new observations with the state (h, c, loc, scale) that the previous one returned.

    With an initial state, the forecast after any chunks is the one the whole history gets
    with that state (the service runs over every observation sent after a state). Without
    one, the first update is an ordinary forecast: the model reads its trained window of the
    chunk, scaled by that window's statistics, and later updates go on from the state it
    returned, with the same loc and scale. The first answer's version is pinned: a state
    means something only to the model that made it.
    """

    def __init__(
        self,
        client: "Client",
        *,
        model: str | None = None,
        version: str | None = None,
        horizon: int = 1,
        internals: InternalsMode = "none",
        interval: float | None = None,
        state: State | Sequence[State] | None = None,
        series: str | Sequence[str] | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.version = version
        self.horizon = horizon
        self.internals: InternalsMode = internals
        self.interval = interval
        self.series = series
        self.state: State | list[State] | None = (
            state if state is None or isinstance(state, State) else list(state)
        )

    def update(
        self, values: Any, *, timestamps: Any = None, start: Any = None, covariates: Any = None
    ) -> ForecastResult:
        """Forecast after the new observations `values` (same forms as Client.forecast)."""
        result = self.client.forecast(
            values,
            self.horizon,
            model=self.model,
            version=self.version,
            internals=self.internals,
            interval=self.interval,
            state=self.state,
            return_state=True,
            timestamps=timestamps,
            start=start,
            covariates=covariates,
            series=self.series,
        )
        self.model, self.version, self.state = result.model, result.version, result.state
        return result
