"""POST /forecast: preprocess, predict, postprocess."""

from flask import Blueprint, Response

from service import inference
from service.errors import json_response
from service.render import render
from service.request import preprocess
from service.state import get_state

bp = Blueprint("forecast", __name__)


@bp.post("/forecast")
def forecast() -> Response:
    """Forecast, with gate internals, state and intervals as asked."""
    state = get_state()
    req = preprocess(state)
    if state.batcher is not None:
        results = state.batcher.run(req)
    else:
        results = inference.run(
            req.model.module,
            req.sequences,
            req.horizon,
            req.internals,
            req.state,
            req.offsets,
            req.return_state,
            req.model.traits,
        )
    return json_response(render(req, results))
