"""The KServe comparison of bench.serve: its targets and its report section."""

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
        ("forecast", "kserve", 8): Result(100, 0, predict[0], 1.2, predict[1]),
    }


def test_targets_need_throughput_and_p99_at_least_as_good_as_kserve() -> None:
    faster = peer.targets(results((2000, 5.0), (1900, 6.0), health=3000))
    assert [ok for _, ok, _ in faster] == [True, True]  # 2000 >= 0.6 x 3000
    worse_tail = peer.targets(results((2000, 7.0), (1900, 6.0), health=4000))
    assert [ok for _, ok, _ in worse_tail] == [False, False]  # p99 7 > 6; 2000 < 0.6 x 4000
    assert worse_tail[0][2] == "2000 vs 1900 req/s, p99 7.00 vs 6.00 ms"


def test_section_tabulates_each_concurrency_or_says_why_it_was_skipped() -> None:
    text = "\n".join(peer.section(results((2000, 5.0), (1900, 6.0), 3000), "0.21.0", 2))
    assert "KServe 0.21.0 `ModelServer`" in text and "2 worker processes" in text
    row = "| 8 | 3,000 req/s, p50 0.50 ms, p99 1.00 ms | 6,000 req/s, p50 0.30 ms, p99 0.80 ms |"
    assert row in text
    assert "- PASS (K) /forecast none >= KServe predict on req/s and p99, c=8" in text
    skipped = peer.section(None, "", 0, f"{Path('/nowhere/python')} not found")
    assert skipped[-1] == "- skipped: /nowhere/python not found"
