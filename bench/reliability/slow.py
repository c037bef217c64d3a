"""Slow clients: requests whose body arrives one byte a second, and what other clients see.

gunicorn's gthread worker reads a request in one of its GATECAST_THREADS threads, with a
blocking socket and no deadline for the body; its main thread keeps accepting connections
and heartbeating, so a slow body holds one thread, not the worker. A worker is blocked only
when every one of its threads is held; then its other requests wait in its queue.
"""

import functools
import http.client
import json
import socket
import threading
import time
from dataclasses import dataclass

from bench.common import wait_until
from bench.http_client import HOST
from bench.reliability.load import Figures, Kind, run_load
from bench.reliability.proc import connection_owners, workers_ready
from bench.server import Running


class SlowClient(threading.Thread):
    """POST /forecast: headers at once, then the body's last `dribble` bytes one per `interval`."""

    def __init__(
        self, port: int, body: bytes, dribble: int, interval: float = 1.0, timeout: float = 300
    ) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.port = int(self.sock.getsockname()[1])
        cut = max(0, len(body) - dribble)
        head = (
            "POST /forecast HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.sock.sendall(head + body[:cut])
        self.tail, self.interval = body[cut:], interval
        self.status, self.error, self.ended = 0, "", 0.0

    def run(self) -> None:
        """Send the rest byte by byte, then read the answer."""
        try:
            for byte in self.tail:
                time.sleep(self.interval)
                self.sock.sendall(bytes([byte]))
            reply = http.client.HTTPResponse(self.sock)
            reply.begin()
            reply.read()
            self.status = reply.status
        except (OSError, http.client.HTTPException) as err:
            self.error = f"{type(err).__name__}: {err}"
        finally:
            self.ended = time.monotonic()
            self.sock.close()


@dataclass(frozen=True)
class Slowed:
    """Other clients' requests before, during and after `slow_clients` slow bodies."""

    slow_clients: int
    dribble_s: float  # how long each slow client took to send its body
    slow_ok: int  # slow clients that got a 200 in the end
    held: dict[int, int]  # slow connections per worker pid
    threads: int
    blocked_workers: int  # workers holding at least `threads` slow connections
    remaining_s: float  # dribble time left when the probes started
    baseline: Figures  # probes before any slow client
    during: Figures  # probes while the slow clients were sending
    probes_first: bool  # the probes all ended before the first slow client did
    after: Figures  # probes once the slow clients were done


def slow_body(model: str) -> bytes:
    """A small valid request."""
    body = {"model": model, "sequence": [1.0, 2.0, 3.0, 4.0], "internals": "none"}
    return json.dumps(body).encode()


def slow_clients(
    srv: Running,
    kinds: list[Kind],
    model: str,
    threads: int,
    *,
    count: int,
    until_blocked: bool,
    dribble: int,
    probes: int,
    probe_concurrency: int,
    interval: float = 1.0,
) -> Slowed:
    """Connect `count` slow clients (or, with until_blocked, as many as it takes for every
    worker to hold `threads` of them, at most 4x threads x workers), then send probes."""
    pids = sorted(workers_ready(srv))
    body = slow_body(model)
    baseline = run_load(srv.port, kinds, probes, probe_concurrency)
    clients: list[SlowClient] = []
    held: dict[int, int] = dict.fromkeys(pids, 0)
    owners: dict[int, int] = {}  # client port -> worker pid

    def accepted(port: int) -> bool:
        owners.update(connection_owners(srv.port, pids))
        return port in owners

    cap = 4 * threads * len(pids) if until_blocked else count
    while len(clients) < cap:
        client = SlowClient(srv.port, body, dribble, interval)
        clients.append(client)
        wait_until(functools.partial(accepted, client.port), timeout=10)
        held = {p: sum(owners.get(c.port) == p for c in clients) for p in pids}
        if until_blocked and all(n >= threads for n in held.values()):
            break
    started = time.monotonic()
    for client in clients:
        client.start()
    wait = len(clients[0].tail) * interval + 60
    probes_start = time.monotonic()
    during = run_load(srv.port, kinds, probes, probe_concurrency, timeout=wait)
    probes_end = time.monotonic()
    for client in clients:
        client.join(wait)
    first_end = min(c.ended or time.monotonic() for c in clients)
    after = run_load(srv.port, kinds, probes, probe_concurrency)
    return Slowed(
        slow_clients=len(clients),
        dribble_s=max(c.ended for c in clients) - started,
        slow_ok=sum(c.status == 200 for c in clients),
        held=held,
        threads=threads,
        blocked_workers=sum(n >= threads for n in held.values()),
        remaining_s=len(clients[0].tail) * interval - (probes_start - started),
        baseline=baseline,
        during=during,
        probes_first=probes_end < first_end,
        after=after,
    )
