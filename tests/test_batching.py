"""In-worker batching: concurrent requests share model calls and each gets its own answer."""

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
from flask import Flask

from bench.common import wait_until
from service import ConfigError, ServiceConfig, create_app, inference
from service.batching import Batcher
from service.checkpoint import LoadedModel
from service.metrics import Metrics
from service.request import ForecastRequest, preprocess
from service.routes import forecast as forecast_route

# torch's CPU kernels choose their blocking by batch size, so a row computed among others
# can differ from the same row alone in its last float32 bit (as within one request).
RTOL = ATOL = 1e-6
POISON = 666.0  # a value the patched model refuses


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, make_checkpoint) -> Path:
    """A folder with one untrained model 'm': 2 layers of 4 units, with quantiles."""
    root = tmp_path_factory.mktemp("batching")
    make_checkpoint(root, "m", hidden=4, layers=2)
    return root


def build(models: Path, **settings: Any) -> Flask:
    """An app on `models` with polling off and the given settings."""
    return create_app(ServiceConfig(model_dir=str(models), poll_seconds=0, **settings))


@pytest.fixture(scope="module")
def unbatched(models: Path) -> Iterator[Flask]:
    """The reference: every request runs alone."""
    app = build(models, batch_max=0)
    yield app
    app.extensions["gatecast"].registry.close()


def series(seed: int, length: int) -> list[float]:
    """A distinct series, its level set by the seed, near the model's scaling (10 +- 2)."""
    return np.random.default_rng(seed).normal(5.0 + seed, 2.0, length).round(4).tolist()


def state(seed: int, scaled: bool) -> dict[str, Any]:
    """A state for the 2 x 4 model, with loc and scale when `scaled`."""
    rng = np.random.default_rng(1000 + seed)
    out: dict[str, Any] = {
        "h": rng.uniform(-0.5, 0.5, (2, 4)).round(4).tolist(),
        "c": rng.uniform(-1, 1, (2, 4)).round(4).tolist(),
    }
    if scaled:
        out |= {"loc": 9.0 + seed / 10, "scale": 1.5 + seed / 10}
    return out


def post_together(app: Flask, bodies: list[dict[str, Any]]) -> list[tuple[int, Any]]:
    """POST every body to /forecast at once, one thread each; (status, json) in order.

    Each request is held after its validation until all are validated, so every one is
    in the worker (arriving) before any reaches the batcher, as under load."""
    validated = threading.Barrier(len(bodies))
    out: list[tuple[int, Any]] = [(0, None)] * len(bodies)

    def held(state: Any) -> ForecastRequest:
        req = preprocess(state)
        validated.wait(10)
        return req

    def one(k: int) -> None:
        r = app.test_client().post("/forecast", json=bodies[k])
        out[k] = (r.status_code, r.get_json())

    with mock.patch.object(forecast_route, "preprocess", held):
        threads = [threading.Thread(target=one, args=(k,)) for k in range(len(bodies))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    return out


def assert_same(got: Any, want: Any, where: str = "") -> None:
    """Equal JSON: the same keys, lengths and values, floats to float32 rounding."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), where
        for key in want:
            assert_same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for k, (a, b) in enumerate(zip(got, want, strict=True)):
            assert_same(a, b, f"{where}.{k}")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=RTOL, abs=ATOL), where
    else:
        assert got == want, where


def sample(app: Flask, name: str) -> float:
    """A metric's value in the app's own registry (0 when it has no samples)."""
    value = app.extensions["gatecast"].metrics.registry.get_sample_value(name)
    return 0.0 if value is None else value


def check_against_unbatched(
    app: Flask, unbatched: Flask, bodies: list[dict[str, Any]]
) -> list[Any]:
    """Post the bodies together to `app`; each answer equals the unbatched one."""
    batched = post_together(app, bodies)
    reference = app_answers(unbatched, bodies)
    for k, ((status, got), want) in enumerate(zip(batched, reference, strict=True)):
        assert status == 200, (k, got)
        assert_same(got, want, f"request {k}")
    return [got for _, got in batched]


def app_answers(app: Flask, bodies: list[dict[str, Any]]) -> list[Any]:
    """The answers to the bodies, one at a time."""
    client = app.test_client()
    out = []
    for body in bodies:
        r = client.post("/forecast", json=body)
        assert r.status_code == 200, r.get_json()
        out.append(r.get_json())
    return out


@pytest.mark.parametrize("internals", ["all", "last", "none"])
def test_concurrent_requests_each_get_their_own_results(
    models: Path, unbatched: Flask, internals: str
) -> None:
    common = {"horizon": 3, "internals": internals}
    bodies = [
        {**common, "id": "a", "sequence": series(1, 5)},
        {**common, "sequences": [series(2, 9), series(3, 5), series(4, 14)], "interval": 0.8},
        {**common, "sequence": series(5, 9), "return_state": True},
        {**common, "sequences": [series(6, 14), series(7, 14)], "interval": 0.5},
        {**common, "sequence": series(8, 3), "interval": 0.9, "return_state": True},
    ]
    # One lane of 8 sequences: the leader waits (at most 1 s) until all 8 have queued.
    app = build(models, batch_max=8, batch_delay_us=1_000_000)
    answers = check_against_unbatched(app, unbatched, bodies)
    assert sample(app, "gatecast_batch_requests_count") == 1
    assert sample(app, "gatecast_batch_requests_sum") == 5
    assert sample(app, "gatecast_batch_sequences_sum") == 8
    # The answers differ from one another far beyond the tolerance: a swap would show.
    firsts = [
        a["forecast"][0] if "sequence" in b else a["forecast"][0][0]
        for a, b in zip(answers, bodies, strict=True)
    ]
    assert min(abs(x - y) for i, x in enumerate(firsts) for y in firsts[i + 1 :]) > 1e-3
    app.extensions["gatecast"].registry.close()


def test_states_batch_with_their_own_scaling(models: Path, unbatched: Flask) -> None:
    """States with loc and scale share a call, states without share another."""
    common = {"horizon": 2, "internals": "all", "return_state": True}
    scaled = [
        {**common, "sequence": series(1, 4), "state": state(1, True)},
        {**common, "sequences": [series(2, 6), series(3, 4)], "state": state(2, True)},
        {
            **common,
            "sequences": [series(4, 4), series(5, 7)],
            "state": [state(4, True), state(5, True)],
            "interval": 0.8,
        },
    ]
    plain = [
        {**common, "sequence": series(6, 3), "state": state(6, False)},
        {
            **common,
            "sequences": [series(k, 5) for k in range(7, 11)],
            "state": [state(k, False) for k in range(7, 11)],
        },
    ]
    # Two lanes of 5 sequences each.
    app = build(models, batch_max=5, batch_delay_us=1_000_000)
    check_against_unbatched(app, unbatched, scaled + plain)
    assert sample(app, "gatecast_batch_requests_count") == 2
    assert sample(app, "gatecast_batch_requests_sum") == 5
    app.extensions["gatecast"].registry.close()


def test_a_bad_neighbour_fails_alone(
    models: Path, unbatched: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = inference.call_model

    def refusing(module: Any, x: Any, *args: Any) -> inference.ModelOutputs:
        if bool((x == POISON).any()):
            raise RuntimeError("poisoned input")
        return real(module, x, *args)

    monkeypatch.setattr(inference, "call_model", refusing)
    good: list[dict[str, Any]] = [
        {"sequence": series(1, 6), "interval": 0.8},
        {"sequences": [series(2, 6), series(3, 9)], "return_state": True},
        {"sequence": series(4, 9)},
    ]
    bad: dict[str, Any] = {"sequences": [series(5, 6), [*series(6, 8), POISON]]}
    app = build(models, batch_max=6, batch_delay_us=1_000_000)
    answers = post_together(app, [*good[:2], bad, good[2]])
    assert answers[2][0] == 500
    assert answers[2][1]["error"]["code"] == "internal"
    for (status, got), want in zip(
        [*answers[:2], answers[3]], app_answers(unbatched, good), strict=True
    ):
        assert status == 200, got
        assert_same(got, want)
    # One combined call that failed, then each request alone.
    assert sample(app, "gatecast_batch_requests_count") == 1
    assert sample(app, "gatecast_batch_requests_sum") == 4
    app.extensions["gatecast"].registry.close()


def test_batching_off_runs_every_request_alone(
    models: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = build(models, batch_max=0)
    assert app.extensions["gatecast"].batcher is None
    monkeypatch.setattr(Batcher, "run", lambda *args: pytest.fail("the batcher ran"))
    answers = post_together(app, [{"sequence": series(k, 5)} for k in range(3)])
    assert [status for status, _ in answers] == [200, 200, 200]
    assert len({a["forecast"][0] for _, a in answers}) == 3
    assert sample(app, "gatecast_batch_requests_count") == 0
    app.extensions["gatecast"].registry.close()


def test_batch_metrics_are_on_the_metrics_page(models: Path) -> None:
    app = build(models, batch_max=4, batch_delay_us=1_000_000)
    bodies = [{"sequences": [series(k, 5), series(k + 1, 5)]} for k in range(2)]
    assert [status for status, _ in post_together(app, bodies)] == [200, 200]
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert "gatecast_batch_requests_count 1.0" in text
    assert "gatecast_batch_requests_sum 2.0" in text
    assert "gatecast_batch_sequences_sum 4.0" in text
    assert 'gatecast_batch_sequences_bucket{le="4.0"} 1.0' in text
    assert 'gatecast_batch_sequences_bucket{le="2.0"} 0.0' in text
    assert "gatecast_batch_queue_seconds_count 2.0" in text
    assert "gatecast_batch_call_seconds_count 1.0" in text
    # The leader waited for the follower; the follower's wait ended as the call started.
    assert 0 < sample(app, "gatecast_batch_queue_seconds_sum") < 1.0
    app.extensions["gatecast"].registry.close()


def forecast_request(model: LoadedModel, *sequences: list[float]) -> ForecastRequest:
    """A valid request for `model`: forecast only, horizon 2, the field `sequences`."""
    return ForecastRequest(
        id=None,
        model=model,
        sequences=tuple(np.array(s, np.float32) for s in sequences),
        field="sequences",
        horizon=2,
        internals="none",
        state=None,
        interval=None,
        offsets=None,
        return_state=False,
    )


@pytest.fixture(scope="module")
def model(unbatched: Flask) -> LoadedModel:
    """The model 'm' as the service loaded it."""
    loaded: LoadedModel = unbatched.extensions["gatecast"].registry.get("m")
    return loaded


def run_together(batcher: Batcher, reqs: list[ForecastRequest]) -> list[Any]:
    """Run the requests through the batcher at once, one thread each; results in order."""
    start = threading.Barrier(len(reqs))
    out: list[Any] = [None] * len(reqs)

    def one(k: int) -> None:
        with batcher.arriving():  # as the route does: each is in the worker before any runs
            start.wait()
            out[k] = batcher.run(reqs[k])

    threads = [threading.Thread(target=one, args=(k,)) for k in range(len(reqs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


def alone(req: ForecastRequest) -> list[inference.SequenceResult]:
    """The request's results from an unbatched call."""
    m = req.model
    return inference.run(
        m.module, req.sequences, req.horizon, req.internals, None, None, False, m.traits
    )


@pytest.mark.parametrize("limit", ["sequences", "steps"])
def test_a_call_stays_within_its_limits(model: LoadedModel, limit: str) -> None:
    """Three requests of 2 sequences x 5 steps + 1 generated, at most 2 requests a call."""
    reqs = [forecast_request(model, series(k, 5), series(k + 10, 5)) for k in range(3)]
    metrics = Metrics()
    if limit == "sequences":
        batcher = Batcher(4, 300_000, 10**6, metrics)
    else:
        batcher = Batcher(256, 300_000, 24, metrics)
    results = run_together(batcher, reqs)
    for req, got in zip(reqs, results, strict=True):
        for a, b in zip(got, alone(req), strict=True):
            np.testing.assert_allclose(a.forecast, b.forecast, rtol=RTOL, atol=ATOL)
    assert metrics.registry.get_sample_value("gatecast_batch_requests_count") == 2
    assert metrics.registry.get_sample_value("gatecast_batch_requests_sum") == 3
    assert metrics.registry.get_sample_value("gatecast_batch_sequences_sum") == 6


def test_a_follower_stops_waiting_for_a_lost_leader(
    model: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    reqs = [forecast_request(model, series(k, 5)) for k in range(3)]
    want = [alone(req)[0].forecast for req in reqs]  # before the model call is patched
    real = inference.run_parts
    release, calls = threading.Event(), []

    def stuck_first(*args: Any) -> list[list[inference.SequenceResult]]:
        calls.append(len(args[1]))
        if len(calls) == 1:
            release.wait(30)
        return real(*args)

    monkeypatch.setattr(inference, "run_parts", stuck_first)
    batcher = Batcher(256, 0, 10**6, patience=0.2)
    led: list[Any] = []
    leader = threading.Thread(target=lambda: led.append(batcher.run(reqs[0])))
    leader.start()
    assert wait_until(lambda: calls == [1], timeout=10)
    got = batcher.run(reqs[1])  # queued behind the stuck call, then run on its own
    assert calls == [1, 1]
    np.testing.assert_array_equal(got[0].forecast, want[1])
    release.set()
    leader.join(30)
    np.testing.assert_array_equal(led[0][0].forecast, want[0])
    # The lane is idle again: the next request leads at once, alone.
    np.testing.assert_array_equal(batcher.run(reqs[2])[0].forecast, want[2])
    assert calls == [1, 1, 1]


def test_batch_settings_from_the_environment() -> None:
    assert (ServiceConfig().batch_max, ServiceConfig().batch_delay_us) == (256, 0)
    env = {"GATECAST_BATCH_MAX": "0", "GATECAST_BATCH_DELAY_US": "250"}
    cfg = ServiceConfig.from_env(env)
    assert (cfg.batch_max, cfg.batch_delay_us) == (0, 250)


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("GATECAST_BATCH_MAX", "-1"),
        ("GATECAST_BATCH_MAX", "lots"),
        ("GATECAST_BATCH_DELAY_US", "-5"),
        ("GATECAST_BATCH_DELAY_US", "1000001"),
        ("GATECAST_BATCH_DELAY_US", "0.5"),
    ],
)
def test_bad_batch_settings_name_the_variable(var: str, value: str) -> None:
    with pytest.raises(ConfigError, match=var):
        ServiceConfig.from_env({var: value})


def test_a_request_that_comes_alone_waits_for_nothing(models: Path) -> None:
    app = build(models, batch_max=8, batch_delay_us=1_000_000)
    client = app.test_client()
    client.post("/forecast", json={"sequence": series(1, 5)})  # warm
    started = time.monotonic()
    assert client.post("/forecast", json={"sequence": series(2, 5)}).status_code == 200
    assert time.monotonic() - started < 0.5  # not the 1 s delay: nothing else was arriving
    assert sample(app, "gatecast_batch_requests_sum") == 2
    app.extensions["gatecast"].registry.close()


def test_a_leader_waits_only_for_requests_already_arriving(model: LoadedModel) -> None:
    metrics = Metrics()
    batcher = Batcher(8, 2_000_000, 10**6, metrics)
    inside = threading.Event()
    answers: list[Any] = []

    def late() -> None:
        with batcher.arriving():  # in the worker before the leader looks, joins 0.3 s later
            inside.set()
            time.sleep(0.3)
            answers.append(batcher.run(forecast_request(model, series(3, 5))))

    thread = threading.Thread(target=late)
    thread.start()
    inside.wait(5)
    started = time.monotonic()
    batcher.run(forecast_request(model, series(4, 5)))
    waited = time.monotonic() - started
    thread.join(5)
    assert 0.25 < waited < 1.5  # waited for the arriving one, not the whole 2 s
    assert len(answers) == 1
    assert metrics.registry.get_sample_value("gatecast_batch_requests_count") == 1
    assert metrics.registry.get_sample_value("gatecast_batch_requests_sum") == 2
