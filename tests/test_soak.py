"""The soak's CI version: 2 minutes of mixed load on the real gunicorn with a new version
trained every 40 s and a worker SIGKILLed at 60 s, its targets asserted."""

import pytest

from bench.reliability.soak import measure, settings
from bench.reliability.soak_report import RSS_LIMIT, met, render
from bench.reliability.soak_run import Soak

pytestmark = pytest.mark.slow

TWO_MINUTES = ["--quick", "--minutes", "2", "--train-every", "40", "--kill-every", "60"]


@pytest.fixture(scope="module")
def soaked() -> Soak:
    """One 2-minute soak (about 4 minutes with the versions trained before it)."""
    return measure(settings(TWO_MINUTES))


def test_the_mix_sends_every_request_kind(soaked: Soak) -> None:
    names = list(soaked.kinds)
    for part in ("/none/", "/last/", "/all/", "/interval/", "/single", "/batch", "/pinned "):
        assert any(part in n for n in names), part
    assert any("/stream/" in n for n in names)
    assert all(n > 0 for n, _ in soaked.kinds.values())  # every kind was sent
    assert soaked.stateful > 0 and soaked.pinned > 0
    assert soaked.load.requests > 1000


def test_no_request_fails_except_on_the_killed_workers_own_connections(soaked: Soak) -> None:
    assert soaked.failed_other == 0, soaked.other_errors
    (kill,) = soaked.kills
    assert kill.held > 0 and kill.failed <= kill.held
    assert soaked.failed_killed == kill.failed


def test_the_killed_worker_is_replaced_and_no_other_is_lost(soaked: Soak) -> None:
    (kill,) = soaked.kills
    assert kill.replacement not in (0, kill.pid)
    assert kill.replaced_s < 5
    assert soaked.unasked_exits() == []
    assert [r.pid for r in soaked.rss if r.killed] == [kill.pid]


def test_worker_memory_stays_flat_after_warm_up(soaked: Soak) -> None:
    judged = [(r.pid, r.growth(soaked.plan.warmup)) for r in soaked.rss]
    growths = [g for _, g in judged if g is not None]
    assert len(growths) >= 2, judged  # at least the two first workers
    assert all(g <= RSS_LIMIT for g in growths), judged
    assert all(r.points[-1][1] > 50_000 for r in soaked.rss)  # real torch workers were read


def test_every_version_trained_is_written_and_served(soaked: Soak) -> None:
    assert len(soaked.trainings) == 2  # at 40 s and 80 s
    assert all(t.version and not t.error for t in soaked.trainings), soaked.trainings
    due = soaked.trained_versions_due()
    assert due and all(soaked.served[v].answers > 0 for v in due)
    # pinned: the 2nd and 3rd newest at the start, then the newest of the start too
    assert set(soaked.initial[-3:]) <= set(soaked.served)


def test_the_report_judges_every_target_as_met(soaked: Soak) -> None:
    text = render(soaked)
    assert met(soaked)
    assert "FAIL" not in text and text.count("PASS") == 6
    assert "## Minute by minute" in text and "## Workers SIGKILLed" in text
