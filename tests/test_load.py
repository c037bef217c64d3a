"""Short versions of the load scenarios of bench/reliability/, on the real gunicorn.

Sustained mixed load (errors, memory), slow clients, a SIGKILLed worker and a new version
trained during load. Sizes are small; `python -m bench.reliability` runs the full ones.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench.common import flags, train_command
from bench.http_client import request
from bench.reliability.kill import in_private_netns, kill_runs, kill_worker, netns_usable
from bench.reliability.load import Kind, mixed_kinds
from bench.reliability.slow import slow_clients
from bench.reliability.sustained import sustained
from bench.reliability.swap import swap
from bench.server import Running, gunicorn
from model.export import list_checkpoints

pytestmark = pytest.mark.slow

THREADS = 4
ENV = {"GATECAST_THREADS": str(THREADS), "GATECAST_POLL_SECONDS": "1"}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, copy_models: Callable[[Path], Path]) -> Path:
    """A private copy of the session's models (tiny and article-cell): the swap retrains."""
    return copy_models(tmp_path_factory.mktemp("load"))


@pytest.fixture(scope="module")
def server(models: Path) -> Iterator[Running]:
    """gunicorn, 2 workers x 4 threads, polling every second."""
    with gunicorn(models, models.parent / "gunicorn.log", env=ENV, ready_path="/readyz") as srv:
        yield srv


@pytest.fixture(scope="module")
def kinds(server: Running) -> list[Kind]:
    """The request mix for the models served."""
    return mixed_kinds(request(server.port, "GET", "/models").json()["models"])


def test_the_mix_covers_both_models_every_internals_level_intervals_and_batches(kinds):
    names = {k.name.split("/")[0] for k in kinds}
    assert names == {"tiny", "article-cell"}
    assert {k.name.split("/")[1] for k in kinds} == {"none", "last", "all"}
    assert any("/interval/" in k.name for k in kinds) and any("batch" in k.name for k in kinds)
    assert not any(k.name.startswith("article-cell/") and "/interval/" in k.name for k in kinds)


def test_sustained_mixed_load_has_no_errors_and_no_memory_growth(server, kinds) -> None:
    r = sustained(server, kinds, requests=3000, concurrency=32, warmup=600)
    assert r.load.requests == 3000
    assert r.load.errors == 0
    assert r.workers_unchanged
    assert all(v > 50_000 for v in r.rss_warm_kib.values())  # real torch workers were read
    assert r.growth <= 0.10, (r.rss_warm_kib, r.rss_after_kib)


def test_64_slow_clients_hold_no_thread(server, kinds) -> None:
    """Slow bodies are read on the workers' event loops: /healthz and others never wait."""
    r = slow_clients(server, kinds, "tiny", count=64, dribble=6, probes=200, probe_concurrency=8)
    assert r.statuses == {200: 64}  # each is served once its body is complete
    assert r.healthz_ms and max(r.healthz_ms) < 1000
    assert r.during.requests == 200 and r.during.errors == 0
    assert r.probes_first  # every other request was answered while the slow bodies trickled
    assert r.during.max_ms < 1000


@pytest.fixture(scope="module")
def deadline_server(models: Path) -> Iterator[Running]:
    """The same server with a 3 s read deadline."""
    env = {**ENV, "GATECAST_READ_TIMEOUT": "3"}
    log = models.parent / "gunicorn-deadline.log"
    with gunicorn(models, log, env=env, ready_path="/readyz") as srv:
        yield srv


def test_clients_that_outlast_the_read_deadline_get_408(deadline_server, kinds) -> None:
    r = slow_clients(
        deadline_server, kinds, "tiny", count=32, dribble=8, probes=100, probe_concurrency=8
    )
    assert r.statuses == {408: 32}
    assert r.dribble_s < 8  # answered at the deadline (3 s, checked each second), not at the end
    assert r.healthz_ms and max(r.healthz_ms) < 1000
    assert r.during.errors == 0 and r.after.errors == 0


def test_a_sigkilled_worker_costs_only_its_own_connections(server, kinds) -> None:
    r = kill_worker(server, kinds, requests=1500, concurrency=32)
    assert r.mapped == r.connections >= 16 and r.held > 0
    assert r.replacement and r.replacement != r.killed_pid
    assert r.ok_after > 0
    assert r.outside == 0  # the other worker's clients lost nothing
    # Only the killed worker's connections lost requests, one in flight on each at most:
    # with the default shared socket, reconnects go to a live worker.
    assert 0 < r.failing_connections <= r.held
    assert r.failed <= r.held, r


def test_clients_that_retry_lose_nothing_when_a_worker_is_killed(server, kinds) -> None:
    (r,) = kill_runs(server, kinds, requests=1500, concurrency=32, retries=2, runs=1)
    assert r.held > 0 and r.failing_connections == 0 and r.failed == 0
    assert r.load.requests == 1500


def test_reuse_port_keeps_the_bound_with_tcp_migrate_req(models) -> None:
    """One socket per worker (GATECAST_REUSE_PORT=1) with the kernel moving a dying socket's
    queued connections: failed requests never exceed the connections the killed worker held."""
    if not netns_usable():
        pytest.skip("needs root and unshare to make a private network namespace")
    runs = in_private_netns(models, 1500, 32, 2, {**ENV, "GATECAST_REUSE_PORT": "1"})
    for r in runs:
        assert r.mapped == r.connections >= 16 and r.held > 0
        assert r.outside == 0 and r.ok_after > 0
        assert r.failed <= r.held, r


def test_a_version_trained_during_load_is_served_by_every_worker(
    server, kinds, models, sine_csv
) -> None:
    # The session's tiny model again: recursive, no seasonal input, so every load request fits.
    shape = flags(window=12, hidden=8, layers=2, epochs=2, horizon=2, decoder="recursive", season=1)
    train = train_command(sine_csv, "tiny", models, shape)
    r = swap(server, kinds, models, train, "tiny", 1.0, requests=30000, concurrency=16)
    assert r.new != r.old and r.new == list_checkpoints(models)["tiny"][-1].stem
    assert r.load.errors == 0 and r.load.requests > 0
    assert set(r.per_worker_s) == set(server.worker_pids()) and all(r.owners.values())
    # one poll interval, plus loading and warming up the new file on a busy machine
    assert r.slowest_s <= 1.0 + 4.0, r.per_worker_s
    assert all(d is not None and d > 0 for d in r.per_worker_s.values())
