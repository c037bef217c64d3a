"""The soak scenario: a long mixed load while new versions arrive and workers are SIGKILLed.

Keep-alive clients send, for the whole run, a mix of every request kind: internals all,
last and none; single sequences and batches; intervals; requests pinned to the 2nd and 3rd
newest loaded versions (taken from /models again at every memory reading, as new versions
arrive and old ones leave); and streams that send each chunk with the state the previous
answer returned (load.py). Every `train_every` seconds the training command writes a new
version into the served folder, in a thread, so the load goes on; every `kill_every` seconds
the worker holding the most client connections is SIGKILLed (kill.py), and the failures on
the connections it held from the kill on are told apart from all others. Each worker's RSS
is read every `rss_every` seconds; a replacement worker starts a series of its own.
"""

import contextlib
import http.client
import json
import math
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import run_train
from bench.http_client import request
from bench.reliability.kill import Shot, kill_busiest, replacement
from bench.reliability.load import (
    BATCH,
    Figures,
    Kind,
    LoadRun,
    Sample,
    figures,
    mixed_kinds,
    series,
)
from bench.reliability.proc import connection_owners, status_kib, workers_ready
from bench.reliability.runner import step
from bench.server import Running
from model.export import list_checkpoints

PINNED = 2  # older versions pinned at once: the 2nd and 3rd newest loaded
SERVE_GRACE = 15.0  # seconds beyond a poll interval for every worker to serve a new version
TRAIN_TIMEOUT = 600.0


@dataclass(frozen=True)
class Plan:
    """How long a soak runs, at what concurrency, and how often each event comes."""

    seconds: float
    concurrency: int
    train_every: float
    kill_every: float
    rss_every: float
    warmup: float  # seconds a worker serves before its RSS baseline is taken
    poll: float  # GATECAST_POLL_SECONDS
    reconnect_every: int  # requests a client sends on a connection before opening a new one


@dataclass(frozen=True)
class Kill:
    """One worker SIGKILLed during the soak."""

    at_s: float  # since the load started
    pid: int
    held: int  # client connections it held
    in_flight: int  # of those, with a request sent and not answered at the kill
    failed: int  # failed requests on those connections, from the kill on
    replacement: int  # the worker gunicorn started instead (0: none within 120 s)
    replaced_s: float  # from the kill until the replacement was listed


@dataclass(frozen=True)
class Training:
    """One run of the training command into the served folder during the soak."""

    started_s: float  # since the load started
    seconds: float
    version: str  # the version it wrote ("" when it failed)
    published_s: float  # when the checkpoint was renamed into place (nan when it failed)
    error: str


@dataclass
class Rss:
    """One worker's resident memory over its life, as (seconds since the load began, KiB)."""

    pid: int
    born_s: float  # first seen (0 for the workers serving when the load began)
    serving_s: float | None = None  # first seen holding a client connection: it had booted
    points: list[tuple[float, int]] = field(default_factory=list)
    killed: bool = False  # by the soak
    alive: bool = True  # at the end

    def baseline(self, warmup: float) -> tuple[float, int] | None:
        """The first reading after `warmup` seconds of serving (None: it never got there)."""
        if self.serving_s is None:
            return None
        return next(((t, k) for t, k in self.points if t >= self.serving_s + warmup), None)

    def growth(self, warmup: float) -> float | None:
        """Relative growth from the baseline to the last reading (None: no later reading)."""
        base = self.baseline(warmup)
        if base is None or self.points[-1][0] <= base[0]:
            return None
        return self.points[-1][1] / base[1] - 1


@dataclass(frozen=True)
class Minute:
    """One minute of the soak: its requests and the RSS of each worker at its end (KiB)."""

    index: int
    load: Figures
    failed: int
    rss: dict[int, int]


@dataclass(frozen=True)
class Served:
    """Answers given by one version."""

    answers: int
    first_s: float  # the first answer's end, since the load started


@dataclass(frozen=True)
class Soak:
    """Everything a soak measured."""

    plan: Plan
    load: Figures
    kinds: dict[str, tuple[int, int]]  # kind -> (requests, failed)
    stateful: int  # requests that sent a state returned by an earlier answer
    pinned: int  # requests pinned to an older version
    failed_killed: int  # failed on a killed worker's own connections, from its kill on
    failed_other: int  # every other failed request (target 0)
    other_errors: tuple[str, ...]  # the distinct errors of those, each with its count
    minutes: list[Minute]
    kills: list[Kill]
    trainings: list[Training]
    rss: list[Rss]
    initial: tuple[str, ...]  # versions in the folder when the load began
    served: dict[str, Served]

    def trained_versions_due(self) -> list[str]:
        """Versions trained early enough that every worker should have served them."""
        last = self.load.seconds - self.plan.poll - SERVE_GRACE
        return [t.version for t in self.trainings if t.version and t.published_s <= last]

    def unasked_exits(self) -> list[int]:
        """Workers that ended without being killed by the soak."""
        return [r.pid for r in self.rss if not r.alive and not r.killed]


def loaded_versions(models: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The loaded versions of one model from GET /models's list, newest first."""
    info = next(m for m in models if m["name"] == name)
    return [v for v in info["versions"] if v["status"] == "loaded"]


def stream_kinds(models: list[dict[str, Any]], name: str) -> list[Kind]:
    """Streams: a first chunk of the window, then chunks sent with the returned state."""
    latest = loaded_versions(models, name)[0]
    window = int(latest["window"] or 12)
    chunk = max(int(latest["min_history"] or 0), 12)  # fewer is refused (one season back)
    single: dict[str, Any] = {"model": name, "internals": "last", "return_state": True}
    batch: dict[str, Any] = {
        "model": name,
        "internals": "none",
        "interval": 0.9,
        "horizon": 3,
        "return_state": True,
    }
    return [
        Kind(
            f"{name}/stream/last/point/single",
            json.dumps({**single, "sequence": series(window, 0.5)}).encode(),
            json.dumps({**single, "sequence": series(chunk, 1.5)}).encode(),
        ),
        Kind(
            f"{name}/stream/none/interval/batch{BATCH}",
            json.dumps({**batch, "sequences": [series(window, k) for k in range(BATCH)]}).encode(),
            json.dumps(
                {**batch, "sequences": [series(chunk, k + 1) for k in range(BATCH)]}
            ).encode(),
        ),
    ]


def pinned_kinds(models: list[dict[str, Any]], name: str) -> list[Kind]:
    """Requests pinned to the 2nd and 3rd newest loaded versions (the oldest there is, if
    fewer): older than the default one, and kept for several trainings more."""
    loaded = loaded_versions(models, name)
    window = int(loaded[0]["window"] or 12)
    kinds = []
    for rank in range(1, PINNED + 1):
        version = loaded[min(rank, len(loaded) - 1)]["version"]
        label = f"{name}/pinned {rank + 1}. newest"
        one = {"model": name, "version": version, "internals": "last"}
        many = {"model": name, "version": version, "internals": "all", "interval": 0.9}
        batch = [series(window - k, k) for k in range(BATCH)]
        kinds += [
            Kind(
                f"{label}/last/point/single",
                json.dumps({**one, "sequence": series(window, 0.5)}).encode(),
            ),
            Kind(
                f"{label}/all/interval/batch{BATCH}",
                json.dumps({**many, "sequences": batch, "horizon": 3}).encode(),
            ),
        ]
    return kinds


class Trainer:
    """Runs the training command in threads and records each run. A run starts when it is
    due, even if the one before is still going (on a busy machine one can take longer than
    the interval): two runs write two versions, each stamped when it is saved."""

    def __init__(
        self, command: list[str], root: Path, name: str, started: float, wall: float
    ) -> None:
        self.command, self.root, self.name = command, root, name
        self.started, self.wall = started, wall  # the load's start: monotonic and wall clock
        self.runs: list[Training] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start a run."""
        thread = threading.Thread(target=self._train, daemon=True)
        thread.start()
        self._threads.append(thread)

    def join(self, timeout: float) -> None:
        """Wait for the runs still going (bounded)."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _train(self) -> None:
        begin = time.monotonic()
        started_s = begin - self.started
        try:
            written = path_written(run_train(self.command, timeout=TRAIN_TIMEOUT).stdout)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as err:
            tail = getattr(err, "stderr", None) or b""
            last = tail.decode(errors="replace").strip().splitlines()[-1:]
            error = f"{type(err).__name__}: {' '.join(last) or err}"
            self.runs.append(Training(started_s, time.monotonic() - begin, "", math.nan, error))
            return
        published = written.stat().st_ctime - self.wall  # the rename is its last status change
        self.runs.append(Training(started_s, time.monotonic() - begin, written.stem, published, ""))


def path_written(stdout: bytes) -> Path:
    """The checkpoint a training run wrote, from its "checkpoint: PATH" line (OSError when
    it printed none)."""
    for line in stdout.decode(errors="replace").splitlines():
        if line.startswith("checkpoint: "):
            return Path(line.removeprefix("checkpoint: ").strip())
    raise FileNotFoundError("training printed no checkpoint path")


def read_rss(srv: Running, rss: dict[int, Rss], now: float) -> None:
    """One reading of every worker's RSS; a worker not seen before starts a series, and one
    seen holding a client connection for the first time is serving from now on."""
    pids = srv.worker_pids()
    holders = set(connection_owners(srv.port, pids).values())
    for pid in pids:
        kib = status_kib(pid)
        r = rss.setdefault(pid, Rss(pid, now))
        if r.serving_s is None and pid in holders:
            r.serving_s = now
        if kib:  # 0: it ended since it was listed
            r.points.append((now, kib))
    for pid, r in rss.items():
        r.alive = pid in pids


def kill_one(srv: Running, run: LoadRun, rss: dict[int, Rss], started: float) -> Shot:
    """SIGKILL the busiest worker (read everyone's RSS just before); mark its series."""
    workers_ready(srv)
    read_rss(srv, rss, time.monotonic() - started)
    shot = kill_busiest(srv, run, freeze=True)  # clients reconnect all the time
    rss[shot.pid].killed = True
    return shot


def refresh_pins(srv: Running, run: LoadRun, fixed: list[Kind], name: str) -> None:
    """Pin the pinned kinds to the versions /models lists now (unchanged if it fails)."""
    with contextlib.suppress(OSError, http.client.HTTPException, KeyError, StopIteration):
        reply = request(srv.port, "GET", "/models", timeout=30)
        if reply.status == 200:
            run.kinds = fixed + pinned_kinds(reply.json()["models"], name)


def soak(srv: Running, root: Path, name: str, train: list[str], plan: Plan) -> Soak:
    """Load model `name` for plan.seconds, training it again and killing on schedule."""
    models = request(srv.port, "GET", "/models").json()["models"]
    fixed = mixed_kinds(models) + stream_kinds(models, name)
    initial = tuple(p.stem for p in list_checkpoints(root)[name])
    workers_ready(srv)
    # One shared pool that never runs dry: the run ends by stop(), after plan.seconds.
    run = LoadRun(
        srv.port,
        fixed + pinned_kinds(models, name),
        2**62,
        plan.concurrency,
        shared=True,
        reconnect_every=plan.reconnect_every,
    )
    run.start()
    started, wall = run.started, time.time() - (time.monotonic() - run.started)
    trainer = Trainer(train, root, name, started, wall)
    rss = {pid: Rss(pid, 0.0, serving_s=0.0) for pid in srv.worker_pids()}  # all answered
    shots: list[tuple[Shot, int, float]] = []  # each kill, its replacement and delay
    due_read, due_train, due_kill = 0.0, plan.train_every, plan.kill_every
    while (now := time.monotonic() - started) < plan.seconds:
        if now >= due_read:
            read_rss(srv, rss, now)
            refresh_pins(srv, run, fixed, name)
            due_read += plan.rss_every
        if now >= due_train:
            step(f"training a new version at {now:.0f} s")
            trainer.start()
            due_train += plan.train_every
        if now >= due_kill:
            shot = kill_one(srv, run, rss, started)
            step(f"killed worker {shot.pid} at {shot.at - started:.0f} s")
            new, replaced_s = replacement(srv, shot)
            shots.append((shot, new, replaced_s))
            if new:
                rss.setdefault(new, Rss(new, time.monotonic() - started))
            due_kill += plan.kill_every
        time.sleep(0.2)
    run.stop()
    samples = run.join(timeout=600)
    read_rss(srv, rss, time.monotonic() - started)
    trainer.join(TRAIN_TIMEOUT)
    load = figures(samples, run.finished - run.started)
    names = [k.name for k in run.kinds]
    failed = [s for s in samples if s.status != 200]
    lost = [s for s in failed if any(shot.lost(s) for shot, _, _ in shots)]
    other = [s for s in failed if not any(shot.lost(s) for shot, _, _ in shots)]
    kills = [
        Kill(
            at_s=shot.at - started,
            pid=shot.pid,
            held=len(shot.held),
            in_flight=sum(shot.lost(s) and s.start <= shot.at for s in samples),
            failed=sum(shot.lost(s) for s in failed),
            replacement=new,
            replaced_s=replaced_s,
        )
        for shot, new, replaced_s in shots
    ]
    per_kind: dict[str, tuple[int, int]] = {n: (0, 0) for n in names}
    for s in samples:
        n, f = per_kind[names[s.kind]]
        per_kind[names[s.kind]] = (n + 1, f + (s.status != 200))
    served: dict[str, Served] = {}
    for s in sorted((s for s in samples if s.status == 200), key=lambda s: s.end):
        seen = served.get(s.version)
        count = seen.answers if seen else 0
        served[s.version] = Served(count + 1, seen.first_s if seen else s.end - started)
    return Soak(
        plan=plan,
        load=load,
        kinds=per_kind,
        stateful=sum(s.stateful for s in samples),
        pinned=sum("/pinned " in names[s.kind] for s in samples),
        failed_killed=len(lost),
        failed_other=len(other),
        other_errors=tuple(
            f"{e} x{n}" for e, n in sorted(Counter(s.error.split(":")[0] for s in other).items())
        ),
        minutes=by_minute(samples, started, load.seconds, list(rss.values())),
        kills=kills,
        trainings=sorted(trainer.runs, key=lambda t: t.started_s),
        rss=sorted(rss.values(), key=lambda r: (r.born_s, r.pid)),
        initial=initial,
        served=served,
    )


def by_minute(
    samples: list[Sample], started: float, seconds: float, rss: list[Rss]
) -> list[Minute]:
    """Requests, latency and failures per minute, with each worker's last RSS reading in it."""
    buckets: dict[int, list[Sample]] = {}
    for s in samples:
        buckets.setdefault(int((s.end - started) // 60), []).append(s)
    minutes = []
    for i in sorted(buckets):
        span = max(1e-9, min(60.0, seconds - 60 * i))
        last = {
            r.pid: k for r in rss for t, k in r.points if 60 * i <= t < 60 * (i + 1)
        }  # later readings overwrite earlier ones
        failed = sum(s.status != 200 for s in buckets[i])
        minutes.append(Minute(i, figures(buckets[i], span), failed, last))
    return minutes
