"""gatecast next to KServe's ModelServer on the same checkpoint, in the same benchmark run.

KServe runs from its own virtual environment (kserve_peer.py, never a gatecast
dependency); without it the comparison is skipped and the report says so. Paired cases,
each at every concurrency, alternating between the two servers so that a shared machine's
load moves both alike: gatecast GET /healthz and KServe GET /v2/health/live; gatecast POST
/forecast (one sequence, internals none) and KServe POST /v1/models/<name>:predict with the
same values; and gatecast's /forecast again on a second gunicorn with batching off
(GATECAST_BATCH_MAX=0), for the batching targets. The batching server's /metrics, read
before and after each of its /forecast cases, gives the batch sizes it formed and its
model-call time per request; /proc, sampled during those cases, how its workers shared the
client's connections.
"""

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.http_client import HOST, request
from bench.serve.load import Result
from bench.server import free_port, stop

DEFAULT_PYTHON = Path("/tmp/kserve-venv/bin/python")
SERVER_SCRIPT = Path(__file__).with_name("kserve_peer.py")
SETUP = "python3 -m venv /tmp/kserve-venv; its pip: install torch==2.13.0, then kserve"
STARTED = "Application startup complete"  # uvicorn's line, once per worker process
# (case, server) pairs in the order they run and appear in the table
CASES = (
    ("health", "gatecast"),
    ("health", "kserve"),
    ("forecast", "gatecast"),
    ("forecast", "unbatched"),
    ("forecast", "kserve"),
)
HEADINGS = {
    ("health", "gatecast"): "gatecast `/healthz`",
    ("health", "kserve"): "KServe `/v2/health/live`",
    ("forecast", "gatecast"): "gatecast `/forecast` (internals none)",
    ("forecast", "unbatched"): "gatecast `/forecast`, batching off",
    ("forecast", "kserve"): "KServe `:predict`",
}
BATCH_METRICS = (
    "gatecast_batch_requests",
    "gatecast_batch_call_seconds",
    "gatecast_batch_queue_seconds",
)

# url, body (None: GET), concurrency -> the figures of one case (warm-up, repeated runs)
Measure = Callable[[str, bytes | None, int], Result]
Results = dict[tuple[str, str, int], Result]
# a Prometheus histogram: its cumulative bucket counts by upper bound, its _sum and _count
Histogram = tuple[dict[str, float], float, float]
# per concurrency: what the batching server's histograms gained during its /forecast case
Batches = dict[int, dict[str, Histogram]]
# the batching server's established connections per worker (pid -> count), read from /proc
Spread = Callable[[], dict[int, int]]
SPREAD_EVERY = 0.1  # seconds between samples of the connections per worker


def histograms(port: int) -> dict[str, Histogram]:
    """The batching histograms from gatecast's /metrics, summed over label sets."""
    text = request(port, "GET", "/metrics", timeout=10).body.decode()
    found: dict[str, Histogram] = {}
    for name in BATCH_METRICS:
        buckets: dict[str, float] = {}
        for le, value in re.findall(rf'^{name}_bucket{{.*?le="([^"]+)".*?}} (\S+)$', text, re.M):
            buckets[le] = buckets.get(le, 0.0) + float(value)
        total = sum(float(v) for v in re.findall(rf"^{name}_sum(?:{{.*}})? (\S+)$", text, re.M))
        count = sum(float(v) for v in re.findall(rf"^{name}_count(?:{{.*}})? (\S+)$", text, re.M))
        found[name] = (buckets, total, count)
    return found


def gained(before: dict[str, Histogram], after: dict[str, Histogram]) -> dict[str, Histogram]:
    """What each histogram recorded between two readings."""
    out: dict[str, Histogram] = {}
    for name, (buckets, total, count) in after.items():
        old_buckets, old_total, old_count = before[name]
        diff = {le: v - old_buckets.get(le, 0.0) for le, v in buckets.items()}
        out[name] = (diff, total - old_total, count - old_count)
    return out


def kserve_version(python: Path) -> str:
    """The kserve package's version in its environment."""
    code = "import importlib.metadata as m; print(m.version('kserve'))"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    return out.stdout.strip() or "unknown"


@contextmanager
def kserve_server(
    python: Path, checkpoint: Path, name: str, workers: int, log: Path, timeout: float = 180
) -> Iterator[str]:
    """KServe serving `checkpoint` as `name` on a free loopback port; yields its base URL
    once every worker process has started and the model answers ready. Bounded waits."""
    port = free_port()
    cmd = [str(python), str(SERVER_SCRIPT), str(checkpoint), name, str(port), str(workers)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while not ready(port, name, log, workers):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"KServe did not become ready:\n{tail}")
            time.sleep(0.5)
        yield f"http://{HOST}:{port}"
    finally:
        stop(proc)


def ready(port: int, name: str, log: Path, workers: int) -> bool:
    """Whether all `workers` processes have started and the model says it is ready."""
    if log.read_text(errors="replace").count(STARTED) < workers:
        return False
    try:
        reply = request(port, "GET", f"/v1/models/{name}", timeout=5)
    except OSError:
        return False
    return reply.status == 200 and bool(reply.json().get("ready"))


def targets_of(
    gatecast_url: str, unbatched_url: str, kserve_url: str, name: str, sequence: list[float]
) -> dict[tuple[str, str], tuple[str, bytes | None]]:
    """Each (case, server): its URL and body; the same values go to both servers."""
    forecast = json.dumps({"model": name, "sequence": sequence, "internals": "none"}).encode()
    predict = json.dumps({"instances": [sequence]}).encode()
    return {
        ("health", "gatecast"): (f"{gatecast_url}/healthz", None),
        ("health", "kserve"): (f"{kserve_url}/v2/health/live", None),
        ("forecast", "gatecast"): (f"{gatecast_url}/forecast", forecast),
        ("forecast", "unbatched"): (f"{unbatched_url}/forecast", forecast),
        ("forecast", "kserve"): (f"{kserve_url}/v1/models/{name}:predict", predict),
    }


@contextmanager
def fullest(spread: Spread) -> Iterator[list[int]]:
    """Samples the connections per worker while the block runs; yields a list that ends up
    holding the counts (largest first) of the sample with the most connections."""
    best: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(SPREAD_EVERY):
            counts = sorted(spread().values(), reverse=True)
            if sum(counts) > sum(best):
                best[:] = counts

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield best
    finally:
        done.set()
        sampler.join()


def compare(
    measure: Measure,
    gatecast_url: str,
    unbatched_url: str,
    kserve_url: str,
    name: str,
    sequence: list[float],
    levels: list[int],
    spread: Spread,
) -> tuple[Results, Batches, dict[int, list[int]]]:
    """Every paired case at every concurrency, the servers alternating; and the batches the
    batching server formed, and how its workers shared the connections, in each of its
    /forecast cases."""
    urls = targets_of(gatecast_url, unbatched_url, kserve_url, name, sequence)
    port = int(gatecast_url.rsplit(":", 1)[1])
    results: Results = {}
    batches: Batches = {}
    spreads: dict[int, list[int]] = {}
    for c in levels:
        for case, server in CASES:
            url, body = urls[(case, server)]
            if (case, server) != ("forecast", "gatecast"):
                results[(case, server, c)] = r = measure(url, body, c)
            else:
                before = histograms(port)
                with fullest(spread) as spreads[c]:
                    results[(case, server, c)] = r = measure(url, body, c)
                batches[c] = gained(before, histograms(port))
            print(
                f"{server:>9} {case:>8} c={c}: {r.rps:8.1f} req/s  p50 {r.p50_ms:7.2f} ms  "
                f"p99 {r.p99_ms:7.2f} ms  failed {r.failed}",
                file=sys.stderr,
            )
    return results, batches, spreads


def targets(results: Results) -> list[tuple[str, bool, str]]:
    """gatecast's /forecast at least as fast as KServe's predict (throughput and p99) at
    every concurrency; at c=8 at least 0.6x gatecast's own /healthz; batching costs at most
    10% of p50 at c=1 and doubles throughput at c=32."""
    checks = []
    levels = sorted({c for _, _, c in results})
    for c in levels:
        ours, theirs = results[("forecast", "gatecast", c)], results[("forecast", "kserve", c)]
        ok = ours.rps >= theirs.rps and ours.p99_ms <= theirs.p99_ms
        checks.append(
            (
                f"(K) /forecast none >= KServe predict on req/s and p99, c={c}",
                ok,
                f"{ours.rps:.0f} vs {theirs.rps:.0f} req/s, p99 {ours.p99_ms:.2f} vs "
                f"{theirs.p99_ms:.2f} ms",
            )
        )
    if 8 in levels:
        ours8 = results[("forecast", "gatecast", 8)].rps
        health8 = results[("health", "gatecast", 8)].rps
        checks.append(
            (
                "(K) /forecast none >= 0.6x /healthz throughput, c=8",
                ours8 >= 0.6 * health8,
                f"{ours8:.0f} vs {health8:.0f} req/s = {ours8 / health8:.2f}x",
            )
        )
    if 1 in levels:
        on, off = results[("forecast", "gatecast", 1)], results[("forecast", "unbatched", 1)]
        checks.append(
            (
                "(B) batching on: p50 at most 1.1x batching off, c=1",
                on.p50_ms <= 1.1 * off.p50_ms,
                f"{on.p50_ms:.2f} vs {off.p50_ms:.2f} ms = {on.p50_ms / off.p50_ms:.2f}x",
            )
        )
    if 32 in levels:
        on, off = results[("forecast", "gatecast", 32)], results[("forecast", "unbatched", 32)]
        checks.append(
            (
                "(B) batching on: throughput at least 2x batching off, c=32",
                on.rps >= 2 * off.rps,
                f"{on.rps:.0f} vs {off.rps:.0f} req/s = {on.rps / off.rps:.2f}x",
            )
        )
    return checks


def batch_lines(batches: Batches, spreads: dict[int, list[int]]) -> list[str]:
    """The batch-size distribution, model-call time per request and connections per worker,
    per concurrency."""
    sizes = [le for le in batches[min(batches)]["gatecast_batch_requests"][0] if le != "+Inf"]
    lines = [
        "",
        "Batches the batching server formed during its /forecast cases (warm-up included): "
        "the share of model calls that ran for at most n requests, and the model-call time "
        "per request (call time summed over requests served), and the client's connections "
        "held by each worker at the fullest sample.",
        "",
        "| c | calls | "
        + " | ".join(f"<= {float(le):g}" for le in sizes)
        + " | mean requests/call | model time per request | mean queue wait "
        + "| connections per worker |",
        "|---:|---:|" + "---:|" * (len(sizes) + 4),
    ]
    for c, got in sorted(batches.items()):
        buckets, _, calls = got["gatecast_batch_requests"]
        served = got["gatecast_batch_requests"][1]
        call_s = got["gatecast_batch_call_seconds"][1]
        _, wait_s, waits = got["gatecast_batch_queue_seconds"]
        split = " / ".join(str(n) for n in spreads.get(c, [])) or "-"
        if not calls:
            lines.append(f"| {c} | 0 |" + " |" * (len(sizes) + 3) + f" {split} |")
            continue
        shares = " | ".join(f"{buckets[le] / calls:.0%}" for le in sizes)
        lines.append(
            f"| {c} | {calls:,.0f} | {shares} | {served / calls:.2f} | "
            f"{call_s / served * 1e6:,.0f} us | {wait_s / max(waits, 1) * 1e6:,.0f} us | "
            f"{split} |"
        )
    return lines


def cell(r: Result) -> str:
    """One table cell: throughput, p50 and p99 (and failures, if any)."""
    text = f"{r.rps:,.0f} req/s, p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms"
    return text + (f", {r.failed} failed" if r.failed else "")


def section(
    results: Results | None,
    batches: Batches | None,
    version: str,
    workers: int,
    skipped: str = "",
    spreads: dict[int, list[int]] | None = None,
) -> list[str]:
    """The report's comparison section: the table, the batches and the targets, or why it
    was skipped."""
    lines = ["", "## Next to KServe (same checkpoint, same run)", ""]
    if results is None:
        return [*lines, f"- skipped: {skipped}"]
    lines += [
        f"- KServe {version} `ModelServer` (uvicorn, FastAPI), {workers} worker processes, "
        "REST only, its default logging (an access line and a latency line per request); a "
        "custom `kserve.Model` whose synchronous predict() calls the TorchScript module's "
        "forward on each worker's event loop (bench/serve/kserve_peer.py), 1 torch thread "
        "per worker",
        "- gatecast as above (batching on, its defaults), and a second gatecast gunicorn with "
        "GATECAST_BATCH_MAX=0 (batching off); the servers alternate case by case, same "
        "client, same request counts",
        "",
        "| c | " + " | ".join(HEADINGS[k] for k in CASES) + " |",
        "|---:|" + "---:|" * len(CASES),
    ]
    for c in sorted({c for _, _, c in results}):
        row = " | ".join(cell(results[(case, server, c)]) for case, server in CASES)
        lines.append(f"| {c} | {row} |")
    if batches:
        lines += batch_lines(batches, spreads or {})
    lines.append("")
    for what, ok, detail in targets(results):
        lines.append(f"- {'PASS' if ok else 'FAIL'} {what}: {detail}")
    return lines
