"""The OpenAPI document."""

from flask import Blueprint, Response

from service.state import get_state

bp = Blueprint("docs", __name__)


@bp.get("/openapi.json")
def openapi() -> Response:
    """OpenAPI 3.1, generated at start-up from the same pydantic models that validate."""
    return Response(get_state().openapi, mimetype="application/json")
