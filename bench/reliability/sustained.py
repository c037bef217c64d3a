"""Sustained mixed load: errors, and each worker's memory after warm-up and after the run."""

from dataclasses import dataclass

from bench.reliability.load import Figures, Kind, run_load
from bench.reliability.proc import pss_kib, status_kib, workers_ready
from bench.server import Running


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
    unchanged = sorted(srv.worker_pids()) == pids
    return Sustained(load, warmup, len(kinds), rss_warm, rss_after, pss_warm, pss_after, unchanged)
