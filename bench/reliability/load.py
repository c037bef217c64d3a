"""Bounded load for the reliability scenarios: keep-alive threads, a fixed share each.

Every thread owns one http.client connection and sends exactly its share of the requests
(total // concurrency, the remainder spread over the first threads), cycling through the
request mix from its own offset, so a run does the same work however slow the machine is.
With `shared=True` the threads draw from one pool of `total` instead, so every connection
stays busy until the pool is empty (a thread on a lightly loaded worker would otherwise
finish its share early): the kill and swap scenarios need every connection open throughout.
With `reconnect_every=N` a thread opens a new connection after every N requests answered on
one, so that long runs spread their connections over the workers, a replacement's included.
Each request has a socket timeout; `stop()` ends a run early (after the current requests),
so a scenario can end once it has seen what it waits for. Every answer is recorded with
the local port of its connection, which says which worker gave it (see proc.py).

A stream kind (`Kind.then` set) is a client that carries state: its thread sends `body`
first, then `then` with the `state` the previous answer returned, chunk after chunk, and
starts again after STREAM_CHUNKS chunks or a failed request. A scenario may replace
`LoadRun.kinds` during a run with a list of the same length (new bodies for the same slots).
"""

import contextlib
import http.client
import json
import math
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any

from bench.http_client import HOST, request

BATCH = 3  # sequences in the "batch" request types
STREAM_CHUNKS = 10  # chunks a stream sends before it starts again from a zero state


@dataclass(frozen=True)
class Kind:
    """One request type of the mix: a label and its JSON body (a stream's first chunk)."""

    name: str
    body: bytes
    then: bytes = b""  # a stream's next chunks, sent with the state of the previous answer


@dataclass(slots=True)  # a soak keeps hundreds of thousands
class Sample:
    """One request as the client saw it."""

    kind: int
    thread: int
    port: int  # local port of the connection that carried the last attempt
    start: float  # time.monotonic() when it was first sent
    end: float  # time.monotonic() when it ended
    wall: float  # time.time() when it ended (compared with file timestamps)
    status: int  # HTTP status; 0 when no answer came
    version: str
    attempts: int
    error: str = ""  # the first failed attempt: exception or status, "" when all went well
    stateful: bool = False  # it sent a state returned by an earlier answer


@dataclass(frozen=True)
class Figures:
    """What a run did: counts, rate and latency (ms) of every request sent."""

    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    min_ms: float
    max_ms: float


def series(n: int, phase: float) -> list[float]:
    """A wavy series of n values around 100."""
    return [round(100 + 10 * math.sin(k / 2 + phase) + 0.1 * k, 3) for k in range(n)]


def mixed_kinds(models: list[dict[str, Any]]) -> list[Kind]:
    """Every model x internals none/last/all x with/without an interval x single/batch.

    `models` is GET /models's list; a model without residual quantiles gets no interval
    requests (the service answers those with 400).
    """
    kinds: list[Kind] = []
    for info in models:
        latest = next(v for v in info["versions"] if v["version"] == info["latest"])
        length = min(max(int(latest["window"] or 12), 12), 48)
        levels: list[float | None] = [None, 0.9] if latest["intervals"] else [None]
        for internals in ("none", "last", "all"):
            for level in levels:
                for batch in (False, True):
                    body: dict[str, Any] = {"model": info["name"], "internals": internals}
                    if batch:
                        body["sequences"] = [series(length - k, k) for k in range(BATCH)]
                    else:
                        body["sequence"] = series(length, 0.5)
                    if level is not None:
                        body.update(interval=level, horizon=3)
                    shape = f"batch{BATCH}" if batch else "single"
                    label = f"{info['name']}/{internals}/{'interval' if level else 'point'}"
                    kinds.append(Kind(f"{label}/{shape}", json.dumps(body).encode()))
    return kinds


class LoadRun:
    """`concurrency` keep-alive threads sending `total` requests of the mix between them."""

    def __init__(
        self,
        port: int,
        kinds: list[Kind],
        total: int,
        concurrency: int,
        *,
        timeout: float = 60.0,
        retries: int = 0,
        backoff: float = 0.1,
        shared: bool = False,
        reconnect_every: int = 0,
    ) -> None:
        self.port, self.kinds, self.timeout, self.retries = port, kinds, timeout, retries
        self.backoff = backoff  # seconds before a retry
        self.reconnect_every = reconnect_every  # requests per connection (0: keep it open)
        self.shares = [total // concurrency + (t < total % concurrency) for t in range(concurrency)]
        self._pool = total if shared else -1  # requests left to draw (-1: fixed shares)
        self.samples: list[Sample] = []
        self.ports = [0] * concurrency  # each thread's current local port (0: none)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Barrier(concurrency + 1)
        self._threads = [
            threading.Thread(target=self._run, args=(t,), daemon=True) for t in range(concurrency)
        ]
        self.started = 0.0
        self.finished = 0.0

    def start(self) -> "LoadRun":
        """Connect every thread, then let them all go at once."""
        for t in self._threads:
            t.start()
        self._ready.wait(self.timeout)
        self.started = time.monotonic()
        return self

    def completed(self) -> int:
        """Requests finished so far."""
        with self._lock:
            return len(self.samples)

    def results(self) -> list[Sample]:
        """A copy of the samples so far."""
        with self._lock:
            return list(self.samples)

    def stop(self) -> None:
        """Let every thread end after its current request."""
        self._stop.set()

    def join(self, timeout: float) -> list[Sample]:
        """Wait for the threads (bounded); raises TimeoutError if one is still running."""
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
            if t.is_alive():
                self.stop()
                raise TimeoutError(f"load threads still running after {timeout} s")
        self.finished = time.monotonic()
        return self.samples

    def _connect(self, thread: int) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        conn.connect()
        self.ports[thread] = conn.sock.getsockname()[1]
        return conn

    def _draw(self) -> bool:
        """Take one request from the shared pool (always True with fixed shares)."""
        if self._pool < 0:
            return True
        with self._lock:
            if self._pool == 0:
                return False
            self._pool -= 1
            return True

    def _run(self, thread: int) -> None:
        conn: http.client.HTTPConnection | None = None
        used = 0  # requests answered on the current connection
        with contextlib.suppress(OSError):  # else the first request connects, or fails
            conn = self._connect(thread)
        self._ready.wait(self.timeout)
        streams: dict[int, tuple[int, Any]] = {}  # stream kind -> (chunks sent, last state)
        for n in range(self.shares[thread] if self._pool < 0 else 2**62):
            if self._stop.is_set() or not self._draw():
                break
            kind = (thread + n) % len(self.kinds)
            chosen = self.kinds[kind]  # read once: a scenario may replace the list
            held = streams.pop(kind, None) if chosen.then else None
            body = chosen.body if held is None else with_state(chosen.then, held[1])
            start, error, attempts, status, version = time.monotonic(), "", 0, 0, ""
            while attempts <= self.retries:
                if attempts:
                    time.sleep(self.backoff)
                attempts += 1
                try:
                    if conn is None:
                        conn = self._connect(thread)
                    reply = request(self.port, "POST", "/forecast", body, conn=conn)
                    status = reply.status
                    if status == 200:
                        answer = reply.json()
                        version = answer["version"]
                        sent = 1 if held is None else held[0] + 1
                        if chosen.then and sent < STREAM_CHUNKS:
                            streams[kind] = (sent, answer["state"])
                    else:
                        error = error or f"HTTP {status}: {reply.body[:200]!r}"
                    break  # an HTTP answer is never retried: only lost connections are
                except (OSError, http.client.HTTPException) as err:
                    error = error or f"{type(err).__name__}: {err}"
                    if conn is not None:
                        conn.close()
                    conn = None
                    used = 0
            end = time.monotonic()
            port, wall = self.ports[thread], time.time()
            used += conn is not None
            if conn is not None and used == self.reconnect_every:
                conn.close()  # the next request opens a new connection, as clients do
                conn, used = None, 0
            sample = Sample(
                kind,
                thread,
                port,
                start,
                end,
                wall,
                status,
                version,
                attempts,
                error,
                held is not None,
            )
            with self._lock:
                self.samples.append(sample)
        if conn is not None:
            conn.close()
        self.ports[thread] = 0  # done: no connection


def with_state(chunk: bytes, state: Any) -> bytes:
    """A stream's next chunk carrying the state an earlier answer returned."""
    return json.dumps({**json.loads(chunk), "state": state}).encode()


def figures(samples: list[Sample], seconds: float) -> Figures:
    """Counts and latency percentiles of a run (errors: requests without a 200)."""
    if not samples:
        return Figures(0, 0, seconds, 0.0, math.nan, math.nan, math.nan, math.nan)
    ms = sorted((s.end - s.start) * 1e3 for s in samples)
    cuts = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else ms * 99
    errors = sum(s.status != 200 for s in samples)
    rate = len(samples) / seconds if seconds > 0 else math.nan
    return Figures(len(samples), errors, seconds, rate, cuts[49], cuts[98], ms[0], ms[-1])


def run_load(port: int, kinds: list[Kind], total: int, concurrency: int, **kw: Any) -> Figures:
    """One whole run, start to end; its figures."""
    run = LoadRun(port, kinds, total, concurrency, **kw).start()
    samples = run.join(timeout=max(600.0, total))
    return figures(samples, run.finished - run.started)
