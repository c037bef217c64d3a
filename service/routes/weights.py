"""A model version's input weights: how strongly each input drives each gate."""

from flask import Blueprint, Response

from service.errors import ApiError, json_response
from service.input_weights import input_weights
from service.registry import LookupFailed
from service.state import get_state

bp = Blueprint("weights", __name__)


@bp.get("/models/<name>/versions/<version>/input-weights")
def show_input_weights(name: str, version: str) -> Response:
    """The version's weight_ih per layer and gate; names are only looked up in memory."""
    state = get_state()
    try:
        model = state.registry.get(name, version, state.registry.snapshot)
    except LookupFailed as err:
        field = "name" if err.kind == "unknown_model" else "version"
        if err.kind == "not_loadable":
            raise ApiError(503, "not_ready", err.message, field) from None
        raise ApiError(404, err.kind, err.message, field) from None
    return json_response(input_weights(model).model_dump(mode="json"))
