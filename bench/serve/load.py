"""The benchmark's load generators: ApacheBench (preferred) or a bounded Python client.

Both send a fixed number of requests, never "as many as fit in N seconds", so every run
does the same work and a slow run shows up as a lower rate, not as fewer samples.

Why ab: it is C and single-threaded, so on a 2-core machine it takes far less CPU from the
server than a Python client would (whose threads also contend for the GIL); it keeps
connections alive (-k), stops after exactly -n requests, and its -e file gives latency
percentiles to the microsecond. It calls a response "failed" when its length differs from
the first one's; batched forecasts may differ from lone ones in a float's last digit, so
run_ab counts only broken connections and non-2xx answers.
"""

import http.client
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bench.http_client import HOST, request


@dataclass(frozen=True)
class Result:
    """One load run."""

    requests: int
    failed: int
    rps: float
    p50_ms: float
    p99_ms: float


# url, requests, concurrency, POST body (None: GET) -> one run's figures
Runner = Callable[[str, int, int, bytes | None], Result]


def have_ab() -> bool:
    """Whether ApacheBench is installed (Debian: apt-get install apache2-utils)."""
    return shutil.which("ab") is not None


def run_ab(url: str, n: int, c: int, body: bytes | None) -> Result:
    """ab -k (keep-alive) with n requests at concurrency c; percentiles from its -e CSV,
    which gives them in milliseconds with three decimals (the text summary rounds to 1 ms)."""
    with tempfile.TemporaryDirectory(prefix="gatecast-ab-") as tmp:
        pct = Path(tmp) / "percentiles.csv"
        cmd = ["ab", "-k", "-q", "-n", str(n), "-c", str(c), "-e", str(pct)]
        if body is not None:
            payload = Path(tmp) / "body.json"
            payload.write_bytes(body)
            cmd += ["-p", str(payload), "-T", "application/json"]
        out = subprocess.run([*cmd, url], check=True, capture_output=True, text=True).stdout
        rows = dict(line.split(",", 1) for line in pct.read_text().splitlines()[1:] if "," in line)

    def field(pattern: str) -> float:
        found = re.search(pattern, out)
        return float(found.group(1)) if found else 0.0

    # "Length" failures are responses of another length than the first (see the docstring).
    broken = sum(field(rf"{kind}: (\d+)") for kind in ("Connect", "Receive", "Exceptions"))
    failed = broken + field(r"Non-2xx responses:\s+(\d+)")
    return Result(
        requests=int(field(r"Complete requests:\s+(\d+)")),
        failed=int(failed),
        rps=field(r"Requests per second:\s+([\d.]+)"),
        p50_ms=float(rows["50"]),
        p99_ms=float(rows["99"]),
    )


def run_python(url: str, n: int, c: int, body: bytes | None) -> Result:
    """c threads with keep-alive connections share n requests. It competes with the server
    for the GIL-free cores less well than ab, so its rates are lower: a fallback only."""
    return run_python_bodies(url, n, c, [body])


def run_python_bodies(url: str, n: int, c: int, bodies: Sequence[bytes | None]) -> Result:
    """run_python, request k sending bodies[k % len(bodies)] (None: GET), so that each
    request can differ from the last (ab sends one body)."""
    parts = urlsplit(url)
    host, port, path = parts.hostname or HOST, parts.port or 80, parts.path or "/"
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    sent = [0]

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        while True:
            with lock:
                if sent[0] == n:
                    break
                body = bodies[sent[0] % len(bodies)]
                sent[0] += 1
            method = "POST" if body is not None else "GET"
            start = time.perf_counter()
            try:
                ok = request(port, method, path, body, conn=conn).status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=60)
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                failures[0] += not ok
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(c)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return Result(
        len(latencies), failures[0], len(latencies) / wall, cuts[49] * 1e3, cuts[98] * 1e3
    )
