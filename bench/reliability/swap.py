"""A new version trained into the served folder while the service is under load, and how
long each worker takes to serve it."""

import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import run_train, wait_until
from bench.reliability.load import Figures, Kind, LoadRun, Sample, figures
from bench.reliability.proc import owners_of, workers_ready
from bench.server import Running
from model.export import list_checkpoints


@dataclass(frozen=True)
class Swapped:
    """A new version written by the training command while the service is under load."""

    load: Figures
    poll_seconds: float
    old: str
    new: str
    train_s: float
    per_worker_s: dict[int, float | None]  # rename -> first response with `new`, per worker
    owners: dict[int, int]  # client connections per worker during the run

    @property
    def slowest_s(self) -> float:
        """The last worker's delay (inf when one never served the new version)."""
        return max((v if v is not None else float("inf")) for v in self.per_worker_s.values())


def started_load(
    srv: Running, kinds: list[Kind], requests: int, concurrency: int, pids: list[int]
) -> tuple[LoadRun, dict[int, int]]:
    """A load run under way, and the worker pid of each of its client ports."""
    run = LoadRun(srv.port, kinds, requests, concurrency, shared=True).start()
    wait_until(lambda: run.completed() >= 4 * concurrency, timeout=120)
    return run, owners_of(srv.port, pids, lambda: run.ports)


def swap(
    srv: Running,
    kinds: list[Kind],
    model_dir: Path,
    train: list[str],
    name: str,
    poll_seconds: float,
    requests: int,
    concurrency: int,
) -> Swapped:
    """Train `name` again during a load run; time each worker's switch to the new version.

    The load is `requests` at most; it stops once every worker has answered with the new
    version for a few polls more, or when that has not happened long after training ended.
    """
    old = list_checkpoints(model_dir)[name][-1].stem
    workers_ready(srv)
    pids = sorted(srv.worker_pids())
    # The kernel may hand every connection of a run to one worker, which would leave the
    # others unobserved: the load starts again until its connections reach every worker.
    for attempt in range(5):
        run, owners = started_load(srv, kinds, requests, concurrency, pids)
        if set(owners.values()) >= set(pids) or attempt == 4:
            break
        run.stop()
        run.join(timeout=60)
    ports = list(run.ports)
    start = time.monotonic()
    run_train(train, timeout=600)
    train_s = time.monotonic() - start
    newest = list_checkpoints(model_dir)[name][-1]
    renamed = newest.stat().st_ctime  # the rename is the file's last status change

    def by_worker(samples: list[Sample]) -> dict[int, float | None]:
        firsts: dict[int, float | None] = dict.fromkeys(pids)
        for s in samples:
            pid = owners.get(ports[s.thread])
            if s.version == newest.stem and pid is not None:
                seen = firsts[pid]
                firsts[pid] = s.wall - renamed if seen is None else min(seen, s.wall - renamed)
        return firsts

    def everywhere() -> bool:
        return all(v is not None for v in by_worker(run.results()).values())

    wait_until(everywhere, timeout=poll_seconds + 60, step=0.1)
    time.sleep(min(poll_seconds, 2.0))  # a little more load after the switch
    run.stop()
    samples = run.join(timeout=600)
    per_worker = by_worker(samples)
    counts = {p: sum(o == p for o in owners.values()) for p in pids}
    load = figures(samples, run.finished - run.started)
    return Swapped(load, poll_seconds, old, newest.stem, train_s, per_worker, counts)
