"""Preprocess POST /forecast: everything a request can get wrong, checked once.

Media type, body size, schema, model, internals size, state, interval, time, covariates
and series are checked in that order, into a typed ForecastRequest. Every failure is an
ApiError naming the request field to blame; what passes is ready for service.inference.run.
"""

from dataclasses import dataclass

import numpy as np
import torch
from pydantic import ValidationError

from model.calendar import calendar_features
from model.intervals import interval_offsets
from service.checkpoint import LoadedModel
from service.config import ServiceConfig
from service.context import current_g, current_request
from service.errors import ApiError
from service.inference import InitialState, IntervalOffsets
from service.registry import LookupFailed
from service.schemas import ForecastBody, InternalsMode, StateIn
from service.state import ServiceState
from service.timeline import Timeline, timeline

UTF8 = ("utf-8", "utf8")


@dataclass(frozen=True)
class ForecastRequest:
    """A valid /forecast request, resolved against its model and ready for inference."""

    id: str | None  # the caller's id, echoed
    model: LoadedModel
    sequences: tuple[np.ndarray, ...]  # each (T,) float32, in request order
    field: str  # "sequence" or "sequences": where the values came, named by errors
    horizon: int
    internals: InternalsMode
    state: InitialState | None  # validated for the model, one row per sequence
    interval: float | None  # the level asked for
    offsets: IntervalOffsets | None  # set exactly when interval is
    return_state: bool
    exog: tuple[np.ndarray, ...] | None = None  # per sequence (T + horizon, E) float32, raw
    series: np.ndarray | None = None  # (B,) int64 ids of the model's series embedding
    timestamps: tuple[list[str], ...] | None = None  # per sequence, the forecast steps' times

    @property
    def batch(self) -> bool:
        """Whether the request sent `sequences` (the response then holds lists)."""
        return self.field == "sequences"


def preprocess(state: ServiceState) -> ForecastRequest:
    """The current Flask request as a ForecastRequest; raises ApiError on any bad input."""
    check_media_type()
    body = parse_body(state.request_schema, read_body(state.config.max_body_bytes))
    model = resolve(state, body.model, body.version)
    # Recorded before the model-specific checks, so that the access log and the metrics of
    # a request they refuse still name the model.
    ctx = current_g()
    ctx.model, ctx.version = model.name, model.version
    field = "sequences" if body.sequences is not None else "sequence"
    values = body.sequences if body.sequences is not None else [body.sequence or []]
    lengths = [len(v) for v in values]
    check_model_limits(model, lengths, body.horizon, field)
    carried = body.state is not None
    check_steps(lengths, carried, body.horizon, model, state.config, field)
    check_internals_size(body.internals, lengths, carried, body.horizon, model, state.config)
    initial = None
    if body.state is not None:
        given = body.state if isinstance(body.state, list) else [body.state]
        initial = state_tensors(given, model, len(values))
    offsets = None if body.interval is None else offsets_for(model, body.interval, body.horizon)
    batch = field == "sequences"
    times = time_inputs(body, model, lengths, batch)
    exog = exog_inputs(body, model, lengths, times, batch)
    ids = series_inputs(body, model, len(values), batch)
    return ForecastRequest(
        id=body.id,
        model=model,
        # numpy builds the array from Python floats about 3x faster than torch.tensor.
        sequences=tuple(np.array(v, dtype=np.float32) for v in values),
        field=field,
        horizon=body.horizon,
        internals=body.internals,
        state=initial,
        interval=body.interval,
        offsets=offsets,
        return_state=body.return_state,
        exog=exog,
        series=ids,
        timestamps=None if times is None else tuple(t.ahead for t in times),
    )


def check_media_type() -> None:
    """Refuse (415) a body that is not declared as UTF-8 JSON."""
    req = current_request()
    charset = req.mimetype_params.get("charset", "utf-8").lower()
    if req.mimetype != "application/json" or charset not in UTF8:
        raise ApiError(
            415, "unsupported_media_type", "send the body as Content-Type: application/json (UTF-8)"
        )


def read_body(limit: int) -> bytes:
    """The request body; 413 if chunked and over `limit` bytes, 400 if cut short or misframed.

    The body limit has one enforcement point per transfer kind: a declared Content-Length is
    refused by the middleware before anything reads the body, on every route; a chunked
    body has no length to check, so it is refused here, the one place that reads bodies,
    once a byte past the limit arrives.
    """
    req = current_request()
    try:
        if req.content_length is not None:
            data = req.get_data(cache=False)  # at most `limit` bytes: the middleware saw to it
            if len(data) < req.content_length:  # the server's reader stops at the end
                raise EOFError("the body is shorter than its Content-Length")
            return data
        stream, data = req.stream, b""
        while len(data) <= limit:
            chunk = stream.read(limit + 1 - len(data))
            if not chunk:
                return data
            data += chunk
    except (OSError, EOFError):
        # The connection ended (or failed) inside the body: a client that only stopped
        # sending still reads this answer; one that is gone never does.
        raise ApiError(
            400,
            "bad_http_request",
            "the connection ended before the request body did",
            headers={"Connection": "close"},
        ) from None
    except Exception as err:
        # The server's body reader refused the framing (a chunk size that is not hex, chunk
        # data longer than declared, a malformed trailer): the client's error, and where the
        # next request starts on this connection is unknown, so it is closed.
        raise ApiError(
            400,
            "bad_http_request",
            f"the request body is not valid HTTP framing: {err}",
            headers={"Connection": "close"},
        ) from None
    raise ApiError(413, "payload_too_large", f"the body is above the limit of {limit} bytes")


def parse_body(schema: type[ForecastBody], body: bytes) -> ForecastBody:
    """Validate a raw body against the schema; raises ApiError 400 naming the first bad field."""
    try:
        parsed = schema.model_validate_json(body)
    except ValidationError as err:
        first = err.errors(include_url=False, include_input=False)[0]
        loc = first["loc"]
        if first["type"] == "json_invalid":
            detail = first.get("ctx", {}).get("error", first["msg"])
            raise ApiError(400, "invalid_json", f"the body is not valid JSON: {detail}") from None
        if not loc:
            raise ApiError(400, "invalid_request", "the body must be a JSON object") from None
        field = field_path(loc)
        raise ApiError(400, "invalid_request", f"{field}: {first['msg']}", field) from None
    if (parsed.sequence is None) == (parsed.sequences is None):
        raise ApiError(
            400, "invalid_request", "give exactly one of 'sequence' and 'sequences'", "sequence"
        )
    return parsed


def field_path(loc: tuple[int | str, ...]) -> str:
    """A dotted path like sequences.3.5 or covariates.price.2; anything inside `state` is
    reported as state. The names pydantic gives the members of a union are left out."""
    if loc[0] == "state":
        return "state"
    return ".".join(str(part) for part in loc if not (isinstance(part, str) and "[" in part))


def resolve(state: ServiceState, name: str | None, version: str | None) -> LoadedModel:
    """The model a request asked for, the default one, or the only one loaded."""
    snap = state.registry.snapshot  # one snapshot for the whole lookup
    if not snap.latest:
        raise ApiError(503, "not_ready", "no model is loaded yet")
    if name is None:
        if state.config.default_model:
            name = state.config.default_model
        elif len(snap.latest) == 1:
            name = next(iter(snap.latest))
        else:
            raise ApiError(
                400, "invalid_request", "model: required when several models are loaded", "model"
            )
    try:
        return state.registry.get(name, version, snap)
    except LookupFailed as err:
        field = "version" if version is not None and err.kind != "unknown_model" else "model"
        if err.kind == "not_loadable":
            raise ApiError(503, "not_ready", err.message, field) from None
        raise ApiError(404, err.kind, err.message, field) from None


def check_model_limits(model: LoadedModel, lengths: list[int], horizon: int, field: str) -> None:
    """Refuse a horizon past a direct model's trained one, or too short a history."""
    if model.direct and horizon > model.trained_horizon:
        raise ApiError(
            400,
            "invalid_request",
            f"horizon: this model forecasts at most {model.trained_horizon} steps ahead (the "
            "horizon it was trained for)",
            "horizon",
        )
    need = model.min_history
    for i, n in enumerate(lengths):
        if n < need:
            where = field if field == "sequence" else f"{field}.{i}"
            raise ApiError(
                400,
                "invalid_request",
                f"{where}: this model needs at least {need} observations (it reads the value "
                f"one season back), got {n}",
                where,
            )


def steps_run(lengths: list[int], carried: bool, horizon: int, model: LoadedModel) -> list[int]:
    """Per sequence, the LSTM steps a forecast runs: the observed steps it reads (the last
    `context` values, or all after a carried state), plus generated ones (recursive)."""
    generated = 0 if model.direct else horizon - 1
    return [(n if carried else min(n, model.context)) + generated for n in lengths]


def check_steps(
    lengths: list[int],
    carried: bool,
    horizon: int,
    model: LoadedModel,
    cfg: ServiceConfig,
    field: str,
) -> None:
    """Refuse, before any model work, a request whose LSTM steps pass the limit."""
    steps = sum(steps_run(lengths, carried, horizon, model))
    if steps > cfg.max_request_steps:
        raise ApiError(
            400,
            "invalid_request",
            f"{field}: {steps} LSTM steps asked for, the limit is {cfg.max_request_steps}; "
            "send fewer or shorter sequences, or a shorter horizon",
            field,
        )


def check_internals_size(
    mode: InternalsMode,
    lengths: list[int],
    carried: bool,
    horizon: int,
    model: LoadedModel,
    cfg: ServiceConfig,
) -> None:
    """Refuse, before any model work, internals that would pass the limit.

    What counts is what the model builds: one step per sequence for "last" (every step
    with a checkpoint older than format 3, whose module cannot build the last alone).
    """
    if mode == "none":
        return
    per_step = model.num_layers * 6 * model.hidden_size
    if mode == "last" and model.last_step_only:
        steps = len(lengths)
    else:
        steps = sum(steps_run(lengths, carried, horizon, model))
    if steps * per_step > cfg.max_internals_values:
        raise ApiError(
            400,
            "invalid_request",
            f"internals: {steps * per_step} values asked for, the limit is "
            f"{cfg.max_internals_values}; ask for internals 'last' or 'none', or send fewer "
            "or shorter sequences",
            "internals",
        )


def state_tensors(states: list[StateIn], model: LoadedModel, batch: int) -> InitialState:
    """Initial (h0, c0), each (L, batch, H), from one state for all or one per sequence."""
    shape = (model.num_layers, model.hidden_size)
    if len(states) not in (1, batch):
        raise ApiError(
            400, "invalid_request", f"state: give one state, or one per sequence ({batch})", "state"
        )
    scaled = [s.loc is not None for s in states]
    if any(scaled) and not all(scaled):
        raise ApiError(
            400, "invalid_request", "state: give loc and scale in every state or in none", "state"
        )
    for s in states:
        for part in (s.h, s.c):
            if len(part) != shape[0] or any(len(row) != shape[1] for row in part):
                raise ApiError(
                    400,
                    "invalid_request",
                    f"state: h and c must be {shape[0]} layers x {shape[1]} units for this model",
                    "state",
                )
    h0 = torch.from_numpy(np.array([s.h for s in states], np.float32)).transpose(0, 1)
    c0 = torch.from_numpy(np.array([s.c for s in states], np.float32)).transpose(0, 1)
    loc = scale = None  # h0, c0: (L, B or 1, H)
    if all(scaled):
        loc = torch.tensor([s.loc for s in states], dtype=torch.float32)  # (B or 1,)
        scale = torch.tensor([s.scale for s in states], dtype=torch.float32)
        if not bool((scale > 0).all()):  # positive in float64 but 0 in float32, e.g. 1e-320
            raise ApiError(
                400,
                "invalid_request",
                "state: scale is too small for the model's float32 arithmetic",
                "state",
            )
    if len(states) == 1 and batch > 1:
        h0, c0 = h0.expand(-1, batch, -1), c0.expand(-1, batch, -1)
        if loc is not None and scale is not None:
            loc, scale = loc.expand(batch), scale.expand(batch)
    return InitialState(h0.contiguous(), c0.contiguous(), loc, scale)


def offsets_for(model: LoadedModel, level: float, horizon: int) -> IntervalOffsets:
    """The model's interval offsets at `level`; a 400 when it has no quantiles for them."""
    try:
        lows, highs = interval_offsets(model.quantiles, level, horizon)
    except ValueError as err:
        raise ApiError(400, "invalid_request", f"interval: {err}", "interval") from None
    return IntervalOffsets(np.asarray(lows, np.float32), np.asarray(highs, np.float32))


def _refuse(field: str, message: str) -> ApiError:
    """A 400 invalid_request naming `field`, its message starting with it."""
    return ApiError(400, "invalid_request", f"{field}: {message}", field)


def time_inputs(
    body: ForecastBody, model: LoadedModel, lengths: list[int], batch: bool
) -> list[Timeline] | None:
    """Each sequence's Timeline from `timestamps` or `start`; None when neither is given."""
    count, freq = len(lengths), model.meta.frequency
    if body.timestamps is not None and body.start is not None:
        raise _refuse("start", "give timestamps or start, not both")
    if body.timestamps is not None:
        given = body.timestamps
        if isinstance(given[0], list) != batch:
            want = "one list of times per sequence" if batch else "one time per value"
            raise _refuse("timestamps", f"give {want}")
        lists: list[list[str]] = given if batch else [given]  # type: ignore[assignment,list-item]
        if len(lists) != count:
            raise _refuse("timestamps", f"{len(lists)} lists of times for {count} sequences")
        return [
            timeline(
                texts, None, n, body.horizon, freq, f"timestamps.{k}" if batch else "timestamps"
            )
            for k, (texts, n) in enumerate(zip(lists, lengths, strict=True))
        ]
    if body.start is not None:
        if isinstance(body.start, list) and not batch:
            raise _refuse("start", "give one time for `sequence`")
        starts = body.start if isinstance(body.start, list) else [body.start] * count
        if len(starts) != count:
            raise _refuse("start", f"{len(starts)} starts for {count} sequences")
        return [
            timeline(None, first, n, body.horizon, freq, f"start.{k}" if batch else "start")
            for k, (first, n) in enumerate(zip(starts, lengths, strict=True))
        ]
    return None


def exog_inputs(
    body: ForecastBody,
    model: LoadedModel,
    lengths: list[int],
    times: list[Timeline] | None,
    batch: bool,
) -> tuple[np.ndarray, ...] | None:
    """Per sequence the model's raw exogenous inputs (T + horizon, E): calendar inputs
    from its times (zero without them), covariates from `covariates`. None when the model
    reads none, or only calendar inputs and no time was given (the module's zeros)."""
    calendar, past, future = model.calendar, model.past_covariates, model.future_covariates
    known = past + future
    named: list[dict[str, list[float]]] = [{} for _ in lengths]
    if body.covariates is not None:
        if isinstance(body.covariates, list) != batch:
            shape = "one object of named arrays per sequence" if batch else "one object"
            raise _refuse("covariates", f"give {shape}")
        given = body.covariates if batch else [body.covariates]
        if len(given) != len(lengths):
            raise _refuse("covariates", f"{len(given)} objects for {len(lengths)} sequences")
        named = given  # type: ignore[assignment]
    for k, cov in enumerate(named):
        for name in cov:
            if name not in known:
                where = f"covariates.{k}.{name}" if batch else f"covariates.{name}"
                reads = f"it reads {', '.join(known)}" if known else "it reads none"
                raise _refuse(where, f"this model has no covariate {name!r}; {reads}")
    if not known and (not calendar or times is None):
        return None
    out = []
    width = len(calendar) + len(known)
    for k, n in enumerate(lengths):
        total = n + body.horizon
        exog = np.zeros((total, width), dtype=np.float32)
        if calendar and times is not None:
            wall = torch.from_numpy(times[k].wall)
            exog[:, : len(calendar)] = calendar_features(wall, calendar).numpy()
        prefix = f"covariates.{k}" if batch else "covariates"
        for j, name in enumerate(known):
            column, ahead = len(calendar) + j, j >= len(past)
            want = total if ahead else n
            if name not in named[k]:
                what = "future covariate: one value per observed value and horizon step"
                if not ahead:
                    what = "past covariate: one value per observed value"
                raise _refuse(f"{prefix}.{name}", f"missing; it is a {what} ({want})")
            values = named[k][name]
            if len(values) != want:
                per = "observed value and horizon step" if ahead else "observed value"
                raise _refuse(
                    f"{prefix}.{name}", f"{len(values)} values, expected {want} (one per {per})"
                )
            exog[:want, column] = values
            if not ahead:
                exog[n:, column] = values[-1]  # the module carries it forward itself, too
        out.append(exog)
    return tuple(out)


def series_inputs(
    body: ForecastBody, model: LoadedModel, count: int, batch: bool
) -> np.ndarray | None:
    """The embedding ids (B,) int64 of `series`; None for a model without an embedding."""
    ids = model.series_ids
    if body.series is None:
        if ids:
            some = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
            raise _refuse("series", f"this model has a series embedding: give the id ({some})")
        return None
    if not ids:
        raise _refuse("series", "this model has no series embedding")
    if isinstance(body.series, list) and not batch:
        raise _refuse("series", "give one id for `sequence`")
    names = body.series if isinstance(body.series, list) else [body.series] * count
    if len(names) != count:
        raise _refuse("series", f"{len(names)} ids for {count} sequences")
    index = {name: i for i, name in enumerate(ids)}
    for k, name in enumerate(names):
        if name not in index:
            raise _refuse(f"series.{k}" if batch else "series", f"unknown series {name!r}")
    return np.array([index[name] for name in names], dtype=np.int64)
