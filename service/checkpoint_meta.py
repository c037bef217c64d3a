"""meta.json as one schema: the type and range of every field, checked when a checkpoint loads.

To describe a new field that training writes, add it to CheckpointMeta (or to the part it
belongs in) with its type and range; keys the schema does not name are kept as they are.
"""

import datetime as dt
from itertools import pairwise
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from model.calendar import NAMES as CALENDAR_NAMES
from model.export import FORMAT, READS
from model.network import DECODERS, NORMALIZATIONS


class MetaPart(BaseModel):
    """Strict JSON types (no "3" for 3, no true for 1), no NaN or infinity, extra keys kept."""

    model_config = ConfigDict(strict=True, extra="allow", allow_inf_nan=False, frozen=True)


def check_normalization(mode: str) -> str:
    """A normalization mode the network knows."""
    if mode not in NORMALIZATIONS:
        raise ValueError(f"must be one of {', '.join(NORMALIZATIONS)}")
    return mode


Normalization = Annotated[str, AfterValidator(check_normalization)]


def check_decoder(decoder: str) -> str:
    """A decoder the network knows."""
    if decoder not in DECODERS:
        raise ValueError(f"must be one of {', '.join(DECODERS)}")
    return decoder


Decoder = Annotated[str, AfterValidator(check_decoder)]


def check_calendar(name: str) -> str:
    """A calendar input model.calendar computes."""
    if name not in CALENDAR_NAMES:
        raise ValueError(f"unknown calendar input {name!r}")
    return name


CalendarName = Annotated[str, AfterValidator(check_calendar)]
Scores = dict[str, dict[str, float | None]]  # baseline or model -> score name -> value


class NetworkMeta(MetaPart):
    """The network's shape and scaling (model.network.NetworkConfig)."""

    hidden_size: int = Field(ge=1)
    num_layers: int = Field(ge=1)
    normalization: Normalization
    decoder: Decoder | None = None
    context: int | None = Field(None, ge=1)
    horizon: int | None = Field(None, ge=1)
    seasons: list[Annotated[int, Field(ge=1)]] | None = None
    dropout: float | None = Field(None, ge=0.0, lt=1.0)
    head: bool | None = None
    scale_floor: float | None = Field(None, ge=0.0)
    scale_floor_rel: float | None = Field(None, ge=0.0)
    calendar: list[CalendarName] | None = None
    past_covariates: list[str] | None = None
    future_covariates: list[str] | None = None
    series_embedding: int | None = Field(None, ge=0)
    series: list[str] | None = None

    @property
    def exog_names(self) -> list[str]:
        """The exogenous inputs in the network's order: calendar, past, future covariates."""
        return [
            *(self.calendar or []),
            *(self.past_covariates or []),
            *(self.future_covariates or []),
        ]

    @property
    def input_names(self) -> list[str]:
        """The LSTM's input vector, element by element."""
        embedding = [f"series_{k}" for k in range(self.series_embedding or 0)]
        return ["value", *self.exog_names, *embedding]


class NormalizationMeta(MetaPart):
    """How inputs are scaled, and the global statistics."""

    mode: Normalization
    loc: float
    scale: float = Field(gt=0.0)


class QuantilesMeta(MetaPart):
    """Residual quantiles per horizon step, for prediction intervals."""

    probs: list[float] = Field(min_length=2)
    steps: list[list[float]]
    count: int = Field(ge=0)
    counts: list[Annotated[int, Field(ge=0)]] | None = None  # residuals behind each step
    space: str
    source: str | None = None  # which residuals: "validation" or "training"

    @field_validator("probs")
    @classmethod
    def increasing(cls, probs: list[float]) -> list[float]:
        """Probabilities inside (0, 1), strictly increasing: interpolation divides by steps."""
        if any(not 0.0 < p < 1.0 for p in probs):
            raise ValueError("every probability must lie strictly between 0 and 1")
        if any(a >= b for a, b in pairwise(probs)):
            raise ValueError("probabilities must be strictly increasing (sorted, no duplicates)")
        return probs

    @field_validator("steps")
    @classmethod
    def sorted_rows(cls, steps: list[list[float]]) -> list[list[float]]:
        """Quantiles never decrease along the probabilities, or intervals turn inside out."""
        for k, row in enumerate(steps):
            if any(a > b for a, b in pairwise(row)):
                raise ValueError(f"step {k + 1}: quantiles must not decrease")
        return steps

    @field_validator("space")
    @classmethod
    def scaled(cls, space: str) -> str:
        """The only space the service knows how to turn into raw units."""
        if space != "scaled":
            raise ValueError("must be 'scaled' (residuals divided by the sequence's scale)")
        return space

    @model_validator(mode="after")
    def one_per_prob(self) -> Self:
        """Each step holds one quantile per probability."""
        if any(len(row) != len(self.probs) for row in self.steps):
            raise ValueError("each step needs one quantile per probability")
        return self


class CheckpointMeta(MetaPart):
    """A checkpoint's meta.json: what the service reads and lists, and what training records."""

    format: str
    format_version: int
    name: str | None = None
    version: str | None = None
    created_at: str | None = None
    network: NetworkMeta
    normalization: NormalizationMeta
    window: int = Field(ge=1)
    horizon: int = Field(ge=1)
    decoder: Decoder | None = None
    min_history: int | None = Field(None, ge=1)
    frequency: str | None = None
    features: dict[str, Any] | None = None  # as training recorded it; network holds the order
    season: int | None = Field(None, ge=1)
    metrics: Scores = Field(default_factory=dict)
    metrics_horizon: Scores | None = None
    residual_quantiles: QuantilesMeta
    series: list[dict[str, Any]] | None = None
    data: dict[str, Any] | None = None
    training: dict[str, Any] | None = None
    versions: dict[str, str] | None = None
    article: dict[str, Any] | None = None

    @field_validator("format")
    @classmethod
    def known_format(cls, value: str) -> str:
        """A gatecast checkpoint."""
        if value != FORMAT:
            raise ValueError(f"must be {FORMAT!r}")
        return value

    @field_validator("format_version")
    @classmethod
    def known_format_version(cls, value: int) -> int:
        """A format version this gatecast reads."""
        if value not in READS:
            raise ValueError(f"must be one of {', '.join(map(str, READS))} (readable here)")
        return value

    @field_validator("created_at")
    @classmethod
    def iso_timestamp(cls, value: str | None) -> str | None:
        """An ISO 8601 time."""
        if value is not None:
            dt.datetime.fromisoformat(value)  # ValueError names the bad text
        return value

    @property
    def has_intervals(self) -> bool:
        """Whether residual quantiles are there to build prediction intervals from."""
        return bool(self.residual_quantiles.steps) and self.residual_quantiles.count > 0


def parse_meta(raw: dict[str, Any]) -> CheckpointMeta:
    """meta.json checked against the schema; ValueError names the first fields that fail."""
    try:
        return CheckpointMeta.model_validate(raw)
    except ValidationError as err:
        raise ValueError("meta.json: " + "; ".join(describe(e) for e in err.errors()[:3])) from None


def describe(error: ErrorDetails) -> str:
    """One schema error as `field: problem`, the field as a dotted path."""
    where = ".".join(str(part) for part in error["loc"]) or "the whole file"
    if error["type"] == "missing":
        return f"{where!r} is missing"
    return f"{where}: {error['msg']}"
