"""ForecastResult: a POST /forecast answer as numpy arrays, or pandas objects indexed by time.

pandas is imported only when the answer has `timestamps`.
"""

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gatecast_client.payload import Observations
from gatecast_client.state import FloatArray, State

if TYPE_CHECKING:
    import pandas as pd

# The service's order of the gate quantities (model.network.QUANTITIES).
QUANTITIES = ("input_gate", "forget_gate", "candidate", "output_gate", "cell_state", "hidden_state")


@dataclass(frozen=True, eq=False)
class Internals:
    """One sequence's gates and states: `values[layer, quantity, row, unit]`.

    Row `r` is step `first_step + r` of the `steps` computed: the `observed_steps` the LSTM
    ran over (see the result's `context`), then any generated ones (a recursive model's).
    """

    values: FloatArray  # (layers, 6, rows, units) in QUANTITIES order
    steps: int
    observed_steps: int
    first_step: int
    inputs: FloatArray | None  # (rows, features): the model's input per step, when sent
    input_names: tuple[str, ...] | None

    def __getitem__(self, quantity: str) -> FloatArray:
        """One quantity of every layer: (layers, rows, units)."""
        if quantity not in QUANTITIES:
            raise KeyError(f"{quantity!r} is none of {QUANTITIES}")
        return self.values[:, QUANTITIES.index(quantity)]

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> "Internals":
        """The service's `internals` object of one sequence."""
        layers = [[layer[name] for name in QUANTITIES] for layer in body["layers"]]
        inputs = body.get("inputs")
        names = body.get("input_names")
        return cls(
            np.asarray(layers, dtype=np.float32),  # (layers, 6, rows, units)
            int(body["steps"]),
            int(body["observed_steps"]),
            int(body["first_step"]),
            None if inputs is None else np.asarray(inputs, dtype=np.float32),
            None if names is None else tuple(names),
        )


@dataclass(frozen=True, eq=False)
class ForecastResult:
    """One answer. For one sequence: `forecast`, `lower`, `upper` are (horizon,) arrays, and
    `internals`, `state`, `context` single objects; for a batch: (batch, horizon) arrays and
    lists with one entry per sequence.

    When the answer has `timestamps`, `forecast`, `lower` and `upper` are a pandas Series
    (one sequence) or DataFrame (a batch, one column per sequence, on the union of their
    times) indexed by the forecast times, and `timestamps` holds them as DatetimeIndex.
    """

    model: str
    version: str
    horizon: int
    batch: bool
    forecast: "FloatArray | pd.Series | pd.DataFrame"
    lower: "FloatArray | pd.Series | pd.DataFrame | None"
    upper: "FloatArray | pd.Series | pd.DataFrame | None"
    level: float | None
    internals: Internals | list[Internals] | None
    state: State | list[State] | None
    context: dict[str, int] | list[dict[str, int]]  # which observations the LSTM ran over
    timestamps: "pd.DatetimeIndex | list[pd.DatetimeIndex] | None"
    raw: dict[str, Any]  # the answer's JSON as it came


def parsed_times(times: Sequence[str]) -> "pd.DatetimeIndex":
    """ISO 8601 times as a DatetimeIndex; in UTC when their offsets differ (a DST change)."""
    import pandas as pd

    try:
        return pd.DatetimeIndex(pd.to_datetime(list(times), format="ISO8601"))
    except ValueError:  # pandas refuses mixed offsets unless told to convert them
        return pd.DatetimeIndex(pd.to_datetime(list(times), format="ISO8601", utc=True))


def indexed(
    rows: FloatArray, times: "list[pd.DatetimeIndex]", names: list[Hashable], batch: bool
) -> "pd.Series | pd.DataFrame":
    """Rows (batch, horizon) as a Series (one sequence) or DataFrame indexed by time."""
    import pandas as pd

    series = [
        pd.Series(row, index=index, name=name)
        for row, index, name in zip(rows, times, names, strict=True)
    ]
    return pd.concat(series, axis=1) if batch else series[0]


def per_sequence(value: Any, batch: bool) -> list[Any]:
    """A field's entries, one per sequence (a single answer's field is its one entry)."""
    return list(value) if batch else [value]


def parse_result(body: dict[str, Any], obs: Observations) -> ForecastResult:
    """The ForecastResult of a POST /forecast answer to the sequences of `obs`."""
    batch = obs.batch
    forecast = np.asarray(per_sequence(body["forecast"], batch), dtype=np.float32)  # (B, horizon)
    lower = upper = None
    level = None
    if body.get("interval") is not None:
        intervals = per_sequence(body["interval"], batch)
        level = float(intervals[0]["level"])
        lower = np.asarray([i["lower"] for i in intervals], dtype=np.float32)  # (B, horizon)
        upper = np.asarray([i["upper"] for i in intervals], dtype=np.float32)
    internals = None
    if body.get("internals") is not None:
        internals = [Internals.from_json(i) for i in per_sequence(body["internals"], batch)]
    states = None
    if body.get("state") is not None:
        states = [State.from_json(s) for s in per_sequence(body["state"], batch)]
    times = None
    if body.get("timestamps") is not None:
        times = [parsed_times(t) for t in per_sequence(body["timestamps"], batch)]

    def shaped(rows: FloatArray | None) -> "FloatArray | pd.Series | pd.DataFrame | None":
        """Rows as the caller gets them: indexed by time, or the batch array, or one row."""
        if rows is None:
            return None
        if times is not None:
            return indexed(rows, times, obs.names, batch)
        return rows if batch else rows[0]

    def one_or_all(items: list[Any] | None) -> Any:
        """The list for a batch, its one entry for a single sequence."""
        if items is None:
            return None
        return items if batch else items[0]

    points = shaped(forecast)
    assert points is not None
    return ForecastResult(
        model=str(body["model"]),
        version=str(body["version"]),
        horizon=int(body["horizon"]),
        batch=batch,
        forecast=points,
        lower=shaped(lower),
        upper=shaped(upper),
        level=level,
        internals=one_or_all(internals),
        state=one_or_all(states),
        context=body["context"],
        timestamps=one_or_all(times),
        raw=body,
    )
