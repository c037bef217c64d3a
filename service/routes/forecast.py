"""POST /forecast: preprocess, predict, postprocess."""

from flask import Blueprint, Response

from service.batching import run_alone
from service.errors import json_response
from service.render import render
from service.request import preprocess
from service.state import get_state

bp = Blueprint("forecast", __name__)


@bp.post("/forecast")
def forecast() -> Response:
    """Forecast, with gate internals, state and intervals as asked."""
    state = get_state()
    if state.batcher is None:
        req = preprocess(state)
        return json_response(render(req, run_alone(req)))
    with state.batcher.arriving():
        req = preprocess(state)
        results = state.batcher.run(req)
    return json_response(render(req, results))
