"""Serving speed: real gunicorn (2 workers) driven by ApacheBench, fixed request counts.

    python -m bench.serve                      # trains (or reuses) the model, writes
                                               # bench/results/serve.md
    python -m bench.serve --requests 500       # a quicker, noisier run

Cases: GET /healthz; POST /forecast with one 64-step sequence and internals none, last and
all; a batch of 32 such sequences with internals none and all; the one sequence and the
batch of 32 again through the Open Inference Protocol's POST /v2/models/<name>/infer,
asking for `forecast` only (internals none). Each at concurrency 1 and 8,
after a warm-up. Targets: (1) forecast/none reaches half the /healthz rate, (2) internals
"all" has p50 < 10 ms at concurrency 1, (3) a batch of 32 costs < 4x one sequence (p50 at
concurrency 1, internals none).

Then, when KServe's virtual environment exists (--kserve-python), /healthz and /forecast
(internals none) next to KServe's ModelServer on the same checkpoint at concurrency 1, 8
and 32, with the targets (K) of bench/serve/peer.py.
"""

import argparse
import datetime as dt
import json
import math
import os
import platform
import random
import statistics
import sys
import tempfile
from pathlib import Path

from bench.common import REPO
from bench.serve import peer
from bench.serve.load import Result, Runner, have_ab, run_ab, run_python
from bench.serve.model import ensure_model, forward_time_us
from bench.server import Running, gunicorn

HEALTH = "healthz"


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="python -m bench.serve",
        description="Benchmark the gatecast HTTP service under real gunicorn.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help="where the benchmark model lives, reused when its shape matches; "
        "omitted: a fresh temporary folder, trained into",
    )
    p.add_argument("--name", default="serve-bench", help="model name")
    p.add_argument("--window", type=int, default=64, help="sequence length (and training window)")
    p.add_argument("--hidden", type=int, default=64, help="LSTM units per layer")
    p.add_argument("--layers", type=int, default=2, help="LSTM layers")
    p.add_argument("--epochs", type=int, default=2, help="training epochs (speed, not accuracy)")
    p.add_argument("--batch", type=int, default=32, help="sequences in the batch cases")
    p.add_argument(
        "--requests",
        type=int,
        default=2000,
        help="requests per light case (healthz, single sequences, batch/none)",
    )
    p.add_argument(
        "--heavy-requests",
        type=int,
        default=300,
        help="requests for the batch/all case (its responses are ~17 MB each)",
    )
    p.add_argument("--warmup", type=int, default=50, help="unmeasured requests before each case")
    p.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs per case and concurrency; the report shows the median run "
        "(a shared machine's noise moves single runs a lot)",
    )
    p.add_argument("--concurrency", default="1,8", help="comma-separated concurrency levels")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    p.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    p.add_argument(
        "--client",
        choices=("auto", "ab", "python"),
        default="auto",
        help="load generator: ApacheBench (apt-get install apache2-utils) or the "
        "bounded Python client; auto prefers ab",
    )
    p.add_argument(
        "--kserve-python",
        type=Path,
        default=peer.DEFAULT_PYTHON,
        help="KServe's virtual environment's python, for the peer comparison "
        "(skipped when it does not exist)",
    )
    p.add_argument(
        "--peer-concurrency",
        default="1,8,32",
        help="comma-separated concurrency levels of the KServe comparison",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=REPO / "bench" / "results" / "serve.md",
        help="markdown report to write",
    )
    return p


def bodies(window: int, batch: int, name: str) -> dict[str, tuple[str, bytes | None]]:
    """The path and request body of each case (None: GET). The v2 cases send the same
    values to the Open Inference Protocol's /infer, asking for the forecast only."""
    rng = random.Random(1)

    def seq() -> list[float]:
        return [round(100 + 10 * math.sin(k / 3) + rng.gauss(0, 1), 3) for k in range(window)]

    one, many = seq(), [seq() for _ in range(batch)]
    out: dict[str, tuple[str, bytes | None]] = {HEALTH: (f"/{HEALTH}", None)}
    for mode in ("none", "last", "all"):
        body = {"model": name, "sequence": one, "internals": mode}
        out[mode] = ("/forecast", json.dumps(body).encode())
    for mode in ("none", "all"):
        body = {"model": name, "sequences": many, "internals": mode}
        out[f"batch{batch}-{mode}"] = ("/forecast", json.dumps(body).encode())
    for case, rows in (("v2-none", [one]), (f"v2-batch{batch}-none", many)):
        tensor = {"name": "observations", "datatype": "FP32", "shape": [len(rows), window]}
        infer = {"inputs": [{**tensor, "data": rows}], "outputs": [{"name": "forecast"}]}
        out[case] = (f"/v2/models/{name}/infer", json.dumps(infer).encode())
    return out


def load_average() -> str:
    """1-minute load average: this machine may be shared, and it moves the numbers."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "n/a"


def busy(loads: tuple[str, str], cores: int) -> bool:
    """Whether the load average says other work competed for the CPUs."""
    return any(v != "n/a" and float(v) > cores for v in loads)


def targets(results: dict[tuple[str, int], Result], batch: int) -> list[tuple[str, bool, str]]:
    """The three target checks: (what, passed, the figures behind it)."""
    checks = []
    levels = sorted({c for _, c in results})
    for c in levels:
        none, health = results[("none", c)].rps, results[(HEALTH, c)].rps
        checks.append(
            (
                f"(1) /forecast none >= 0.5x /healthz throughput, c={c}",
                none >= 0.5 * health,
                f"{none:.0f} vs {health:.0f} req/s = {none / health:.2f}x",
            )
        )
    p50 = results[("all", 1)].p50_ms
    checks.append(("(2) internals all p50 < 10 ms at c=1", p50 < 10, f"p50 {p50:.2f} ms"))
    for mode in ("none", "all"):
        single, many = results[(mode, 1)].p50_ms, results[(f"batch{batch}-{mode}", 1)].p50_ms
        label = f"(3) batch of {batch} < 4x one sequence, internals {mode}, p50 at c=1"
        if mode == "all":
            label += " (informational: 32x the output to serialize)"
        checks.append(
            (label, many < 4 * single, f"{many:.2f} vs {single:.2f} ms = {many / single:.2f}x")
        )
    return checks


def report(
    results: dict[tuple[str, int], Result],
    args: argparse.Namespace,
    client: str,
    loads: tuple[str, str],
    forward_us: float,
    peer_lines: list[str],
) -> str:
    """The markdown report."""
    import torch

    lines = [
        "# Serving benchmark (python -m bench.serve)",
        "",
        f"- date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
        f"- machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}, torch {torch.__version__}",
        f"- load average (1 min) before / after: {loads[0]} / {loads[1]}",
        f"- server: gunicorn gthread, {args.workers} workers x {args.threads} threads, "
        "1 torch thread per worker, JSON access log on",
        f"- model: window {args.window}, hidden {args.hidden}, {args.layers} layers; "
        f"sequences of {args.window} values; batch cases {args.batch} sequences",
        f"- client: {client} with keep-alive; {args.requests} requests per case "
        f"({args.heavy_requests} for batch/all) after {args.warmup} warm-up requests; "
        f"each figure is the median of {args.repeat} runs",
        *(
            [
                "- note: load average above the core count: other processes shared the CPUs "
                "during this run, so figures are noisy lower bounds; rerun on a quiet machine",
            ]
            if busy(loads, os.cpu_count() or 1)
            else []
        ),
        "",
        "| case | concurrency | requests | failed | req/s | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for (case, c), r in results.items():
        lines.append(
            f"| {case} | {c} | {r.requests} | {r.failed} | {r.rps:.1f} | "
            f"{r.p50_ms:.2f} | {r.p99_ms:.2f} |"
        )
    lines += ["", "## Targets", ""]
    for what, ok, detail in targets(results, args.batch):
        lines.append(f"- {'PASS' if ok else 'FAIL'} {what}: {detail}")
    health_us = 1e6 / results[(HEALTH, 1)].rps
    none_us = 1e6 / results[("none", 1)].rps
    lines += [
        "",
        "## Where the time goes (concurrency 1)",
        "",
        f"- one /healthz round trip: {health_us:.0f} us (HTTP, gunicorn, Flask, request id, "
        "access log, metrics)",
        f"- one /forecast none round trip: {none_us:.0f} us",
        f"- the model's forward alone, same input, in this process: {forward_us:.0f} us",
        f"- so /forecast none can reach at most {health_us / (health_us + forward_us):.2f}x "
        "the /healthz rate even if nothing else cost anything; the remaining "
        f"{none_us - health_us - forward_us:.0f} us are the request body, validation, tensors "
        "and serialization, and the model running colder between requests than in a tight loop",
        *peer_lines,
    ]
    return "\n".join(lines) + "\n"


def median_run(runs: list[Result]) -> Result:
    """The median of repeated runs, field by field; requests and failures are summed."""
    return Result(
        requests=sum(r.requests for r in runs),
        failed=sum(r.failed for r in runs),
        rps=statistics.median(r.rps for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
    )


def measure_case(
    args: argparse.Namespace, run: Runner, url: str, body: bytes | None, c: int, n: int
) -> Result:
    """One case at one concurrency: warm-up, then the median of `repeat` runs of n requests."""
    run(url, max(args.warmup, c), c, body)  # warm-up, not recorded
    return median_run([run(url, n, c, body) for _ in range(args.repeat)])


def measure(
    args: argparse.Namespace, url: str, run: Runner, levels: list[int]
) -> dict[tuple[str, int], Result]:
    """Every case at every concurrency: warm-up, then `repeat` fixed-count runs."""
    results: dict[tuple[str, int], Result] = {}
    for case, (path, body) in bodies(args.window, args.batch, args.name).items():
        target = f"{url}{path}"
        n = args.heavy_requests if case == f"batch{args.batch}-all" else args.requests
        for c in levels:
            results[(case, c)] = r = measure_case(args, run, target, body, c, n)
            print(
                f"{case:>14} c={c}: {r.rps:8.1f} req/s  p50 {r.p50_ms:7.2f} ms  "
                f"p99 {r.p99_ms:7.2f} ms  failed {r.failed}",
                file=sys.stderr,
            )
    return results


def compare_kserve(
    args: argparse.Namespace,
    gatecast: Running,
    run: Runner,
    model_dir: Path,
    tmp: Path,
    env: dict[str, str],
) -> tuple[peer.Results | None, list[str]]:
    """The KServe and batching-off comparison and its report section; skipped without
    KServe's environment."""
    python = args.kserve_python
    if not python.exists():
        print(f"KServe comparison skipped: {python} not found", file=sys.stderr)
        return None, peer.section(None, None, "", 0, f"{python} not found ({peer.SETUP})")
    from model.export import list_checkpoints

    checkpoint = list_checkpoints(model_dir)[args.name][-1]
    sequence = json.loads(bodies(args.window, args.batch, args.name)["none"][1] or b"")["sequence"]
    levels = sorted({int(c) for c in args.peer_concurrency.split(",")})

    def measure_one(url: str, body: bytes | None, c: int) -> Result:
        return measure_case(args, run, url, body, c, args.requests)

    log = tmp / "kserve.log"
    off = {**env, "GATECAST_BATCH_MAX": "0"}
    try:
        with (
            peer.kserve_server(python, checkpoint, args.name, args.workers, log) as kserve_url,
            gunicorn(model_dir, tmp / "unbatched.log", env=off, ready_path="/readyz") as unbatched,
        ):
            results, batches, spreads = peer.compare(
                measure_one,
                gatecast.url,
                unbatched.url,
                kserve_url,
                args.name,
                sequence,
                levels,
                gatecast.connections,
            )
    except RuntimeError as err:  # gatecast's figures still get their report
        print(err, file=sys.stderr)
        skipped = "KServe did not start (its log is printed above)"
        return None, peer.section(None, None, "", 0, skipped)
    version = peer.kserve_version(python)
    return results, peer.section(results, batches, version, args.workers, spreads=spreads)


def main(argv: list[str] | None = None) -> int:
    """Run every case and write the report; exit 1 if a request failed, a target missed or
    KServe, where its environment exists, did not start."""
    args = build_parser().parse_args(argv)
    client = args.client
    if client == "auto":
        client = "ab" if have_ab() else "python"
    if client == "ab" and not have_ab():
        print("ab not found: apt-get install -y apache2-utils, or --client python", file=sys.stderr)
        return 2
    run: Runner = run_ab if client == "ab" else run_python
    levels = sorted({int(c) for c in args.concurrency.split(",")})
    if 1 not in levels:
        print("--concurrency must include 1 (targets 2 and 3 are measured there)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="gatecast-bench-") as tmp:
        model_dir = args.model_dir or Path(tmp) / "models"
        ensure_model(model_dir, args.name, args.window, args.hidden, args.layers, args.epochs)
        forward_us = forward_time_us(model_dir, args.name, args.window)
        loads = [load_average()]
        env = {"GATECAST_WORKERS": str(args.workers), "GATECAST_THREADS": str(args.threads)}
        log = Path(tmp) / "gunicorn.log"
        with gunicorn(model_dir, log, env=env, ready_path="/readyz") as srv:
            results = measure(args, srv.url, run, levels)
            compared = compare_kserve(args, srv, run, model_dir, Path(tmp), env)
        loads.append(load_average())
    peer_results, peer_lines = compared
    text = report(results, args, client, (loads[0], loads[1]), forward_us, peer_lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    failed = any(r.failed for r in results.values())
    checks = targets(results, args.batch) + (peer.targets(peer_results) if peer_results else [])
    missed = any(not ok for what, ok, _ in checks if "informational" not in what)
    peer_failed = args.kserve_python.exists() and peer_results is None
    return 1 if failed or missed or peer_failed else 0
