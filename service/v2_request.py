"""Preprocess POST /v2/models/{name}[/versions/{version}]/infer into a ForecastRequest.

The body is JSON, or (binary tensor data extension) a JSON header of
Inference-Header-Content-Length bytes followed by the tensors' bytes. Its tensors are
decoded and checked against service.v2_model, then held to the limits of /forecast by the
same checks (service.request), so that what passes runs on the same inference path.
Every failure is an ApiError; on /v2 paths it is sent as {"error": message}.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError

from model.intervals import MAX_LEVEL
from service.checkpoint import LoadedModel
from service.config import ServiceConfig
from service.context import current_g, current_request
from service.errors import ApiError
from service.inference import InitialState
from service.request import (
    ForecastRequest,
    check_internals_size,
    check_model_limits,
    check_steps,
    exog_inputs,
    offsets_for,
    read_body,
    resolve,
    series_inputs,
    time_inputs,
)
from service.schemas import ForecastBody, InternalsMode
from service.state import ServiceState
from service.tensors import BINARY_SIZE, TensorError, decode
from service.v2_model import (
    BOUNDS,
    COVARIATE,
    INTERNAL_OUTPUTS,
    OUTPUTS,
    STATE_OUTPUTS,
    input_datatypes,
)
from service.v2_schemas import InferRequest, RequestInput

HEADER_LENGTH = "Inference-Header-Content-Length"
MEDIA_TYPES = ("", "application/json", "application/octet-stream")  # "": none given
UTF8 = ("utf-8", "utf8")


@dataclass(frozen=True)
class InferCall:
    """A valid /infer request: what to run, and which outputs to send, in which form."""

    request: ForecastRequest
    id: str | None  # the caller's id, echoed
    outputs: tuple[str, ...]  # in the order to send
    binary: frozenset[str]  # of them, those sent as binary data


def invalid(message: str) -> ApiError:
    """A 400 for a bad tensor or request field."""
    return ApiError(400, "invalid_request", message)


def lookup(state: ServiceState, name: str, version: str | None) -> LoadedModel:
    """The model a /v2 path names (404 unknown, 503 not loadable), recorded for the access
    log and the metrics."""
    model = resolve(state, name, version)
    ctx = current_g()
    ctx.model, ctx.version = model.name, model.version
    return model


def preprocess_infer(state: ServiceState, name: str, version: str | None) -> InferCall:
    """The current Flask request as an InferCall; raises ApiError on any bad input."""
    check_media_type()
    header, raw = split_body(read_body(state.config.max_body_bytes))
    body = parse_infer(header)
    model = lookup(state, name, version)
    tensors = input_tensors(body.inputs, raw, input_datatypes(model))
    cfg = state.config
    observations = tensors.get("observations")
    if observations is None:
        raise invalid("inputs: 'observations' (FP32 [batch, steps]) is required")
    batch, steps = observation_shape(observations, cfg)
    given = scalar(tensors, "horizon")
    horizon = 1 if given is None else int(given)
    if not 1 <= horizon <= cfg.max_horizon:
        raise invalid(f"horizon: must be from 1 to {cfg.max_horizon}, got {horizon}")
    level = scalar(tensors, "interval")
    if level is not None:
        # The level as written (0.9, not float32's 0.8999999761581421).
        level = round(level, 6)
        if not 0 < level <= MAX_LEVEL:
            raise invalid(f"interval: the level must be in (0, {MAX_LEVEL}], got {level}")
    lengths = [steps] * batch
    check_model_limits(model, lengths, horizon, "observations")
    initial = initial_state(tensors, model, batch)
    carried = initial is not None
    check_steps(lengths, carried, horizon, model, cfg, "observations")
    outputs, binary = chosen_outputs(body, level is not None)
    internals: InternalsMode = "all" if any(o in INTERNAL_OUTPUTS for o in outputs) else "none"
    check_internals_size(internals, lengths, carried, horizon, model, cfg)
    offsets = None if level is None else offsets_for(model, level, horizon)
    # What the model reads besides the observations goes through /forecast's own checks,
    # as the batch fields they stand for.
    fields = exog_fields(tensors, model, batch, steps, horizon)
    times = time_inputs(fields, model, lengths, True)
    exog = exog_inputs(fields, model, lengths, times, True)
    ids = series_inputs(fields, model, batch, True)
    request = ForecastRequest(
        id=body.id,
        model=model,
        sequences=tuple(observations),  # rows (steps,) float32, views
        field="observations",
        horizon=horizon,
        internals=internals,
        state=initial,
        interval=level,
        offsets=offsets,
        return_state=any(o in STATE_OUTPUTS for o in outputs),
        exog=exog,
        series=ids,
    )
    return InferCall(request, body.id, outputs, binary)


def check_media_type() -> None:
    """Refuse (415) a body that is neither JSON (UTF-8) nor the binary extension's."""
    req = current_request()
    charset = req.mimetype_params.get("charset", "utf-8").lower()
    if req.mimetype not in MEDIA_TYPES or charset not in UTF8:
        raise ApiError(
            415,
            "unsupported_media_type",
            "send the body as application/json (UTF-8), or as application/octet-stream with "
            f"{HEADER_LENGTH} for binary tensor data",
        )


def split_body(body: bytes) -> tuple[bytes, bytes]:
    """The JSON header and the binary tensor data after it (empty without the extension)."""
    given = current_request().headers.get(HEADER_LENGTH)
    if given is None:
        return body, b""
    if not (given.isascii() and given.isdigit()) or int(given) > len(body):
        raise invalid(
            f"{HEADER_LENGTH}: must be the byte length of the JSON header, at most the "
            f"body's {len(body)} bytes"
        )
    length = int(given)
    return body[:length], body[length:]


def parse_infer(header: bytes) -> InferRequest:
    """Validate the JSON header; a 400 naming the first bad field."""
    try:
        return InferRequest.model_validate_json(header)
    except ValidationError as err:
        first = err.errors(include_url=False, include_input=False)[0]
        if first["type"] == "json_invalid":
            detail = first.get("ctx", {}).get("error", first["msg"])
            raise invalid(f"the body is not valid JSON: {detail}") from None
        if not first["loc"]:
            raise invalid("the body must be a JSON object") from None
        field = ".".join(str(part) for part in first["loc"])
        raise invalid(f"{field}: {first['msg']}") from None


def input_tensors(
    inputs: list[RequestInput], raw: bytes, known: dict[str, tuple[str, ...]]
) -> dict[str, np.ndarray]:
    """Every input by name, decoded from its JSON data or its share of the binary data;
    `known`: the model's inputs and the datatypes each may come in."""
    found: dict[str, np.ndarray] = {}
    offset = 0
    for spec in inputs:
        datatypes = known.get(spec.name)
        if datatypes is None:
            raise invalid(
                f"inputs: this model has no input named {spec.name!r}; its inputs are "
                f"{', '.join(known)}"
            )
        if spec.name in found:
            raise invalid(f"inputs: {spec.name!r} is given twice")
        if spec.datatype not in datatypes:
            raise invalid(
                f"{spec.name}: datatype must be {' or '.join(datatypes)}, got {spec.datatype!r}"
            )
        chunk = None
        size = (spec.parameters or {}).get(BINARY_SIZE)
        if size is not None:
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise invalid(f"{spec.name}: {BINARY_SIZE} must be a byte count")
            if spec.data is not None:
                raise invalid(f"{spec.name}: give data or {BINARY_SIZE}, not both")
            if offset + size > len(raw):
                raise invalid(
                    f"{spec.name}: the binary data ends before its {size} bytes (binary data "
                    f"follows a JSON header of {HEADER_LENGTH} bytes)"
                )
            chunk = raw[offset : offset + size]
            offset += size
        try:
            found[spec.name] = decode(spec.name, spec.datatype, spec.shape, spec.data, chunk)
        except TensorError as err:
            raise invalid(str(err)) from None
    if offset != len(raw):
        raise invalid(f"{len(raw) - offset} bytes of binary data belong to no input")
    return found


def observation_shape(observations: np.ndarray, cfg: ServiceConfig) -> tuple[int, int]:
    """Batch and steps of the observations, within the limits of /forecast."""
    if observations.ndim != 2:
        raise invalid(f"observations: shape must be [batch, steps], got {list(observations.shape)}")
    batch, steps = observations.shape
    if not 1 <= batch <= cfg.max_batch:
        raise invalid(f"observations: batch must be from 1 to {cfg.max_batch}, got {batch}")
    if not 1 <= steps <= cfg.max_sequence_length:
        raise invalid(
            f"observations: steps must be from 1 to {cfg.max_sequence_length}, got {steps}"
        )
    return batch, steps


def scalar(tensors: dict[str, np.ndarray], name: str) -> float | None:
    """The one value of a [1] tensor, or None when it is not given."""
    values = tensors.get(name)
    if values is None:
        return None
    if values.shape != (1,):
        raise invalid(f"{name}: shape must be [1], got {list(values.shape)}")
    return float(values[0])


def initial_state(
    tensors: dict[str, np.ndarray], model: LoadedModel, batch: int
) -> InitialState | None:
    """The initial state from state_h, state_c (and state_loc, state_scale), each (L, B, H)
    or (B,); None when none is given."""
    h, c = tensors.get("state_h"), tensors.get("state_c")
    loc, scale = tensors.get("state_loc"), tensors.get("state_scale")
    if h is None and c is None:
        if loc is not None or scale is not None:
            raise invalid("state_loc, state_scale: give them with state_h and state_c")
        return None
    if h is None or c is None:
        raise invalid("state_h, state_c: give both, or neither")
    layers, units = model.num_layers, model.hidden_size
    rows = h.shape[0] if h.ndim == 3 else -1
    for name, part in (("state_h", h), ("state_c", c)):
        if part.shape != (rows, layers, units) or rows not in (1, batch):
            raise invalid(
                f"{name}: shape must be [{batch}, {layers}, {units}] (or [1, {layers}, "
                f"{units}] for every sequence), got {list(part.shape)}"
            )
    if (loc is None) != (scale is None):
        raise invalid("state_loc, state_scale: give both, or neither")
    h0 = torch.from_numpy(h).transpose(0, 1)  # (L, B or 1, H)
    c0 = torch.from_numpy(c).transpose(0, 1)
    loc_t = scale_t = None
    if loc is not None and scale is not None:
        for name, part in (("state_loc", loc), ("state_scale", scale)):
            if part.shape != (rows,):
                raise invalid(f"{name}: shape must be [{rows}], like state_h's first dimension")
        if not (scale > 0).all():
            raise invalid("state_scale: every scale must be above 0")
        loc_t, scale_t = torch.from_numpy(loc), torch.from_numpy(scale)  # (B or 1,)
    if rows == 1 and batch > 1:
        h0, c0 = h0.expand(-1, batch, -1), c0.expand(-1, batch, -1)
        if loc_t is not None and scale_t is not None:
            loc_t, scale_t = loc_t.expand(batch), scale_t.expand(batch)
    return InitialState(h0.contiguous(), c0.contiguous(), loc_t, scale_t)


def rows_of(tensors: dict[str, np.ndarray], name: str, batch: int, width: int) -> list[Any] | None:
    """A [batch or 1, width] tensor as one Python list per sequence; None if not given."""
    values = tensors.get(name)
    if values is None:
        return None
    if values.ndim != 2 or values.shape[0] not in (1, batch) or values.shape[1] != width:
        raise invalid(
            f"{name}: shape must be [{batch}, {width}] (or [1, {width}] for every sequence), "
            f"got {list(values.shape)}"
        )
    return [values[0 if values.shape[0] == 1 else k].tolist() for k in range(batch)]


def ids_of(tensors: dict[str, np.ndarray], name: str, batch: int) -> list[str] | None:
    """A BYTES [batch or 1] tensor as one string per sequence; None if not given."""
    values = tensors.get(name)
    if values is None:
        return None
    if values.ndim != 1 or values.shape[0] not in (1, batch):
        raise invalid(
            f"{name}: shape must be [{batch}] (or [1] for every sequence), got {list(values.shape)}"
        )
    return [str(values[0 if values.shape[0] == 1 else k]) for k in range(batch)]


def exog_fields(
    tensors: dict[str, np.ndarray], model: LoadedModel, batch: int, steps: int, horizon: int
) -> ForecastBody:
    """The times, covariates and series ids of the tensors, as the batch fields of a
    /forecast body (only those are set), each tensor's shape checked first."""
    covariates: list[dict[str, Any]] | None = None
    named = [*model.past_covariates, *model.future_covariates]
    if named:
        covariates = [{} for _ in range(batch)]
        for name in named:
            ahead = name in model.future_covariates
            width = steps + horizon if ahead else steps
            rows = rows_of(tensors, COVARIATE + name, batch, width)
            if rows is None:
                what = "steps + horizon" if ahead else "steps"
                raise invalid(
                    f"{COVARIATE}{name}: missing; this model reads it as FP32 [batch, {what}]"
                )
            for k, row in enumerate(rows):
                covariates[k][name] = row
    return ForecastBody.model_construct(
        horizon=horizon,
        timestamps=rows_of(tensors, "timestamps", batch, steps),
        start=ids_of(tensors, "start", batch),
        covariates=covariates,
        series=ids_of(tensors, "series", batch),
    )


def chosen_outputs(body: InferRequest, interval: bool) -> tuple[tuple[str, ...], frozenset[str]]:
    """The outputs to send, in order, and those sent as binary data.

    Without `outputs`, every output is sent (the bounds only with an interval), all of them
    binary when the request's parameters say binary_data_output.
    """
    default = (body.parameters or {}).get("binary_data_output", False)
    if not isinstance(default, bool):
        raise invalid("parameters.binary_data_output: must be true or false")
    if not body.outputs:
        names = tuple(n for n in OUTPUTS if interval or n not in BOUNDS)
        return names, frozenset(names) if default else frozenset()
    names_seen: list[str] = []
    binary: set[str] = set()
    for out in body.outputs:
        if out.name not in OUTPUTS:
            raise invalid(
                f"outputs: no output is named {out.name!r}; the outputs are {', '.join(OUTPUTS)}"
            )
        if out.name in names_seen:
            raise invalid(f"outputs: {out.name!r} is asked for twice")
        if out.name in BOUNDS and not interval:
            raise invalid(f"outputs: {out.name!r} needs the 'interval' input (the level)")
        wanted = (out.parameters or {}).get("binary_data", default)
        if not isinstance(wanted, bool):
            raise invalid(f"outputs: binary_data of {out.name!r} must be true or false")
        names_seen.append(out.name)
        if wanted:
            binary.add(out.name)
    return tuple(names_seen), frozenset(binary)
