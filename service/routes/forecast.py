"""POST /forecast."""

from flask import Blueprint, Response, g, request

from service.checkpoint import LoadedModel
from service.config import ServiceConfig
from service.errors import ApiError, json_response
from service.inference import predict, state_tensors
from service.registry import LookupFailed
from service.render import response_body
from service.request_model import parse_request
from service.state import ServiceState, get_state

bp = Blueprint("forecast", __name__)

UTF8 = ("utf-8", "utf8")


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


def read_body(limit: int) -> bytes:
    """The request body, refusing one above `limit` (413) however it is sent.

    A declared Content-Length above the limit was refused before the view ran; a chunked
    body has no length, and werkzeug only cuts it off at MAX_CONTENT_LENGTH, so a byte left
    on the wire past the limit means the body was too large.
    """
    data = request.get_data(cache=False)
    unknown_length = request.content_length is None
    if unknown_length and len(data) >= limit and request.environ["wsgi.input"].read(1):
        raise ApiError(413, "payload_too_large", f"the body is above the limit of {limit} bytes")
    return data


def check_internals_size(
    mode: str, sequences: list[list[float]], horizon: int, model: LoadedModel, cfg: ServiceConfig
) -> None:
    """Refuse, before any model work, a response whose internals would pass the limit."""
    if mode == "none":
        return
    per_step = model.num_layers * 6 * model.hidden_size
    steps = len(sequences) if mode == "last" else sum(len(s) + horizon - 1 for s in sequences)
    if steps * per_step > cfg.max_internals_values:
        raise ApiError(
            400,
            "invalid_request",
            f"internals: {steps * per_step} values asked for, the limit is "
            f"{cfg.max_internals_values}; ask for internals 'last' or 'none', or send fewer "
            "or shorter sequences",
            "internals",
        )


@bp.post("/forecast")
def forecast() -> Response:
    """Forecast, with gate internals, state and intervals as asked."""
    state = get_state()
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if request.mimetype != "application/json" or charset not in UTF8:
        raise ApiError(
            415, "unsupported_media_type", "send the body as Content-Type: application/json (UTF-8)"
        )
    req = parse_request(state.request_model, read_body(state.config.max_body_bytes))
    model = resolve(state, req.model, req.version)
    g.model, g.version = model.name, model.version
    sequences = req.batch()
    check_internals_size(req.internals, sequences, req.horizon, model, state.config)
    initial = None
    if req.state is not None:
        given = req.state if isinstance(req.state, list) else [req.state]
        initial = state_tensors(given, model, len(sequences))
    predictions = predict(
        model,
        sequences,
        req.horizon,
        req.internals,
        initial,
        req.interval,
        req.return_state,
        field="sequences" if req.sequences is not None else "sequence",
    )
    body = response_body(
        request_id=req.id,
        model=model.name,
        version=model.version,
        horizon=req.horizon,
        predictions=predictions,
        batch=req.sequences is not None,
        mode=req.internals,
        level=req.interval,
    )
    return json_response(body)
