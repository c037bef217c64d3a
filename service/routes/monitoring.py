"""Monitoring: liveness and readiness for load balancers (no API key), Prometheus metrics."""

from flask import Blueprint, Response

from service.errors import ApiError, json_response
from service.snapshot import Snapshot
from service.state import ServiceState, get_state

bp = Blueprint("monitoring", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """200 whenever the process answers."""
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """200 when a model can be served (the default one, if set), else 503 with the reason."""
    snap = check_ready(get_state())
    return json_response({"status": "ready", "models": len(snap.latest)})


def check_ready(state: ServiceState) -> Snapshot:
    """The snapshot when a model can be served (the default one, if set); else a 503
    ApiError saying why."""
    snap = state.registry.snapshot
    default = state.config.default_model
    if not snap.scanned:
        raise ApiError(503, "not_ready", "no model is loaded yet: the first scan is running")
    if default is not None and default not in snap.latest:
        raise ApiError(503, "not_ready", f"the default model {default!r} is not loaded")
    if not snap.latest:
        failed, unlistable = len(snap.failures()), len(snap.unlistable)
        causes = [f"{failed} checkpoint(s) failed to load"] if failed else []
        if unlistable:
            causes.append(f"{unlistable} model folder(s) cannot be listed")
        found = "; ".join(causes) or "no checkpoints found in the model folder"
        raise ApiError(503, "not_ready", f"no model is loaded: {found}")
    return snap


@bp.get("/metrics")
def metrics() -> Response:
    """All workers' metrics under gunicorn, this app's otherwise."""
    body, content_type = get_state().metrics.render()
    return Response(body, content_type=content_type)
