"""Client: forecasts, model listings and health of one gatecast service over HTTP."""

from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

from gatecast_client.errors import BAD_RESPONSE, GatecastError
from gatecast_client.payload import InternalsMode, forecast_body, observations
from gatecast_client.result import ForecastResult, parse_result
from gatecast_client.state import State
from gatecast_client.stream import Stream
from gatecast_client.transport import Transport, service_error


class Client:
    """One gatecast service: every call is retried on connection errors and 503 with
    exponential backoff (honouring Retry-After), bounded by `timeout`, and carries the API
    key as `Authorization: Bearer`.

        with Client("http://127.0.0.1:8000", api_key="k") as client:
            result = client.forecast([112, 118, 132, 129, 121, 135], horizon=3)

    `timeout`: seconds to connect, and seconds the service may stay silent while answering;
    a timed-out request is not retried. `retries`: further attempts after the first;
    `backoff`: seconds that urllib3's schedule (0, 2, 4, 8... x backoff) is scaled by.
    """

    def __init__(
        self,
        url: str = "http://127.0.0.1:8000",
        api_key: str | None = None,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self.transport = Transport(url, api_key, timeout, retries, backoff)

    @property
    def url(self) -> str:
        """The service's base URL."""
        return self.transport.url

    def forecast(
        self,
        values: Any,
        horizon: int = 1,
        *,
        model: str | None = None,
        version: str | None = None,
        internals: InternalsMode = "none",
        interval: float | None = None,
        state: State | dict[str, Any] | Sequence[State | dict[str, Any]] | None = None,
        return_state: bool = False,
        timestamps: Any = None,
        start: Any = None,
        covariates: Any = None,
        series: str | Sequence[str] | None = None,
    ) -> ForecastResult:
        """Forecast `horizon` steps after one sequence or a batch (see docs/client.md).

        `values`: a list or 1-D array, or a pandas Series (a DatetimeIndex sends its times
        as `timestamps`); a batch is a 2-D array (one row per sequence), a list of
        sequences, or a DataFrame (one column per sequence). The other arguments are the
        request fields of the same names; those left at None are not sent.
        """
        obs = observations(values)
        body = forecast_body(
            obs,
            horizon,
            model=model,
            version=version,
            internals=internals,
            interval=interval,
            state=state,
            return_state=return_state,
            timestamps=timestamps,
            start=start,
            covariates=covariates,
            series=series,
        )
        answer = self.transport.call("POST", "/forecast", body)
        try:
            return parse_result(answer, obs)
        except KeyError as err:
            raise GatecastError(BAD_RESPONSE, f"the /forecast answer lacks {err}") from err
        except (IndexError, TypeError, ValueError) as err:
            raise GatecastError(BAD_RESPONSE, f"an unexpected /forecast answer: {err}") from err

    def stream(
        self,
        model: str | None = None,
        version: str | None = None,
        *,
        horizon: int = 1,
        internals: InternalsMode = "none",
        interval: float | None = None,
        state: State | Sequence[State] | None = None,
        series: str | Sequence[str] | None = None,
    ) -> Stream:
        """A Stream: feed it new observations with `.update(values)`; the state is carried."""
        return Stream(
            self,
            model=model,
            version=version,
            horizon=horizon,
            internals=internals,
            interval=interval,
            state=state,
            series=series,
        )

    def models(self) -> list[dict[str, Any]]:
        """GET /models: every model with its versions, as the service describes them."""
        listed: list[dict[str, Any]] = self.transport.call("GET", "/models")["models"]
        return listed

    def model(self, name: str) -> dict[str, Any]:
        """GET /models/<name>: one model with its versions."""
        found: dict[str, Any] = self.transport.call("GET", f"/models/{quote(name, safe='')}")
        return found

    def health(self) -> bool:
        """Whether GET /healthz answers 200; GatecastError when no answer comes."""
        return self.transport.request("GET", "/healthz").status == 200

    def ready(self) -> bool:
        """Whether GET /readyz answers 200 (a model can be served), False for its 503;
        GatecastError when no answer comes, or for any other error."""
        reply = self.transport.request("GET", "/readyz", retry_503=False)
        if reply.status == 503:
            return False
        if reply.status != 200:
            raise service_error(reply)
        return True

    def close(self) -> None:
        """Close the pooled connections."""
        self.transport.close()

    def __enter__(self) -> Self:
        """The client itself, closed when the block ends."""
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """Close the pooled connections."""
        self.close()
