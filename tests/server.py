"""Start the real gunicorn (gunicorn -c gunicorn.conf.py) on a free loopback port, for tests.

    with gunicorn(model_dir, tmp_path / "gunicorn.log", env={"GATECAST_API_KEYS": "k"}) as srv:
        urllib.request.urlopen(srv.url + "/healthz")

Every wait is bounded; the server is stopped (SIGTERM, then SIGKILL) however the block ends,
and on Linux it also gets SIGTERM if the thread that started it dies (a killed test run), so
start it from a thread that outlives the block (the main thread, as fixtures are).
"""

import contextlib
import ctypes
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A loopback port nobody listens on (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Running:
    """A started gunicorn master: where it listens, its process and its log file."""

    url: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    workers: set[int] = field(default_factory=set)  # worker pids once it was ready

    def worker_pids(self) -> set[int]:
        """The master's child processes (its workers), from /proc (Linux)."""
        pid = self.proc.pid
        try:
            text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        except OSError:
            return set()
        return {int(p) for p in text.split()}

    def log_text(self) -> str:
        """Everything gunicorn and the app wrote so far (stdout and stderr)."""
        return self.log.read_text(errors="replace")

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        conn: http.client.HTTPConnection | None = None,
        key: str | None = None,
        timeout: float = 30,
    ) -> tuple[int, Any, dict[str, str]]:
        """One request with an optional JSON body and bearer key: status, parsed body, headers.

        The body is parsed as JSON when the response says so, else returned as text. Give
        `conn` to reuse a keep-alive connection (the caller closes it).
        """
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if data is not None else {}
            if key:
                headers["Authorization"] = f"Bearer {key}"
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            raw = r.read()
            ctype = r.getheader("Content-Type", "")
            parsed = json.loads(raw) if ctype.startswith("application/json") else raw.decode()
            return r.status, parsed, dict(r.getheaders())
        finally:
            if own:
                conn.close()


def wait_until(check: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    """Poll `check` until it is true or `timeout` seconds pass; returns the last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


def server_env(model_dir: Path, port: int, overrides: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without GATECAST_* settings, plus the test's own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GATECAST_") and k != "PROMETHEUS_MULTIPROC_DIR"
    }
    env.update(
        GATECAST_BIND=f"127.0.0.1:{port}",
        GATECAST_MODEL_DIR=str(model_dir),
        GATECAST_WORKERS="2",
        GATECAST_POLL_SECONDS="0",
    )
    env.update(overrides)
    return env


def wait_for(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    """Until GET url answers 200; AssertionError with the log if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"gunicorn exited early:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not 200 in {timeout} s:\n{log.read_text(errors='replace')}")


def _prctl() -> Any:
    """libc's prctl, looked up here in the parent (never dlopen in a forked child); or None."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: stop() alone
        return None


_PRCTL = _prctl()


def _die_with_parent() -> None:
    """In the child: SIGTERM when the starting thread dies, so no gunicorn outlives a killed run."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def stop(proc: subprocess.Popen[bytes], grace: float = 30) -> None:
    """SIGTERM (graceful), then SIGKILL if it hangs; bounded."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextmanager
def gunicorn(
    model_dir: Path,
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    ready_path: str = "/healthz",
    timeout: float = 120,
    prefix: Sequence[str] = (),
) -> Iterator[Running]:
    """gunicorn on a free port with GATECAST_* overrides (2 workers, no polling by default).

    Waits until `ready_path` answers 200 (use /readyz to also wait for a model). `prefix`
    is a wrapper command put before gunicorn's (e.g. setpriv dropping capabilities); it must
    exec gunicorn, so that the process started is the master.
    """
    port = free_port()
    settings = server_env(model_dir, port, env or {})
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=REPO,
            env=settings,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(url + ready_path, proc, log, timeout)
        srv = Running(url, port, proc, log)
        wanted = int(settings["GATECAST_WORKERS"])
        # Every worker forked (the one that answered may be the first).
        wait_until(lambda: len(srv.worker_pids()) >= wanted, timeout=30, step=0.1)
        srv.workers = srv.worker_pids()
        yield srv
    finally:
        stop(proc)


@dataclass
class Reply:
    """A raw HTTP response: status, headers (names lower-cased) and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def http_bytes(
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str | bytes] | None = None,
    content_type: str | None = "application/json",
) -> bytes:
    """One HTTP/1.1 request as bytes (Connection: close; Content-Length when there is a body)."""
    fields: dict[str, str | bytes] = {"Host": "127.0.0.1", "Connection": "close"}
    if content_type is not None:
        fields["Content-Type"] = content_type
    if body is not None:
        fields["Content-Length"] = str(len(body))
    fields.update(headers or {})
    head = f"{method} {path} HTTP/1.1\r\n".encode("latin-1")
    for name, value in fields.items():
        raw = value if isinstance(value, bytes) else value.encode("latin-1")
        head += name.encode("latin-1") + b": " + raw + b"\r\n"
    return head + b"\r\n" + (body or b"")


def exchange(port: int, data: bytes, timeout: float = 60) -> Reply:
    """Send raw bytes on a new connection and read the reply until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # The server may answer early (e.g. 413) and close: its reply is still read.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        chunks = []
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/1.1 "):
        raise AssertionError(f"not an HTTP response: {raw[:200]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Reply(int(lines[0].split()[1]), headers, body)
