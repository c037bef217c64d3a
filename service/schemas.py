"""The API's wire schemas: pydantic models that validate requests and document responses.

The request schema validates /forecast bodies and is the OpenAPI document's request; the
response schemas build /models and are checked against what /forecast sends.

Strict mode: `true` is not a number and "1" is not a number; a whole number written 2.0 is
the integer 2 (as JSON Schema's `integer` says), 2.5 is no horizon. Non-finite numbers (NaN,
Infinity, 1e999) and values beyond float32 are rejected with the field that holds them.
The size limits come from ServiceConfig, so `request_schema(cfg)` builds a subclass that
carries them; the OpenAPI document is generated from that same class.
"""

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    create_model,
    model_validator,
)
from pydantic.config import JsonDict

from model.intervals import MAX_LEVEL
from service.config import ServiceConfig

FLOAT32_MAX = 3.4028234663852886e38  # larger inputs would overflow the float32 network
MAX_COVARIATES = 64  # named arrays in one request's covariates

Number = Annotated[
    float,
    Field(allow_inf_nan=False, ge=-FLOAT32_MAX, le=FLOAT32_MAX),
]
Name = Annotated[str, Field(min_length=1, max_length=128)]
InternalsMode = Literal["all", "last", "none"]
Time = Annotated[str, Field(min_length=1, max_length=64)]
Covariates = dict[Name, list[Number]]

STRICT = ConfigDict(extra="forbid", strict=True)

# "Exactly one of sequence and sequences" for the schema; the service checks it after
# validation (a field given as null counts as absent, in both).
ONE_OF_SEQUENCE: JsonDict = {
    "oneOf": [
        {"required": ["sequence"], "properties": {"sequence": {"type": "array"}}},
        {"required": ["sequences"], "properties": {"sequences": {"type": "array"}}},
    ]
}


# "Both loc and scale, or neither" for the schema (null counts as absent, as in the check).
BOTH_OR_NEITHER: JsonDict = {
    "anyOf": [
        {"properties": {"loc": {"type": "null"}, "scale": {"type": "null"}}},
        {
            "required": ["loc", "scale"],
            "properties": {"loc": {"type": "number"}, "scale": {"type": "number"}},
        },
    ]
}


def _whole(value: Any) -> Any:
    """2.0 is the integer 2, as in JSON Schema's `integer`; 2.5, "2" and true stay errors."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class StateIn(BaseModel):
    """An LSTM state: per layer, one list of hidden-size numbers; optionally its scaling."""

    model_config = ConfigDict(**STRICT, json_schema_extra=BOTH_OR_NEITHER)

    h: list[list[Number]] = Field(description="Short-term memory (hidden state), layers x units.")
    c: list[list[Number]] = Field(description="Long-term memory (cell state), layers x units.")
    loc: Number | None = Field(
        None,
        description="Scaling location of the stream this state came from (returned with "
        "return_state). With `scale`, the sequence is scaled like that earlier chunk instead "
        "of by its own statistics, so chunks of a stream compose exactly.",
    )
    scale: Annotated[float, Field(gt=0, le=FLOAT32_MAX)] | None = Field(
        None, description="Scaling spread that goes with `loc`; give both or neither."
    )

    @model_validator(mode="after")
    def _both_or_neither(self) -> "StateIn":
        """loc and scale only make sense together."""
        if (self.loc is None) != (self.scale is None):
            raise ValueError("give both loc and scale, or neither")
        return self


class ForecastBody(BaseModel):
    """Forecast one sequence or a batch; optionally with gate internals and state.

    The sequence, batch and horizon fields get their limits in request_schema(cfg); always
    validate with the class it returns.
    """

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=ONE_OF_SEQUENCE)

    model: Name | None = Field(
        None, description="Model name; optional when one model is loaded or a default is set."
    )
    version: Name | None = Field(None, description="Version; the newest loaded when omitted.")
    sequence: list[float] | None = None  # limits: see _limited_fields
    sequences: list[list[float]] | None = None
    horizon: int = 1
    internals: InternalsMode = Field(
        "all", description="Gate internals: every step, only the last step, or none."
    )
    state: StateIn | list[StateIn] | None = Field(
        None,
        description="Initial state for every sequence, or (with `sequences`) one per sequence; "
        "zeros when omitted.",
    )
    return_state: bool = Field(
        False, description="Return the state after the observed sequence (not the forecast)."
    )
    interval: Annotated[float, Field(gt=0, le=MAX_LEVEL)] | None = Field(
        None, description="Central prediction interval level, e.g. 0.9."
    )
    id: Annotated[str, Field(max_length=128)] | None = Field(
        None, description="Caller's id, echoed in the response."
    )
    start: Time | list[Time] | None = Field(
        None,
        description="ISO 8601 time of the first value, the others following at the model's "
        "frequency; with `sequences`, one per sequence (or one for all). Instead of "
        "`timestamps`.",
    )
    series: Name | list[Name] | None = Field(
        None,
        description="Series id for a model with a series embedding (one of those it was "
        "trained on); with `sequences`, one per sequence (or one for all).",
    )
    timestamps: list[Time] | list[list[Time]] | None = None  # limits: see _limited_fields
    covariates: Covariates | list[Covariates] | None = None


def _limited_fields(max_len: int, max_batch: int, max_horizon: int) -> dict[str, Any]:
    """The fields whose limits are configured, as create_model definitions."""
    seq: Any = Annotated[list[Number], Field(min_length=1, max_length=max_len)]
    batch: Any = Annotated[list[seq], Field(min_length=1, max_length=max_batch)]
    steps: Any = Annotated[int, Field(ge=1, le=max_horizon), BeforeValidator(_whole)]
    times: Any = Annotated[list[Time], Field(min_length=1, max_length=max_len)]
    times_batch: Any = Annotated[list[times], Field(min_length=1, max_length=max_batch)]
    covariate: Any = Annotated[list[Number], Field(max_length=max_len + max_horizon)]
    named: Any = Annotated[dict[Name, covariate], Field(max_length=MAX_COVARIATES)]
    named_batch: Any = Annotated[list[named], Field(min_length=1, max_length=max_batch)]
    return {
        "timestamps": (
            times | times_batch | None,
            Field(
                None,
                description="ISO 8601 time of each value (all with a UTC offset or none); "
                "with `sequences`, one list per sequence. The response then carries the "
                "forecast's `timestamps`.",
            ),
        ),
        "covariates": (
            named | named_batch | None,
            Field(
                None,
                description="The model's covariates by name: a past covariate has one value "
                "per observed value, a future one also one per horizon step; with "
                "`sequences`, one object per sequence.",
            ),
        ),
        "sequence": (
            seq | None,
            Field(None, description="One series of observations, oldest first, in raw units."),
        ),
        "sequences": (
            batch | None,
            Field(None, description="A batch of series (raw units); lengths may differ."),
        ),
        "horizon": (
            steps,
            Field(
                1,
                description="Steps to forecast: at most the model's trained horizon for a "
                "direct model; a recursive one feeds each step back as input.",
            ),
        ),
    }


def request_schema(cfg: ServiceConfig) -> type[ForecastBody]:
    """ForecastBody with the configured limits, for validation and the OpenAPI document alike.

    Its schema is named ForecastRequest, the name clients see in the document.
    """
    return create_model(
        "ForecastRequest",
        __base__=ForecastBody,
        __doc__="Forecast one sequence or a batch; optionally with gate internals and state.",
        **_limited_fields(cfg.max_sequence_length, cfg.max_batch, cfg.max_horizon),
    )


# Responses

Matrix = list[list[float]]


class Interval(BaseModel):
    """A central prediction interval per forecast step, in raw units."""

    level: float
    lower: list[float]
    upper: list[float]


class LayerInternals(BaseModel):
    """One layer's gates and states, each steps x units (QUANTITIES order)."""

    input_gate: Matrix
    forget_gate: Matrix
    candidate: Matrix
    output_gate: Matrix
    cell_state: Matrix
    hidden_state: Matrix


class Internals(BaseModel):
    """Every layer's internals for the steps returned."""

    steps: int = Field(
        description="Steps computed: the observed steps the LSTM ran over, then horizon - 1 "
        "generated ones for a recursive model (none for a direct one)."
    )
    observed_steps: int = Field(
        description="Observed steps the LSTM ran over: the last ones sent (see `context`)."
    )
    first_step: int = Field(description="Index of the first row returned (steps - 1 for last).")
    layers: list[LayerInternals]
    inputs: Matrix = Field(
        description="The LSTM's input vector at each step returned, steps x input_names: the "
        "scaled value, then the scaled calendar inputs, covariates and series embedding."
    )
    input_names: list[str] = Field(description="What each element of an input vector is.")


class Context(BaseModel):
    """Which observed values the LSTM ran over: the last `steps` of those sent."""

    first_step: int = Field(
        description="Index in the sent sequence of the first value the LSTM ran over; earlier "
        "values only feed the seasonal-naive inputs of a direct model, or nothing."
    )
    steps: int = Field(description="How many values it ran over (internals rows 0..steps-1).")


class StateOut(BaseModel):
    """The LSTM state after the observed sequence, layers x units; feed it back as `state`."""

    h: Matrix
    c: Matrix
    loc: float = Field(description="The location this sequence was scaled by.")
    scale: float = Field(description="The spread this sequence was scaled by.")


class ForecastResponse(BaseModel):
    """Single values for `sequence`; for `sequences`, lists with one entry per sequence."""

    id: str | None = Field(description="The request's `id`, or null.")
    model: str
    version: str
    horizon: int
    forecast: list[float] | list[list[float]] = Field(description="Raw units.")
    context: Context | list[Context] = Field(description="The observed steps the model used.")
    interval: Interval | list[Interval] | None = Field(None, description="When asked for.")
    internals: Internals | list[Internals] | None = Field(None, description="Unless none.")
    state: StateOut | list[StateOut] | None = Field(None, description="With return_state.")
    timestamps: list[str] | list[list[str]] | None = Field(
        None,
        description="ISO 8601 time of each forecast step, when the request gave `timestamps` "
        "or `start`; in the offset of the last time given.",
    )


class ErrorDetail(BaseModel):
    """What went wrong: a stable code, a sentence, and the request field if one is to blame."""

    code: str = Field(examples=["invalid_request", "unknown_model", "not_ready"])
    message: str
    field: str | None


class ErrorResponse(BaseModel):
    """Every error the service returns."""

    error: ErrorDetail


class Health(BaseModel):
    """Liveness."""

    status: Literal["ok"]


class Ready(BaseModel):
    """Readiness: how many models can be served."""

    status: Literal["ready"]
    models: int


class VersionInfo(BaseModel):
    """One checkpoint file; the descriptive fields are null unless it is loaded."""

    version: str
    status: Literal["loaded", "not_kept", "failed"] = Field(
        description="loaded: in memory, servable; not_kept: older than the newest versions "
        "kept in memory (GATECAST_KEEP_VERSIONS), not servable; failed: will not load (see "
        "reason), retried when the file changes."
    )
    latest: bool = Field(description="Served when a request gives no version.")
    reason: str | None = None
    loaded_at: str | None = None
    failed_at: str | None = None
    created_at: str | None = None
    window: int | None = None
    horizon: int | None = Field(None, description="Steps ahead the model was trained for.")
    decoder: Literal["direct", "recursive"] | None = Field(
        None, description="direct: at most `horizon` steps; recursive: any, fed back."
    )
    min_history: int | None = Field(None, description="The fewest observations to send.")
    hidden_size: int | None = None
    layers: int | None = None
    normalization: str | None = None
    frequency: str | None = Field(None, description="pandas offset alias, e.g. h, D, MS.")
    features: dict[str, Any] | None = Field(
        None,
        description="What the model reads besides the values: calendar inputs, "
        "past_covariates, future_covariates, series (ids of its embedding, or null).",
    )
    intervals: bool | None = Field(None, description="Whether `interval` can be asked for.")
    metrics: dict[str, Any] | None = Field(None, description="Validation scores from training.")


class ModelInfo(BaseModel):
    """A model name and all its versions, newest first."""

    name: str
    status: Literal["loaded", "failed"]
    latest: str | None
    versions: list[VersionInfo]
    reason: str | None = Field(
        default=None,
        description="Set when the model's folder cannot be listed (then versions is empty).",
    )


class ModelList(BaseModel):
    """Every model found in the model folder, failed ones included."""

    models: list[ModelInfo]
