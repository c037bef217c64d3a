"""The costliest requests the default limits allow, and pinned versions, on the real gunicorn.

    python -m bench.reliability.limits            # writes bench/results/limits.md
    python -m bench.reliability.limits --dry-run  # smaller bodies, prints only

1. The worst request of each internals mode within the default limits (2 MiB body, 256
   sequences, 4096 values each, 4M internals values), each alone on a 1-worker server:
   time, and the worker's peak RSS (VmHWM, reset through /proc/<pid>/clear_refs first).
2. Eight of them at once (3 none, 3 last, 2 all) on the default 2 workers x 4 threads,
   while /healthz is timed every 0.2 s: every answer, each worker's peak RSS, the slowest
   /healthz, and whether the same workers are alive at the end.
3. Requests pinned to the kept versions in turn against unpinned ones, at concurrency 6:
   loading a version is paid at the scan, never by a request.
"""

import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.checkpoints import publish
from bench.common import AIRLINE, REPO, command, machine, option, parser, run_train, table
from bench.common import train_command as train_cmd
from bench.http_client import request
from bench.reliability.proc import status_kib, workers_ready
from bench.reliability.slow import time_healthz
from bench.server import Running, gunicorn
from model.export import list_checkpoints
from service.config import ServiceConfig

MODEL = "airline"
PROG = "bench.reliability.limits"
DEFAULTS = ServiceConfig()


@dataclass(frozen=True)
class Worst:
    """One of the costliest requests: what it asks for and its body."""

    mode: str
    shape: str  # sequences x values
    body: bytes


@dataclass(frozen=True)
class Alone:
    """A worst request on its own: time, memory before and at peak, answer size."""

    worst: Worst
    status: int
    seconds: float
    rss_before_mib: float
    peak_mib: float
    answer_bytes: int


def values(n: int, offset: int) -> str:
    """n one-digit values, as compact as JSON numbers get (2 bytes each with the comma)."""
    return ",".join(str((offset + 3 * k) % 10) for k in range(n))


def worst_bodies(state: dict[str, Any], horizon: int, shrink: int) -> list[Worst]:
    """The costliest body of each internals mode under the default limits.

    none and last: max_batch sequences as long as the body limit allows, with one carried
    state, so the LSTM runs over every value (without a state it reads only the last
    `context`). all: as many steps as max_internals_values allows (768 values a step here).
    """
    common = f'"model":"{MODEL}","horizon":{horizon},"interval":0.9,"state":{json.dumps(state)}'
    batch = DEFAULTS.max_batch // shrink
    frame = len(f'{{{common},"internals":"last","sequences":[]}}')
    # A sequence of n one-digit values is 2n + 1 bytes with its brackets, plus a comma.
    room = DEFAULTS.max_body_bytes // shrink - frame
    length = min(DEFAULTS.max_sequence_length, (room + 1) // batch // 2 - 1)
    out: list[Worst] = []
    for mode in ("none", "last"):
        seqs = ",".join(f"[{values(length, i)}]" for i in range(batch))
        body = f'{{{common},"internals":"{mode}","sequences":[{seqs}]}}'.encode()
        assert len(body) <= DEFAULTS.max_body_bytes // shrink, len(body)
        out.append(Worst(mode, f"{batch} x {length}", body))
    per_step = 2 * 6 * 64
    steps = DEFAULTS.max_internals_values // per_step // shrink
    count = 4
    seqs = ",".join(f"[{values(steps // count, i)}]" for i in range(count))
    body = f'{{{common},"internals":"all","sequences":[{seqs}]}}'.encode()
    out.append(Worst("all", f"{count} x {steps // count}", body))
    return out


def clear_peak(pid: int) -> None:
    """Reset the process's peak RSS (VmHWM) to its current RSS."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_kib(pid: int) -> int:
    """Peak resident memory (VmHWM) in KiB since the last reset."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def alone(srv: Running, worst: Worst) -> Alone:
    """Send one worst request to a 1-worker server and measure it."""
    (pid,) = workers_ready(srv, workers=1)
    clear_peak(pid)
    before = status_kib(pid)
    start = time.perf_counter()
    reply = request(srv.port, "POST", "/forecast", worst.body, timeout=300)
    seconds = time.perf_counter() - start
    return Alone(worst, reply.status, seconds, before / 1024, peak_kib(pid) / 1024, len(reply.body))


@dataclass(frozen=True)
class AtOnce:
    """Eight worst requests at once on two workers."""

    statuses: list[int]
    seconds: float
    peak_mib: dict[int, float]  # per worker pid
    healthz_ms: list[float]
    survived: bool  # the same worker pids before and after


def at_once(srv: Running, worsts: list[Worst]) -> AtOnce:
    """Send the requests all at once while timing /healthz."""
    pids = workers_ready(srv, workers=2)
    for pid in pids:
        clear_peak(pid)
    health: list[float] = []
    done = threading.Event()

    def probe() -> None:
        while not done.is_set():
            health.extend(time_healthz(srv.port, time.monotonic() + 0.5))

    prober = threading.Thread(target=probe)
    prober.start()
    start = time.perf_counter()
    with ThreadPoolExecutor(len(worsts)) as pool:
        replies = list(
            pool.map(lambda w: request(srv.port, "POST", "/forecast", w.body, timeout=600), worsts)
        )
    seconds = time.perf_counter() - start
    done.set()
    prober.join()
    peaks = {pid: peak_kib(pid) / 1024 for pid in pids}
    return AtOnce([r.status for r in replies], seconds, peaks, health, srv.worker_pids() == pids)


@dataclass(frozen=True)
class Pinned:
    """Latency of requests pinned to the kept versions in turn, against unpinned ones."""

    versions: int
    unpinned_p50_ms: float
    pinned_p50_ms: float
    pinned_p99_ms: float
    models_p50_ms: float  # GET /models, while the pinned requests ran


def timed(call: Callable[[], int], count: int, concurrency: int) -> list[float]:
    """Latencies (ms) of `count` calls over `concurrency` threads; every one must be 200."""

    def one(_: int) -> float:
        start = time.perf_counter()
        status = call()
        assert status == 200, status
        return (time.perf_counter() - start) * 1000

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one, range(count)))


def pinned(srv: Running, count: int) -> Pinned:
    """Unpinned, then pinned in turn to every loaded version, at concurrency 6."""
    listing = request(srv.port, "GET", f"/models/{MODEL}").json()
    loaded = [v["version"] for v in listing["versions"] if v["status"] == "loaded"]
    seq = [float(100 + (k % 12)) for k in range(48)]

    def unpinned() -> int:
        return request(srv.port, "POST", "/forecast", {"model": MODEL, "sequence": seq}).status

    turn = iter(range(10**9))

    def pin() -> int:
        body = {"model": MODEL, "version": loaded[next(turn) % len(loaded)], "sequence": seq}
        return request(srv.port, "POST", "/forecast", body).status

    base = timed(unpinned, count, 6)
    models: list[float] = []
    stop = threading.Event()

    def poll_models() -> None:
        while not stop.is_set():
            models.extend(timed(lambda: request(srv.port, "GET", "/models").status, 1, 1))

    poller = threading.Thread(target=poll_models)
    poller.start()
    pins = sorted(timed(pin, count, 6))
    stop.set()
    poller.join()
    return Pinned(
        len(loaded),
        statistics.median(base),
        statistics.median(pins),
        pins[int(0.99 * (len(pins) - 1))],
        statistics.median(models),
    )


def report(alones: list[Alone], crowd: AtOnce, pins: Pinned, argv: list[str]) -> str:
    """The markdown report."""
    rows = [
        (
            a.worst.mode,
            a.worst.shape,
            f"{len(a.worst.body) / 2**20:.2f} MiB",
            a.status,
            f"{a.seconds:.2f} s",
            f"{a.rss_before_mib:.0f} MiB",
            f"{a.peak_mib:.0f} MiB (+{a.peak_mib - a.rss_before_mib:.0f})",
            f"{a.answer_bytes / 2**20:.2f} MiB",
        )
        for a in alones
    ]
    worst_health = max(crowd.healthz_ms, default=float("inf"))
    statuses = ", ".join(f"{crowd.statuses.count(s)} x {s}" for s in sorted(set(crowd.statuses)))
    peaks = ", ".join(f"{p:.0f} MiB" for p in crowd.peak_mib.values())
    return "\n".join(
        [
            f"# Costliest requests within the default limits ({command(PROG, argv)})",
            "",
            f"- {machine()}",
            f"- model: {MODEL} (2 layers x 64 units), default limits: body "
            f"{DEFAULTS.max_body_bytes // 2**20} MiB, {DEFAULTS.max_batch} sequences, "
            f"{DEFAULTS.max_sequence_length} values each, {DEFAULTS.max_internals_values:,} "
            "internals values",
            "",
            "## Each alone (1 worker)",
            "",
            table(
                (
                    "internals",
                    "sequences x values",
                    "body",
                    "status",
                    "time",
                    "RSS before",
                    "peak RSS",
                    "answer",
                ),
                rows,
            ),
            "",
            "## Eight at once (3 none, 3 last, 2 all; 2 workers x 4 threads)",
            "",
            table(
                (
                    "answers",
                    "all done in",
                    "peak RSS per worker",
                    "/healthz probes",
                    "slowest /healthz",
                    "workers survived",
                ),
                [
                    (
                        statuses,
                        f"{crowd.seconds:.1f} s",
                        peaks,
                        len(crowd.healthz_ms),
                        f"{worst_health:.0f} ms",
                        crowd.survived,
                    )
                ],
            ),
            "",
            "## Pinned versions (concurrency 6)",
            "",
            table(
                (
                    "loaded versions",
                    "unpinned p50",
                    "pinned in turn p50",
                    "pinned p99",
                    "GET /models p50 meanwhile",
                ),
                [
                    (
                        pins.versions,
                        f"{pins.unpinned_p50_ms:.1f} ms",
                        f"{pins.pinned_p50_ms:.1f} ms",
                        f"{pins.pinned_p99_ms:.1f} ms",
                        f"{pins.models_p50_ms:.1f} ms",
                    )
                ],
            ),
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Train the model, run the three parts, print and write the report; 1 on a failure."""
    p = parser("python -m bench.reliability.limits", __doc__)
    option(
        p,
        "--dry-run",
        False,
        "bodies 16x smaller and fewer requests, print only",
        action="store_true",
    )
    option(p, "--epochs", 10, "epochs of the model served")
    option(p, "--requests", 600, "requests per pinned/unpinned run")
    option(p, "--out", REPO / "bench" / "results" / "limits.md", "report to write")
    args = p.parse_args(argv)
    shrink = 16 if args.dry_run else 1
    with tempfile.TemporaryDirectory(prefix="gatecast-limits-") as name:
        root = Path(name) / "models"
        extra = ["--window", "24", "--epochs", str(args.epochs)]
        run_train(train_cmd(AIRLINE, MODEL, root, extra), timeout=900)
        first = list_checkpoints(root)[MODEL][-1]
        for _ in range(5):  # six versions: the newest five are kept loaded
            publish(first)
        with gunicorn(root, Path(name) / "one.log", env={"GATECAST_WORKERS": "1"}) as srv:
            answer = request(
                srv.port,
                "POST",
                "/forecast",
                {
                    "model": MODEL,
                    "sequence": [float(v) for v in values(48, 0).split(",")],
                    "return_state": True,
                },
            ).json()
            state = answer["state"]
            info = request(srv.port, "GET", f"/models/{MODEL}").json()
            horizon = info["versions"][0]["horizon"]
            worsts = worst_bodies(state, horizon, shrink)
            alones = [alone(srv, w) for w in worsts]
        with gunicorn(root, Path(name) / "two.log") as srv:
            crowd = at_once(srv, [worsts[0]] * 3 + [worsts[1]] * 3 + [worsts[2]] * 2)
            pins = pinned(srv, args.requests // shrink)
    text = report(alones, crowd, pins, argv if argv is not None else sys.argv[1:])
    print(text)
    if not args.dry_run:
        Path(args.out).write_text(text)
    ok = (
        all(a.status == 200 for a in alones)
        and crowd.statuses == [200] * 8
        and crowd.survived
        and max(crowd.healthz_ms, default=float("inf")) < 1000
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
