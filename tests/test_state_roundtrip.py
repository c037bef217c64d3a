"""Any state the service returns is accepted back unchanged (a property test, in-process).

Sequences of every kind a stream may send: short and long, from 1e-30 to 1e30 in size,
constant, negative, a large level with small moves. The state `return_state` gives for one
chunk, sent back with the next chunk, is a 200 that keeps its loc and scale.
"""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

# The session's models: a trained recursive 2 x 8 one and the article's 1 x 1 cell.
MODELS = ("tiny", "article-cell")


@st.composite
def chunk_pairs(draw: st.DrawFn) -> tuple[list[float], list[float]]:
    """Two consecutive chunks of one stream, both of the same kind and magnitude."""
    size = 10.0 ** draw(st.integers(-30, 30))
    kind = draw(st.sampled_from(["noise", "constant", "level and moves"]))
    unit = st.floats(-1, 1, width=32)
    level = draw(unit) * size

    def chunk() -> list[float]:
        n = draw(st.integers(1, 30))
        if kind == "constant":
            return [level] * n
        if kind == "noise":
            return [draw(unit) * size for _ in range(n)]
        return [level + draw(unit) * size * 1e-3 for _ in range(n)]

    return chunk(), chunk()


def forecast(client: Any, model: str, **fields: Any) -> Any:
    """POST /forecast to `model`, without internals."""
    return client.post("/forecast", json={"model": model, "internals": "none", **fields})


@settings(max_examples=50, deadline=None)
@given(chunks=chunk_pairs(), horizon=st.integers(1, 3), model=st.sampled_from(MODELS))
def test_a_returned_state_is_accepted_back(app, chunks, horizon: int, model: str) -> None:
    first_chunk, next_chunk = chunks
    client = app.test_client()
    first = forecast(client, model, sequence=first_chunk, horizon=horizon, return_state=True)
    assert first.status_code == 200, first.get_json()
    state = first.get_json()["state"]
    assert state["scale"] > 0
    again = forecast(
        client, model, sequence=next_chunk, horizon=horizon, state=state, return_state=True
    )
    assert again.status_code == 200, again.get_json()
    carried = again.get_json()["state"]
    assert (carried["loc"], carried["scale"]) == (state["loc"], state["scale"])
    assert len(again.get_json()["forecast"]) == horizon


@settings(max_examples=20, deadline=None)
@given(streams=st.lists(chunk_pairs(), min_size=1, max_size=4))
def test_returned_batch_states_are_accepted_back(app, streams) -> None:
    client = app.test_client()
    firsts, nexts = [list(c) for c in zip(*streams, strict=True)]
    first = forecast(client, "tiny", sequences=firsts, return_state=True)
    assert first.status_code == 200, first.get_json()
    states = first.get_json()["state"]
    again = forecast(client, "tiny", sequences=nexts, state=states, return_state=True)
    assert again.status_code == 200, again.get_json()
    carried = again.get_json()["state"]
    assert [(s["loc"], s["scale"]) for s in carried] == [(s["loc"], s["scale"]) for s in states]


@settings(max_examples=20, deadline=None)
@given(scale=st.floats(min_value=5e-324, max_value=1e-46))
def test_any_scale_that_underflows_float32_is_refused(app, scale: float) -> None:
    state = {"h": [[0.0] * 8] * 2, "c": [[0.0] * 8] * 2, "loc": 0.0, "scale": scale}
    r = forecast(app.test_client(), "tiny", sequence=[1.0, 2.0], state=state)
    assert r.status_code == 400
    assert r.get_json()["error"]["field"] == "state"
