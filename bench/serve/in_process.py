"""The app's own cost per request, in process: no sockets, no gunicorn, no load generator.

    python -m bench.serve.in_process --model-dir DIR             # us per request
    python -m bench.serve.in_process --model-dir DIR --profile forecast

Calls the Flask app's WSGI entry with a prebuilt environ, as gunicorn's worker would, for
GET /healthz and POST /forecast (one sequence, internals none), with the access log on
(written to /dev/null) and Prometheus in its multiprocess mode, as under gunicorn. Reports
the fastest of several timed blocks (other processes on a shared machine only slow blocks
down), or a cProfile of one case. DIR holds a model as bench.serve trains it.
"""

import argparse
import contextlib
import io
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bench.serve.model import ensure_model

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench.serve.in_process", description=__doc__)
    p.add_argument("--model-dir", type=Path, required=True, help="model folder (trained into)")
    p.add_argument("--name", default="serve-bench", help="model name")
    p.add_argument("--window", type=int, default=64, help="sequence length")
    p.add_argument("--requests", type=int, default=2000, help="requests per timed block")
    p.add_argument("--blocks", type=int, default=7, help="timed blocks per case")
    p.add_argument("--profile", choices=("healthz", "forecast"), help="cProfile one case")
    return p


def environ(method: str, path: str, body: bytes | None) -> dict[str, Any]:
    """A WSGI environ like gunicorn's for a keep-alive request from ab."""
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "ApacheBench/2.3",
        "HTTP_ACCEPT": "*/*",
        "HTTP_CONNECTION": "Keep-Alive",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.input": io.BytesIO(body or b""),
    }
    if body is not None:
        env["CONTENT_TYPE"] = "application/json"
        env["CONTENT_LENGTH"] = str(len(body))
    return env


def caller(app: WsgiApp, method: str, path: str, body: bytes | None) -> Callable[[], None]:
    """One request through the app; raises unless it answers 200."""
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.append(status)

    def call() -> None:
        out = app(environ(method, path, body), start_response)
        b"".join(out)
        close = getattr(out, "close", None)
        if close is not None:
            close()
        if statuses.pop() != "200 OK":
            raise RuntimeError(f"{method} {path} did not answer 200")

    return call


def fastest_block(call: Callable[[], None], requests: int, blocks: int) -> float:
    """Microseconds per request of the fastest block (after a warm-up block)."""
    times = []
    for _ in range(blocks + 1):
        start = time.perf_counter()
        for _ in range(requests):
            call()
        times.append((time.perf_counter() - start) / requests * 1e6)
    return min(times[1:])


def profile(call: Callable[[], None], requests: int) -> None:
    """cProfile of `requests` calls after a warm-up, by cumulative time, to stdout."""
    import cProfile
    import pstats

    for _ in range(200):
        call()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(requests):
        call()
    prof.disable()
    pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats(40)


def main(argv: list[str] | None = None) -> int:
    """Time (or profile) /healthz and /forecast in process."""
    args = build_parser().parse_args(argv)
    ensure_model(args.model_dir, args.name, args.window, 64, 2, 2)
    # Before prometheus_client is imported: its multiprocess mode, as under gunicorn.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gatecast-in-process-")
    from service import create_app
    from service.config import ServiceConfig

    app = create_app(ServiceConfig(model_dir=str(args.model_dir), poll_seconds=0))
    sequence = [round(100 + 10 * math.sin(k / 3), 3) for k in range(args.window)]
    body = json.dumps({"model": args.name, "sequence": sequence, "internals": "none"}).encode()
    cases = {
        "healthz": caller(app.wsgi_app, "GET", "/healthz", None),
        "forecast": caller(app.wsgi_app, "POST", "/forecast", body),
    }
    # The access log goes where gunicorn's stderr would, here nowhere.
    with open(os.devnull, "w") as devnull, contextlib.redirect_stderr(devnull):
        if args.profile:
            profile(cases[args.profile], args.requests)
            return 0
        for name, call in cases.items():
            us = fastest_block(call, args.requests, args.blocks)
            print(f"{name:>9}: {us:7.1f} us per request ({1e6 / us:,.0f} requests/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
