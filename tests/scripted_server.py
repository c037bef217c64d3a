"""A real HTTP server on loopback that answers from a script, for the client's tests.

    script = [Scripted(503, UNAVAILABLE, {"Retry-After": "1"}), Scripted(200, ANSWER)]
    with ScriptedServer(script) as srv:
        Client(srv.url).forecast([1.0, 2.0])
    assert len(srv.received) == 2

Request k gets script entry k (the last one once the script runs out). A real socket
server (http.server), so the client's own connection handling, retries and timeouts run.
"""

import contextlib
import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from bench.http_client import HOST
from bench.server import free_port


@dataclass(frozen=True)
class Scripted:
    """One answer: status, a JSON body (bytes are sent as they are), extra headers; `delay`
    seconds before it, or `drop` the connection without answering."""

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False


@dataclass(frozen=True)
class Received:
    """One request as it arrived: method, path, headers, JSON body and arrival time."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float  # time.monotonic()


class ScriptedServer:
    """ThreadingHTTPServer on `port` (a free one by default), started by start() or `with`."""

    def __init__(self, script: Sequence[Scripted], port: int | None = None) -> None:
        self.script = list(script)
        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.httpd: ThreadingHTTPServer | None = None

    def start(self) -> None:
        """Listen and answer in a background thread."""
        self.httpd = ThreadingHTTPServer((HOST, self.port), handler_for(self))
        self.httpd.daemon_threads = True  # a delayed answer must not hold up stop()
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop listening."""
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        """Record the request, then answer it with the next script entry."""
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in handler.headers.items()}
        got = Received(
            handler.command,
            handler.path,
            headers,
            json.loads(raw) if raw else None,
            time.monotonic(),
        )
        with self.lock:
            step = self.script[min(len(self.received), len(self.script) - 1)]
            self.received.append(got)
        time.sleep(step.delay)
        if step.drop:
            handler.close_connection = True
            return
        raw_body = isinstance(step.body, bytes)
        data = step.body if raw_body else json.dumps(step.body).encode()
        # A client that timed out has gone: its answer has nowhere to go.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            handler.send_response(step.status)
            handler.send_header("Content-Type", "text/html" if raw_body else "application/json")
            handler.send_header("Content-Length", str(len(data)))
            for name, value in step.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)

    def __enter__(self) -> Self:
        """Started."""
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """Stopped."""
        self.stop()


def handler_for(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    """A request handler class that hands every GET and POST to `server`."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the service speaks

        def do_GET(self) -> None:
            server.answer(self)

        def do_POST(self) -> None:
            server.answer(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet test output

    return Handler


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The service's error body."""
    return {"error": {"code": code, "message": message, "field": field}}


def forecast_body(forecast: list[float] | list[list[float]], **extra: Any) -> dict[str, Any]:
    """A /forecast answer of a model "fake" with the given forecast and any other fields."""
    first = forecast[0] if forecast else None
    batch = isinstance(first, list)
    horizon = len(first) if isinstance(first, list) else len(forecast)
    context = {"first_step": 0, "steps": 3}
    body = {
        "id": None,
        "model": "fake",
        "version": "v1",
        "horizon": horizon,
        "forecast": forecast,
        "context": [context] * len(forecast) if batch else context,
    }
    body.update(extra)
    return body
