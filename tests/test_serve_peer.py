"""The KServe comparison of bench.serve: its targets and its report section."""

import time
from pathlib import Path

from bench.serve import peer
from bench.serve.load import Result


def results(
    forecast: tuple[float, float], predict: tuple[float, float], health: float
) -> peer.Results:
    """Figures at c=8: (req/s, p99 ms) of the two forecasts, and gatecast's /healthz rate."""
    return {
        ("health", "gatecast", 8): Result(100, 0, health, 0.5, 1.0),
        ("health", "kserve", 8): Result(100, 0, 2 * health, 0.3, 0.8),
        ("forecast", "gatecast", 8): Result(100, 0, forecast[0], 1.0, forecast[1]),
        ("forecast", "unbatched", 8): Result(100, 0, forecast[0] / 2, 0.9, forecast[1]),
        ("forecast", "kserve", 8): Result(100, 0, predict[0], 1.2, predict[1]),
    }


def test_targets_need_throughput_and_p99_at_least_as_good_as_kserve() -> None:
    faster = peer.targets(results((2000, 5.0), (1900, 6.0), health=3000))
    assert [ok for _, ok, _ in faster] == [True, True]  # 2000 >= 0.6 x 3000
    worse_tail = peer.targets(results((2000, 7.0), (1900, 6.0), health=4000))
    assert [ok for _, ok, _ in worse_tail] == [False, False]  # p99 7 > 6; 2000 < 0.6 x 4000
    assert worse_tail[0][2] == "2000 vs 1900 req/s, p99 7.00 vs 6.00 ms"


def test_section_tabulates_each_concurrency_or_says_why_it_was_skipped() -> None:
    text = "\n".join(peer.section(results((2000, 5.0), (1900, 6.0), 3000), None, "0.21.0", 2))
    assert "KServe 0.21.0 `ModelServer`" in text and "2 worker processes" in text
    row = "| 8 | 3,000 req/s, p50 0.50 ms, p99 1.00 ms | 6,000 req/s, p50 0.30 ms, p99 0.80 ms |"
    assert row in text
    assert "- PASS (K) /forecast none >= KServe predict on req/s and p99, c=8" in text
    skipped = peer.section(None, None, "", 0, f"{Path('/nowhere/python')} not found")
    assert skipped[-1] == "- skipped: /nowhere/python not found"


def forecasts(on: tuple[float, float], off: tuple[float, float], c: int) -> peer.Results:
    """/forecast with batching on and off at concurrency c: (req/s, p50 ms) each."""
    return {
        ("forecast", "gatecast", c): Result(100, 0, on[0], on[1], 2 * on[1]),
        ("forecast", "unbatched", c): Result(100, 0, off[0], off[1], 2 * off[1]),
        ("forecast", "kserve", c): Result(100, 0, 1.0, 1.0, 1.0),
    }


def test_batching_targets_bound_the_c1_latency_and_need_double_throughput_at_c32() -> None:
    checks = dict(
        (what, ok)
        for what, ok, _ in peer.targets(
            {**forecasts((900, 1.10), (1000, 1.0), 1), **forecasts((2000, 9.0), (1000, 20.0), 32)}
        )
    )
    assert checks["(B) batching on: p50 at most 1.1x batching off, c=1"]
    assert checks["(B) batching on: throughput at least 2x batching off, c=32"]
    checks = dict(
        (what, ok)
        for what, ok, _ in peer.targets(
            {**forecasts((900, 1.12), (1000, 1.0), 1), **forecasts((1990, 9.0), (1000, 20.0), 32)}
        )
    )
    assert not checks["(B) batching on: p50 at most 1.1x batching off, c=1"]
    assert not checks["(B) batching on: throughput at least 2x batching off, c=32"]


def test_batch_lines_give_the_share_of_calls_by_size_model_time_and_connections() -> None:
    before: dict[str, peer.Histogram] = {
        "gatecast_batch_requests": ({"1.0": 5, "4.0": 5, "+Inf": 5}, 5.0, 5),
        "gatecast_batch_call_seconds": ({}, 0.005, 5),
        "gatecast_batch_queue_seconds": ({}, 0.0, 5),
    }
    # then 10 calls: 4 of one request, 6 of four: 28 requests in 0.028 s of model time
    after: dict[str, peer.Histogram] = {
        "gatecast_batch_requests": ({"1.0": 9, "4.0": 15, "+Inf": 15}, 33.0, 15),
        "gatecast_batch_call_seconds": ({}, 0.033, 15),
        "gatecast_batch_queue_seconds": ({}, 0.0028, 33),
    }
    lines = peer.batch_lines({8: peer.gained(before, after)}, {8: [5, 3]})
    assert lines[-1] == "| 8 | 10 | 40% | 100% | 2.80 | 1,000 us | 100 us | 5 / 3 |"


def test_fullest_keeps_the_sample_with_the_most_connections(monkeypatch) -> None:
    samples = iter([{1: 1, 2: 0}, {1: 5, 2: 3}, {1: 2, 2: 2}])
    monkeypatch.setattr(peer, "SPREAD_EVERY", 0.01)

    def spread() -> dict[int, int]:
        return next(samples, {1: 0, 2: 0})

    with peer.fullest(spread) as best:
        time.sleep(0.2)
    assert best == [5, 3]
