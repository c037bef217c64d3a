"""The soak's CI version: 2 minutes of mixed load on the real gunicorn with a new version
trained every 40 s and a worker SIGKILLed at 60 s, its targets asserted (slow); and how it
reads memory series, tells the killed worker's connections apart and finds a checkpoint."""

from pathlib import Path

import pytest

from bench.reliability.kill import Shot
from bench.reliability.load import Sample
from bench.reliability.soak import measure, settings
from bench.reliability.soak_report import RSS_LIMIT, met, render
from bench.reliability.soak_run import Rss, Soak, path_written

TWO_MINUTES = ["--quick", "--minutes", "2", "--train-every", "40", "--kill-every", "60"]


def test_a_workers_baseline_is_its_first_reading_after_warm_up_of_serving() -> None:
    r = Rss(7, born_s=60.0, serving_s=70.0, points=[(60.0, 100), (80.0, 200), (90.0, 210)])
    assert r.baseline(20.0) == (90.0, 210)
    assert r.growth(20.0) is None  # no reading after the baseline
    r.points.append((120.0, 231))
    assert r.growth(20.0) == pytest.approx(0.10)
    assert (
        Rss(8, born_s=60.0, points=[(70.0, 100), (120.0, 300)]).growth(0.0) is None
    )  # never served


def sample(thread: int, port: int, end: float) -> Sample:
    """A failed request on `thread`'s connection from `port`, ended at `end`."""
    return Sample(0, thread, port, end - 1, end, end, 0, "", 1, "RemoteDisconnected")


def test_only_failures_on_the_killed_workers_own_connections_count_as_its_loss() -> None:
    shot = Shot(5, (5, 6), ports=(1001, 1002, 0), mapped=2, held=frozenset({0}), at=10.0)
    assert shot.lost(sample(0, 1001, 10.5))  # in flight at the kill
    assert shot.lost(sample(0, 1001, 12.0))  # sent on the dead connection after it
    assert not shot.lost(sample(0, 1003, 12.0))  # the same client, reconnected
    assert not shot.lost(sample(0, 1001, 9.5))  # before the kill
    assert not shot.lost(sample(1, 1002, 10.5))  # the other worker's connection


def test_the_checkpoint_written_is_read_from_the_training_output() -> None:
    out = b"model airline: ...\ncheckpoint: /m/airline/20261130T191156828029Z.pt\n"
    assert path_written(out) == Path("/m/airline/20261130T191156828029Z.pt")
    with pytest.raises(OSError):
        path_written(b"nothing written\n")


@pytest.fixture(scope="module")
def soaked() -> Soak:
    """One 2-minute soak (about 4 minutes with the versions trained before it)."""
    return measure(settings(TWO_MINUTES))


@pytest.mark.slow
def test_the_mix_sends_every_request_kind(soaked: Soak) -> None:
    names = list(soaked.kinds)
    parts = ("/none/", "/last/", "/all/", "/interval/", "/single", "/batch", "/pinned ", "/stream/")
    for part in parts:
        assert any(part in n for n in names), part
    assert all(n > 0 for n, _ in soaked.kinds.values())  # every kind was sent
    assert soaked.stateful > 0 and soaked.pinned > 0
    assert soaked.load.requests > 1000


@pytest.mark.slow
def test_no_request_fails_except_on_the_killed_workers_own_connections(soaked: Soak) -> None:
    assert soaked.failed_other == 0, soaked.other_errors
    (kill,) = soaked.kills
    assert kill.held > 0 and kill.failed <= kill.held
    assert soaked.failed_killed == kill.failed


@pytest.mark.slow
def test_the_killed_worker_is_replaced_and_no_other_is_lost(soaked: Soak) -> None:
    (kill,) = soaked.kills
    assert kill.replacement not in (0, kill.pid)
    assert kill.replaced_s < 5
    assert soaked.unasked_exits() == []
    assert [r.pid for r in soaked.rss if r.killed] == [kill.pid]


@pytest.mark.slow
def test_worker_memory_stays_flat_after_warm_up(soaked: Soak) -> None:
    judged = [(r.pid, r.growth(soaked.plan.warmup)) for r in soaked.rss]
    growths = [g for _, g in judged if g is not None]
    assert len(growths) >= 2, judged  # at least the two first workers
    assert all(g <= RSS_LIMIT for g in growths), judged
    assert all(r.points[-1][1] > 50_000 for r in soaked.rss)  # real torch workers were read


@pytest.mark.slow
def test_every_version_trained_is_written_and_served(soaked: Soak) -> None:
    assert len(soaked.trainings) == 2  # at 40 s and 80 s
    assert all(t.version and not t.error for t in soaked.trainings), soaked.trainings
    due = soaked.trained_versions_due()
    assert due and all(soaked.served[v].answers > 0 for v in due)
    # pinned: the 2nd and 3rd newest at the start, then the newest of the start too
    assert set(soaked.initial[-3:]) <= set(soaked.served)


@pytest.mark.slow
def test_the_report_judges_every_target_as_met(soaked: Soak) -> None:
    text = render(soaked)
    assert met(soaked)
    assert "FAIL" not in text and text.count("PASS") == 6
    assert "## Minute by minute" in text and "## Workers SIGKILLed" in text
