"""The /forecast request: one pydantic model validates it and documents it in OpenAPI.

Strict mode: `true` is not a number and "1" is not a number; a whole number written 2.0 is
the integer 2 (as JSON Schema's `integer` says), 2.5 is no horizon. Non-finite numbers (NaN,
Infinity, 1e999) and values beyond float32 are rejected with the field that holds them.
The size limits come from ServiceConfig, so `request_model(cfg)` builds a subclass that
carries them; the OpenAPI document is generated from that same class.
"""

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic.config import JsonDict

from model.intervals import MAX_LEVEL
from service.config import ServiceConfig
from service.errors import ApiError

FLOAT32_MAX = 3.4028234663852886e38  # larger inputs would overflow the float32 network

Number = Annotated[
    float,
    Field(allow_inf_nan=False, ge=-FLOAT32_MAX, le=FLOAT32_MAX),
]
Name = Annotated[str, Field(min_length=1, max_length=128)]
InternalsMode = Literal["all", "last", "none"]

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


class ForecastRequest(BaseModel):
    """Forecast one sequence or a batch; optionally with gate internals and state.

    The sequence, batch and horizon fields get their limits in request_model(cfg); always
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

    def batch(self) -> list[list[float]]:
        """The sequences to run, one or many."""
        if self.sequences is not None:
            return self.sequences
        return [self.sequence] if self.sequence is not None else []


def _limited_fields(max_len: int, max_batch: int, max_horizon: int) -> dict[str, Any]:
    """The fields whose limits are configured, as create_model definitions."""
    seq: Any = Annotated[list[Number], Field(min_length=1, max_length=max_len)]
    batch: Any = Annotated[list[seq], Field(min_length=1, max_length=max_batch)]
    steps: Any = Annotated[int, Field(ge=1, le=max_horizon), BeforeValidator(_whole)]
    return {
        "sequence": (
            seq | None,
            Field(None, description="One series of observations, oldest first, in raw units."),
        ),
        "sequences": (
            batch | None,
            Field(None, description="A batch of series (raw units); lengths may differ."),
        ),
        "horizon": (steps, Field(1, description="Steps to forecast, each fed back as input.")),
    }


def request_model(cfg: ServiceConfig) -> type[ForecastRequest]:
    """ForecastRequest with the configured limits, for validation and the schema alike."""
    return create_model(
        "ForecastRequest",
        __base__=ForecastRequest,
        __doc__="Forecast one sequence or a batch; optionally with gate internals and state.",
        **_limited_fields(cfg.max_sequence_length, cfg.max_batch, cfg.max_horizon),
    )


def parse_request(cls: type[ForecastRequest], body: bytes) -> ForecastRequest:
    """Validate a raw body; raises ApiError 400 naming the first bad field."""
    try:
        req = cls.model_validate_json(body)
    except ValidationError as err:
        first = err.errors(include_url=False, include_input=False)[0]
        loc = first["loc"]
        if first["type"] == "json_invalid":
            detail = first.get("ctx", {}).get("error", first["msg"])
            raise ApiError(400, "invalid_json", f"the body is not valid JSON: {detail}") from None
        if not loc:
            raise ApiError(400, "invalid_request", "the body must be a JSON object") from None
        field = _field(loc)
        raise ApiError(400, "invalid_request", f"{field}: {first['msg']}", field) from None
    if (req.sequence is None) == (req.sequences is None):
        raise ApiError(
            400, "invalid_request", "give exactly one of 'sequence' and 'sequences'", "sequence"
        )
    return req


def _field(loc: tuple[int | str, ...]) -> str:
    """A dotted path like sequences.3.5; anything inside `state` is reported as state."""
    if loc[0] == "state":
        return "state"
    return ".".join(str(part) for part in loc)
