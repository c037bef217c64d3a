"""Prometheus exposition."""

from flask import Blueprint, Response

from service.state import get_state

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    """All workers' metrics under gunicorn, this app's otherwise."""
    body, content_type = get_state().metrics.render()
    return Response(body, content_type=content_type)
