"""The client against the real service: gunicorn on the session's models, with an API key.

"tiny" is a recursive 2 x 8 model with a 12-step window and intervals; "article-cell" is
the article's 1 x 1 cell, without intervals. Every result is checked against the raw JSON
of the same request sent with bench.http_client.
"""

import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bench.checkpoints import publish
from bench.http_client import request
from bench.server import Running, gunicorn
from gatecast_client import QUANTITIES, Client, GatecastError, Internals, State
from model.export import list_checkpoints
from model.network import QUANTITIES as MODEL_QUANTITIES

KEY = "client-test-key"
SERIES = [100 + 0.5 * k + 10 * math.sin(2 * math.pi * k / 12) for k in range(40)]
LAYERS, UNITS, WINDOW = 2, 8, 12  # tiny's shape (tests/conftest.py)


@pytest.fixture(scope="module")
def server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """gunicorn (2 workers) on the session's models, requiring KEY."""
    log = tmp_path_factory.mktemp("client") / "gunicorn.log"
    env = {"GATECAST_API_KEYS": KEY}
    with gunicorn(model_dir, log, env=env, ready_path="/readyz") as srv:
        yield srv


@pytest.fixture
def api(server: Running) -> Iterator[Client]:
    """A client of `server` with its key."""
    with Client(server.url, api_key=KEY, retries=2, backoff=0.1) as client:
        yield client


def raw(server: Running, **fields: Any) -> dict[str, Any]:
    """The JSON answer of POST /forecast with these fields, sent without the client."""
    reply = request(server.port, "POST", "/forecast", fields, key=KEY)
    assert reply.status == 200, reply.text()
    body: dict[str, Any] = reply.json()
    return body


def internals_of(value: Any) -> Internals:
    """One sequence's Internals (asserted)."""
    assert isinstance(value, Internals)
    return value


def state_of(value: Any) -> State:
    """One sequence's State (asserted)."""
    assert isinstance(value, State)
    return value


def array(value: Any) -> np.ndarray:
    """A numpy result (asserted)."""
    assert isinstance(value, np.ndarray)
    return value


def float32_scaling(state: State) -> tuple[float, float]:
    """A state's loc and scale rounded to float32, the service's precision."""
    assert state.loc is not None and state.scale is not None
    return float(np.float32(state.loc)), float(np.float32(state.scale))


def test_the_quantities_are_the_models() -> None:
    assert QUANTITIES == MODEL_QUANTITIES


def test_one_sequence(api: Client, server: Running) -> None:
    result = api.forecast(SERIES, 3, model="tiny")
    body = raw(server, model="tiny", sequence=SERIES, horizon=3, internals="none")
    forecast = array(result.forecast)
    assert forecast.shape == (3,) and forecast.dtype == np.float32
    np.testing.assert_array_equal(forecast, np.array(body["forecast"], dtype=np.float32))
    assert (result.model, result.version, result.horizon) == ("tiny", body["version"], 3)
    assert result.context == {"first_step": len(SERIES) - WINDOW, "steps": WINDOW}
    assert result.batch is False
    assert result.internals is None and result.state is None and result.timestamps is None


def test_a_pandas_series_without_times_gives_the_same_array(api: Client) -> None:
    as_list = array(api.forecast(SERIES, 2, model="tiny").forecast)
    as_series = api.forecast(pd.Series(SERIES, index=range(5, 45)), 2, model="tiny")
    np.testing.assert_array_equal(array(as_series.forecast), as_list)


@pytest.mark.parametrize("form", ["2-D array", "list of arrays", "DataFrame"])
def test_a_batch(api: Client, server: Running, form: str) -> None:
    other = [v * 2 for v in SERIES]
    rows = [SERIES, other] if form == "2-D array" else [SERIES, other[5:]]
    values: Any
    if form == "2-D array":
        values = np.array(rows)
    elif form == "list of arrays":
        values = [np.array(r) for r in rows]
    else:  # the shorter column starts with NaN, which the client drops
        values = pd.DataFrame({"a": SERIES, "b": [math.nan] * 5 + other[5:]})
    result = api.forecast(values, 3, model="tiny")
    body = raw(server, model="tiny", sequences=rows, horizon=3, internals="none")
    forecast = array(result.forecast)
    assert forecast.shape == (2, 3)
    np.testing.assert_array_equal(forecast, np.array(body["forecast"], dtype=np.float32))
    assert result.batch is True and result.context == body["context"]


def check_internals(got: Internals, sent: dict[str, Any]) -> None:
    """Internals equal to the service's JSON, value for value, in QUANTITIES order."""
    assert (got.steps, got.observed_steps, got.first_step) == (
        sent["steps"],
        sent["observed_steps"],
        sent["first_step"],
    )
    for layer, quantities in enumerate(sent["layers"]):
        for k, name in enumerate(QUANTITIES):
            np.testing.assert_array_equal(
                got.values[layer, k], np.array(quantities[name], dtype=np.float32)
            )
            np.testing.assert_array_equal(
                got[name][layer], np.array(quantities[name], dtype=np.float32)
            )


def test_internals_every_step_and_the_last(api: Client, server: Running) -> None:
    every = internals_of(api.forecast(SERIES, 3, model="tiny", internals="all").internals)
    body = raw(server, model="tiny", sequence=SERIES, horizon=3, internals="all")
    steps = WINDOW + 3 - 1  # the observed window, then the generated steps
    assert every.values.shape == (LAYERS, len(QUANTITIES), steps, UNITS)
    assert every.values.dtype == np.float32
    check_internals(every, body["internals"])
    last = internals_of(api.forecast(SERIES, 3, model="tiny", internals="last").internals)
    body = raw(server, model="tiny", sequence=SERIES, horizon=3, internals="last")
    assert last.values.shape == (LAYERS, len(QUANTITIES), 1, UNITS)
    assert last.first_step == steps - 1
    check_internals(last, body["internals"])
    np.testing.assert_allclose(last.values[:, :, 0], every.values[:, :, -1], atol=1e-6)


def test_internals_of_a_batch(api: Client, server: Running) -> None:
    rows = [SERIES, SERIES[10:]]
    result = api.forecast(rows, 2, model="tiny", internals="all")
    body = raw(server, model="tiny", sequences=rows, horizon=2, internals="all")
    assert isinstance(result.internals, list) and len(result.internals) == 2
    for got, sent in zip(result.internals, body["internals"], strict=True):
        check_internals(got, sent)


def test_interval(api: Client, server: Running) -> None:
    result = api.forecast(SERIES, 3, model="tiny", interval=0.9)
    body = raw(server, model="tiny", sequence=SERIES, horizon=3, interval=0.9, internals="none")
    lower, upper = array(result.lower), array(result.upper)
    np.testing.assert_array_equal(lower, np.array(body["interval"]["lower"], dtype=np.float32))
    np.testing.assert_array_equal(upper, np.array(body["interval"]["upper"], dtype=np.float32))
    assert result.level == 0.9
    assert np.all(lower < array(result.forecast)) and np.all(array(result.forecast) < upper)


def test_the_returned_state(api: Client, server: Running) -> None:
    state = state_of(api.forecast(SERIES, 1, model="tiny", return_state=True).state)
    body = raw(server, model="tiny", sequence=SERIES, internals="none", return_state=True)
    assert state.h.shape == state.c.shape == (LAYERS, UNITS)
    np.testing.assert_array_equal(state.h, np.array(body["state"]["h"], dtype=np.float32))
    np.testing.assert_array_equal(state.c, np.array(body["state"]["c"], dtype=np.float32))
    assert (state.loc, state.scale) == (body["state"]["loc"], body["state"]["scale"])


@pytest.mark.parametrize(
    ("kwargs", "status", "code", "field"),
    [
        ({"model": "article-cell", "interval": 0.9}, 400, "invalid_request", "interval"),
        ({"model": "tiny", "horizon": 0}, 400, "invalid_request", "horizon"),
        ({"model": "nope"}, 404, "unknown_model", "model"),
        ({"model": "tiny", "version": "19990101T000000000000Z"}, 404, "unknown_version", "version"),
    ],
)
def test_errors_carry_the_services_status_code_and_field(
    api: Client, kwargs: dict[str, Any], status: int, code: str, field: str
) -> None:
    with pytest.raises(GatecastError) as caught:
        api.forecast(SERIES, **kwargs)
    err = caught.value
    assert (err.status, err.code, err.field) == (status, code, field)
    assert err.message and err.request_id


def test_without_the_key_only_health_and_readiness_answer(server: Running) -> None:
    keyless = Client(server.url, retries=0)
    with pytest.raises(GatecastError) as caught:
        keyless.forecast(SERIES, model="tiny")
    assert (caught.value.status, caught.value.code) == (401, "unauthorized")
    with pytest.raises(GatecastError) as caught:
        keyless.models()
    assert caught.value.status == 401
    assert keyless.health() is True and keyless.ready() is True
    wrong = Client(server.url, api_key="wrong", retries=0)
    with pytest.raises(GatecastError, match="401 unauthorized"):
        wrong.forecast(SERIES, model="tiny")


def test_models(api: Client, server: Running) -> None:
    models = api.models()
    listed = request(server.port, "GET", "/models", key=KEY).json()["models"]
    for model in (*models, *listed):  # each worker loaded the models at its own time
        for version in model["versions"]:
            version.pop("loaded_at")
    assert models == listed
    assert {m["name"] for m in models} == {"tiny", "article-cell"}
    tiny = api.model("tiny")
    assert tiny["name"] == "tiny" and tiny["versions"][0]["intervals"] is True
    assert api.health() is True and api.ready() is True


# -- streams ---------------------------------------------------------------------------------


def test_a_stream_fed_in_chunks_forecasts_as_the_whole_history(api: Client) -> None:
    first = State.zeros(LAYERS, UNITS, loc=float(np.mean(SERIES)), scale=float(np.std(SERIES)))
    stream = api.stream("tiny", horizon=3, internals="all", state=first)
    for chunk in (SERIES[:15], SERIES[15:27]):
        stream.update(chunk)
    last = stream.update(np.array(SERIES[27:]))
    whole = api.forecast(SERIES, 3, model="tiny", internals="all", state=first, return_state=True)
    np.testing.assert_allclose(array(last.forecast), array(whole.forecast), rtol=1e-5)
    carried, once = state_of(stream.state), state_of(whole.state)
    np.testing.assert_allclose(carried.h, once.h, atol=1e-5)
    np.testing.assert_allclose(carried.c, once.c, atol=1e-5)
    assert (carried.loc, carried.scale) == (once.loc, once.scale)
    assert (carried.loc, carried.scale) == float32_scaling(first)  # as the service holds it
    # The last chunk's internals are the whole history's from step 27 on.
    tail = internals_of(whole.internals).values[:, :, 27:]
    np.testing.assert_allclose(internals_of(last.internals).values, tail, atol=1e-5)
    assert stream.version == whole.version


def test_a_stream_without_a_state_warms_up_on_its_first_chunk(api: Client) -> None:
    stream = api.stream("tiny", horizon=2)
    first = stream.update(SERIES[:24])
    assert first.context == {"first_step": 24 - WINDOW, "steps": WINDOW}  # the trained window
    warm = state_of(first.state)
    stream.update(SERIES[24:30])
    last = stream.update(SERIES[30:])
    assert last.context == {"first_step": 0, "steps": 10}  # every value after a state
    after = api.forecast(SERIES[24:], 2, model="tiny", state=warm)
    np.testing.assert_allclose(array(last.forecast), array(after.forecast), rtol=1e-5)
    carried = state_of(stream.state)
    assert (carried.loc, carried.scale) == (warm.loc, warm.scale)
    assert stream.version == first.version


def test_a_batch_stream(api: Client) -> None:
    rows = np.array([SERIES, [v * 3 - 50 for v in SERIES]])  # (2, 40)
    firsts = [State.zeros(LAYERS, UNITS, loc=float(r.mean()), scale=float(r.std())) for r in rows]
    stream = api.stream("tiny", horizon=2, state=firsts)
    stream.update(rows[:, :20])
    last = stream.update(rows[:, 20:])
    whole = api.forecast(rows, 2, model="tiny", state=firsts)
    np.testing.assert_allclose(array(last.forecast), array(whole.forecast), rtol=1e-5)
    assert isinstance(stream.state, list)
    assert [(s.loc, s.scale) for s in stream.state] == [float32_scaling(s) for s in firsts]


# -- retries against the real service --------------------------------------------------------


def test_503_is_retried_until_a_model_is_loaded(model_dir: Path, tmp_path: Path) -> None:
    """No model at first (POST /forecast answers 503 not_ready); one is published while the
    client backs off, and the service (polling every second) loads it."""
    models = tmp_path / "models"
    models.mkdir()
    source = list_checkpoints(model_dir)["tiny"][-1]
    env = {"GATECAST_POLL_SECONDS": "1", "GATECAST_WORKERS": "1"}
    with gunicorn(models, tmp_path / "gunicorn.log", env=env) as srv:
        assert Client(srv.url).ready() is False
        later = threading.Timer(1.0, publish, args=(source, models / "tiny"))
        later.start()
        try:
            # Waits of 0, 0.5, 1, 2, 4 and 8 s between attempts: ample for a 1 s poll.
            result = Client(srv.url, retries=6, backoff=0.25).forecast(SERIES, model="tiny")
        finally:
            later.join()
        metrics = request(srv.port, "GET", "/metrics").text()
    assert result.model == "tiny" and array(result.forecast).shape == (1,)
    refused = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith('gatecast_requests_total{endpoint="/forecast"')
        and 'status="503"' in line
    )
    assert refused >= 1  # the client was refused at least once, and retried
