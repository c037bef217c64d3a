"""Start the real gunicorn (gunicorn -c gunicorn.conf.py) on a free loopback port, for the
benchmarks and the tests.

    with gunicorn(model_dir, tmp_path / "gunicorn.log", env={"GATECAST_API_KEYS": "k"}) as srv:
        assert request(srv.port, "GET", "/healthz").status == 200

Every wait is bounded; the server is stopped (SIGTERM, then SIGKILL) however the block ends,
and on Linux it also gets SIGTERM if the thread that started it dies (a killed test run), so
start it from a thread that outlives the block (the main thread, as fixtures are).
"""

import ctypes
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import REPO, wait_until
from bench.http_client import HOST, request
from bench.reliability.proc import connection_owners


def free_port() -> int:
    """A loopback port nobody listens on (the OS picks it)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
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

    def connections(self) -> dict[int, int]:
        """Client connections held by each worker (0 for one holding none), from /proc."""
        pids = self.worker_pids()
        held = Counter(connection_owners(self.port, pids).values())
        return {pid: held[pid] for pid in pids}

    def log_text(self) -> str:
        """Everything gunicorn and the app wrote so far (stdout and stderr)."""
        return self.log.read_text(errors="replace")


def server_env(model_dir: Path, port: int, overrides: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without GATECAST_* settings, plus the caller's own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GATECAST_") and k != "PROMETHEUS_MULTIPROC_DIR"
    }
    env.update(
        GATECAST_BIND=f"{HOST}:{port}",
        GATECAST_MODEL_DIR=str(model_dir),
        GATECAST_WORKERS="2",
        GATECAST_POLL_SECONDS="0",
    )
    env.update(overrides)
    return env


def wait_for(
    port: int, path: str, proc: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    """Until GET path answers 200; AssertionError with the log if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"gunicorn exited early:\n{log.read_text(errors='replace')}")
        try:
            if request(port, "GET", path, timeout=5).status == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{path} not 200 in {timeout} s:\n{log.read_text(errors='replace')}")


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
        wait_for(port, ready_path, proc, log, timeout)
        srv = Running(f"http://{HOST}:{port}", port, proc, log)
        wanted = int(settings["GATECAST_WORKERS"])
        # Every worker forked (the one that answered may be the first).
        wait_until(lambda: len(srv.worker_pids()) >= wanted, timeout=30, step=0.1)
        srv.workers = srv.worker_pids()
        yield srv
    finally:
        stop(proc)
