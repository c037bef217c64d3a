"""Slow clients: requests whose body arrives a byte at a time, and what other clients see.

The service's worker (service/worker.py) reads every request whole on its event loop
before a thread takes it, under GATECAST_READ_TIMEOUT: a slow body holds a buffer, never a
thread. Here many slow clients connect at once, and other clients' /healthz and /forecast
requests are timed while they dribble; a slow client that outlasts the deadline gets 408.
"""

import http.client
import json
import select
import socket
import threading
import time
from dataclasses import dataclass

from bench.common import AIRLINE_TWO_YEARS, wait_until
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
                if select.select([self.sock], [], [], 0)[0]:
                    break  # the server answered early (408 past the read deadline)
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
    dribble_s: float  # how long the slow clients were connected
    statuses: dict[int, int]  # final status of the slow clients (0: no answer) -> count
    held: dict[int, int]  # slow connections per worker pid
    healthz_ms: list[float]  # /healthz latencies, one probe at a time, while they dribbled
    baseline: Figures  # probes before any slow client
    during: Figures  # probes while the slow clients were sending
    probes_first: bool  # the probes all ended before the first slow client did
    after: Figures  # probes once the slow clients were done


def slow_body(model: str) -> bytes:
    """A small valid request: two years of monthly values, enough for a seasonal model."""
    body = {"model": model, "sequence": AIRLINE_TWO_YEARS, "internals": "none"}
    return json.dumps(body).encode()


def time_healthz(port: int, until: float, every: float = 0.2) -> list[float]:
    """GET /healthz on a new connection every `every` s until `until`; latencies in ms."""
    out: list[float] = []
    while time.monotonic() < until:
        start = time.perf_counter()
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        try:
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            out.append((time.perf_counter() - start) * 1000)
        except (OSError, http.client.HTTPException):
            out.append(float("inf"))
        finally:
            conn.close()
        time.sleep(every)
    return out


def slow_clients(
    srv: Running,
    kinds: list[Kind],
    model: str,
    *,
    count: int,
    dribble: int,
    probes: int,
    probe_concurrency: int,
    interval: float = 1.0,
) -> Slowed:
    """Connect `count` slow clients, each sending its body's last `dribble` bytes one per
    `interval`; time /healthz and send `probes` other requests while they dribble."""
    pids = sorted(workers_ready(srv))
    body = slow_body(model)
    baseline = run_load(srv.port, kinds, probes, probe_concurrency)
    clients = [SlowClient(srv.port, body, dribble, interval) for _ in range(count)]
    owners: dict[int, int] = {}  # client port -> worker pid

    def accepted() -> bool:
        owners.update(connection_owners(srv.port, pids))
        return all(c.port in owners for c in clients)

    wait_until(accepted, timeout=10)
    held = {p: sum(owners.get(c.port) == p for c in clients) for p in pids}
    started = time.monotonic()
    for client in clients:
        client.start()
    health: list[float] = []
    until = started + max(1.0, min(dribble * interval, 10.0))
    prober = threading.Thread(target=lambda: health.extend(time_healthz(srv.port, until)))
    prober.start()
    wait = dribble * interval + 60
    during = run_load(srv.port, kinds, probes, probe_concurrency, timeout=wait)
    probes_end = time.monotonic()
    prober.join(wait)
    for client in clients:
        client.join(wait)
    first_end = min(c.ended or time.monotonic() for c in clients)
    after = run_load(srv.port, kinds, probes, probe_concurrency)
    statuses: dict[int, int] = {}
    for client in clients:
        statuses[client.status] = statuses.get(client.status, 0) + 1
    return Slowed(
        slow_clients=count,
        dribble_s=max(c.ended for c in clients) - started,
        statuses=statuses,
        held=held,
        healthz_ms=health,
        baseline=baseline,
        during=during,
        probes_first=probes_end < first_end,
        after=after,
    )
