"""Serving scenarios against a running gunicorn: sustained load, and a new version under load.

Each function takes a started server (tests.server.Running), runs a bounded load and returns
its figures; the callers (bench/reliability.py, tests/test_load.py) judge them.
"""

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.reliability_client import Figures, Kind, LoadRun, Sample, figures, run_load
from bench.reliability_proc import (
    owners_of,
    pss_kib,
    status_kib,
    workers_ready,
)
from model.export import list_checkpoints
from tests.server import REPO, Running, wait_until


@dataclass(frozen=True)
class Sustained:
    """A long mixed run: errors and each worker's memory after warm-up and after the run."""

    load: Figures
    warmup: int
    kinds: int
    rss_warm_kib: dict[int, int]
    rss_after_kib: dict[int, int]
    pss_warm_kib: dict[int, int]
    pss_after_kib: dict[int, int]
    workers_unchanged: bool  # no worker died or was replaced during the run

    @property
    def growth(self) -> float:
        """The largest relative RSS growth of a worker, after the run versus after warm-up."""
        return max(self.rss_after_kib[p] / self.rss_warm_kib[p] - 1 for p in self.rss_warm_kib)


def sustained(
    srv: Running, kinds: list[Kind], requests: int, concurrency: int, warmup: int
) -> Sustained:
    """Warm up with the same mix, read memory, run `requests`, read memory again."""
    pids = sorted(workers_ready(srv))
    run_load(srv.port, kinds, warmup, concurrency)
    rss_warm = {p: status_kib(p) for p in pids}
    pss_warm = {p: pss_kib(p) for p in pids}
    load = run_load(srv.port, kinds, requests, concurrency)
    rss_after = {p: status_kib(p) for p in pids}
    pss_after = {p: pss_kib(p) for p in pids}
    return Sustained(
        load, warmup, len(kinds), rss_warm, rss_after, pss_warm, pss_after,
        sorted(srv.worker_pids()) == pids,
    )  # fmt: skip


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


def train_command(data: Path, name: str, model_dir: Path, extra: list[str]) -> list[str]:
    """python -m scripts.train for one model into model_dir."""
    return [sys.executable, "-m", "scripts.train", "--data", str(data), "--name", name,
            "--model-dir", str(model_dir), "--quiet", *extra]  # fmt: skip


def repo_env() -> dict[str, str]:
    """This environment with the repository importable, for subprocesses run from it."""
    return {**os.environ, "PYTHONPATH": str(REPO)}


def run_train(cmd: list[str], timeout: float) -> None:
    """Run a train_command to its end from the repository root; raises if it fails."""
    subprocess.run(cmd, cwd=REPO, env=repo_env(), check=True, capture_output=True, timeout=timeout)


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
    run = LoadRun(srv.port, kinds, requests, concurrency, shared=True).start()
    wait_until(lambda: run.completed() >= 4 * concurrency, timeout=120)
    pids = sorted(srv.worker_pids())
    owners = owners_of(srv.port, pids, lambda: run.ports)
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
    return Swapped(
        figures(samples, run.finished - run.started), poll_seconds, old, newest.stem,
        train_s, per_worker, counts,
    )  # fmt: skip
