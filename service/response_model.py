"""Response shapes as pydantic models: the OpenAPI schemas, and /models is built from them.

/forecast responses are serialized straight from numpy arrays for speed; tests check them
against these schemas so the document cannot drift from what the service sends.
"""

from typing import Any, Literal

from pydantic import BaseModel, Field

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

    steps: int = Field(description="Steps run: observed steps + horizon - 1.")
    observed_steps: int = Field(description="Length of the input sequence.")
    first_step: int = Field(description="Index of the first row returned (steps - 1 for last).")
    layers: list[LayerInternals]


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
    interval: Interval | list[Interval] | None = Field(None, description="When asked for.")
    internals: Internals | list[Internals] | None = Field(None, description="Unless none.")
    state: StateOut | list[StateOut] | None = Field(None, description="With return_state.")


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
    hidden_size: int | None = None
    layers: int | None = None
    normalization: str | None = None
    frequency: str | None = None
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
