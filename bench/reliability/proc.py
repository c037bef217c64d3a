"""What the reliability scenarios read from /proc (Linux): memory and who holds a connection.

Connections are mapped to gunicorn workers through the kernel's own tables: the server side
of each loopback TCP connection in /proc/net/tcp gives a socket inode, and the worker whose
/proc/<pid>/fd holds that inode owns the connection. Keep-alive connections stay on one
worker, so every response on a connection comes from its owner.
"""

import http.client
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from bench.common import wait_until
from bench.http_client import HOST, request


class Server(Protocol):
    """What these helpers need of bench.server.Running."""

    port: int

    def worker_pids(self) -> set[int]:
        """The gunicorn workers."""


def status_kib(pid: int) -> int:
    """Resident memory (VmRSS of /proc/<pid>/status) in KiB (0 if the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pss_kib(pid: int) -> int:
    """Proportional set size in KiB from /proc/<pid>/smaps_rollup (0 if unreadable)."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def _server_side_inodes(server_port: int, tables: Iterable[str]) -> dict[int, int]:
    """Socket inode -> client port, for connections whose local end is server_port."""
    found: dict[int, int] = {}
    for table in tables:
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            local, remote, inode = cols[1], cols[2], int(cols[9])
            lport, rport = int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16)
            if lport == server_port and rport != 0 and inode != 0:
                found[inode] = rport
    return found


def connection_owners(server_port: int, pids: Iterable[int]) -> dict[int, int]:
    """Client port -> worker pid, for every accepted connection to server_port."""
    inodes = _server_side_inodes(server_port, ("/proc/net/tcp", "/proc/net/tcp6"))
    owners: dict[int, int] = {}
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                port = inodes.get(int(link[8:-1]))
                if port is not None:
                    owners[port] = pid
    return owners


def owners_of(
    server_port: int, pids: Iterable[int], client_ports: Callable[[], Iterable[int]]
) -> dict[int, int]:
    """Client port -> worker pid, once every open client connection (port 0: none open yet)
    is seen on a worker, or after 60 s with what was seen."""
    owners: dict[int, int] = {}

    def mapped() -> bool:
        owners.update(connection_owners(server_port, pids))
        return all(port in owners for port in client_ports() if port)

    wait_until(mapped, timeout=60)
    return owners


def workers_ready(srv: Server, workers: int = 2, timeout: float = 120) -> set[int]:
    """Wait until `workers` workers run and each has answered on a connection it accepted
    (a replacement worker is listed at once but serves only once its app is loaded)."""
    deadline = time.monotonic() + timeout
    answered: set[int] = set()
    while time.monotonic() < deadline:
        pids = srv.worker_pids()
        if len(pids) >= workers and pids <= answered:
            return pids
        conn = http.client.HTTPConnection(HOST, srv.port, timeout=30)
        try:
            conn.connect()
            port = conn.sock.getsockname()[1]
            request(srv.port, "GET", "/healthz", conn=conn)
            owner = connection_owners(srv.port, pids).get(port)
            if owner is not None:
                answered.add(owner)
        except (OSError, http.client.HTTPException):
            time.sleep(0.1)
        finally:
            conn.close()
    raise TimeoutError(f"not every worker answered within {timeout} s")
