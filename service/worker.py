"""gunicorn's gthread worker, handing its threads only requests that have fully arrived.

gunicorn's own gthread worker gives a connection a thread as soon as its first bytes
arrive, and the thread then reads the rest with no deadline: a few clients that send their
headers and stop hold every thread, /healthz included, for as long as they stay connected.
This worker reads each request, headers and body, on its event loop without blocking, into
a buffer (service.framing says where the request ends), under a deadline of
GATECAST_READ_TIMEOUT seconds. Only a complete request goes to a thread, its bytes preloaded
into gunicorn's parser, so no thread ever waits on a client. A request that misses its
deadline gets 408, headers over MAX_HEAD bytes 431, a body over GATECAST_MAX_BODY_BYTES 413
and broken chunk framing 400, in the service's JSON error shape; the connection is then
drained for up to LINGER seconds, so the client reads the answer instead of a reset, and
closed. Responses are written by the threads as before.

Probes (GET or HEAD of PROBE_PATHS) run on a thread of their own, so /healthz never queues
behind GATECAST_THREADS forecasts that take seconds each.

A thread that has answered on a kept-alive connection waits up to NEXT_REQUEST_MS for the
client's next request and serves it too, when no other request waits for a thread and
another thread stays free: a client that sends its requests back to back then costs no hand-
over to the event loop and back. Anything short of a whole request in that time goes to the
event loop as before.

New connections go to the worker holding the fewest (service.balance): a busy worker leaves
one to a less loaded peer for up to ACCEPT_DEFER seconds before accepting it itself.

It speaks plain HTTP/1.x: TLS and HTTP/2 end at the proxy or ingress in front of gunicorn.
"""

import contextlib
import os
import select
import selectors
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

from gunicorn import http
from gunicorn.workers.gthread import TConn, ThreadWorker

from service.balance import ACCEPT_DEFER, BUSY_CONNECTIONS, ConnectionBoard
from service.config import ServiceConfig
from service.framing import Complete, Framing, Refusal
from service.wire_errors import error_bytes, request_path

MAX_HEAD = 64 * 1024  # request line and headers, or trailers
RECV_BYTES = 256 * 1024  # per recv call
LINGER = 2.0  # seconds a refused connection is drained before it is closed
NEXT_REQUEST_MS = 1  # how long a thread waits on its kept-alive connection for the next request
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
PROBE_PATHS = frozenset(
    {b"/healthz", b"/readyz", b"/metrics", b"/v2/health/live", b"/v2/health/ready"}
)


def is_probe(head: bytes) -> bool:
    """Whether a request head is GET or HEAD of a probe path (any query string aside)."""
    method, _, rest = head.partition(b" ")
    target = rest.partition(b" ")[0].partition(b"?")[0]
    return method in (b"GET", b"HEAD") and target in PROBE_PATHS


@dataclass
class Reading:
    """A connection whose request is still arriving."""

    framing: Framing
    deadline: float  # monotonic time by which the whole request must be in
    registered: bool = False  # on the poller, waiting for bytes
    continued: bool = False  # 100 Continue sent
    received: int = 0  # bytes so far


class BufferedThreadWorker(ThreadWorker):
    """gthread, with every request read whole on the event loop before a thread takes it."""

    board: ClassVar[ConnectionBoard | None] = None  # made in the master, shared across fork

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Runs in the master, before fork: the worker's slot on the board is claimed here."""
        super().__init__(*args, **kwargs)
        settings = ServiceConfig.from_env()  # checked by gunicorn.conf.py in the master
        self.read_timeout = settings.read_timeout
        self.max_body = settings.max_body_bytes
        self.reading: dict[TConn, Reading] = {}
        self.lingering: dict[TConn, float] = {}  # refused connections: drain until
        self.complete: set[TConn] = set()  # requests read whole, for enqueue_req to pass on
        self.probes: set[TConn] = set()  # of those, probes: for the probe thread
        self.probe_pool: ThreadPoolExecutor | None = None
        # With a socket per worker (reuse_port) the kernel picks the worker: nothing to balance.
        self.slot: int | None = None
        if not self.cfg.reuse_port:
            cls = type(self)
            if cls.board is None:
                cls.board = ConnectionBoard()
            self.slot = cls.board.claim(-self.age)  # age: gunicorn's spawn counter, from 1
        self.accept_paused_until = 0.0  # monotonic time: listener off until then
        self.accept_owed = False  # the pause ended: accept the next connection regardless

    def init_process(self) -> None:
        """gunicorn's set-up in the worker process, plus the probe thread (started lazily)."""
        self.probe_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="probe")
        # One thread always stays free of waiting on its client (none with a single thread).
        self.waiting = threading.BoundedSemaphore(self.cfg.threads - 1)
        super().init_process()

    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        """Refuse TLS here: the worker reads raw request bytes (terminate TLS in front)."""
        super().check_config(cfg, log)
        if cfg.is_ssl:
            raise RuntimeError("service.worker reads plain HTTP: terminate TLS in front of it")

    # -- which worker accepts ------------------------------------------------------------

    def run(self) -> None:
        """gunicorn's event loop, with this worker's slot on the board while it serves."""
        if self.board is not None and self.slot is not None:
            self.board.serve(self.slot, os.getpid())
        try:
            super().run()
        finally:
            self.leave_board()

    def leave_board(self) -> None:
        """Stop counting on the board: a stopping worker accepts nothing, so none waits on it."""
        if self.board is not None and self.slot is not None:
            # In the master self.pid is the child's (set after fork); "[booting]" before it.
            pid = self.pid if isinstance(self.pid, int) else 0
            self.board.release(self.slot, (-self.age, pid))
            self.slot = None

    def accept(self, listener: socket.socket) -> None:
        """Accept, unless a peer holds fewer connections: then leave it to that peer a while.

        A connection still waiting when the pause ends is accepted whatever the counts say
        (the peer did not take it: it is busy or gone), one per pause.
        """
        board, slot = self.board, self.slot
        if board is not None and slot is not None:
            now = time.monotonic()
            owed = self.accept_owed and now < self.accept_paused_until + ACCEPT_DEFER
            self.accept_owed = False
            busy = self.nr_conns >= min(self.cfg.threads, BUSY_CONNECTIONS)
            if busy and not owed and board.busier_than_a_peer(slot, self.nr_conns):
                self.accept_paused_until = now + ACCEPT_DEFER
                self.accept_owed = True
                super().set_accept_enabled(False)
                return
        super().accept(listener)
        if board is not None and slot is not None:
            board.publish(slot, self.nr_conns)

    def set_accept_enabled(self, enabled: bool) -> None:
        """gunicorn's, except that the listener stays off while a pause lasts."""
        if enabled and time.monotonic() < self.accept_paused_until:
            return
        super().set_accept_enabled(enabled)

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        """Publish this worker's count, then gunicorn's wait, woken when a pause ends."""
        if not self.alive:
            self.leave_board()
        elif self.board is not None and self.slot is not None:
            self.board.publish(self.slot, self.nr_conns)
        remaining = self.accept_paused_until - time.monotonic()
        if remaining > 0:
            timeout = min(timeout, remaining)
        super().wait_for_and_dispatch_events(timeout)

    # -- where connections come in ------------------------------------------------------

    def enqueue_req(self, conn: TConn) -> None:
        """A complete request goes to the thread pool; any other connection is read first.

        gunicorn calls this for a new connection, for a kept-alive one that became readable
        and for one with pipelined bytes left after a response.
        """
        if conn in self.complete:
            self.complete.discard(conn)
            if conn in self.probes and self.probe_pool is not None:
                self.probes.discard(conn)
                done = self.probe_pool.submit(super().handle, conn)
                done.add_done_callback(
                    lambda fut: self.method_queue.defer(self.finish_request, conn, fut)
                )
            else:
                super().enqueue_req(conn)
            return
        state = Reading(Framing(MAX_HEAD, self.max_body), time.monotonic() + self.read_timeout)
        self.reading[conn] = state
        conn.sock.setblocking(False)
        if conn.parser is not None:  # bytes read ahead behind the previous request
            ahead = conn.parser.unreader.take_buffered()
            if ahead and self.consume(conn, state, ahead):
                return
        self.read_available(conn)

    def on_request_readable(self, conn: TConn, _sock: socket.socket) -> None:
        """Poller callback: more of a request arrived."""
        if conn in self.reading:
            self.read_available(conn)

    def read_available(self, conn: TConn) -> None:
        """Read what the socket holds without blocking; wait on the poller for the rest."""
        state = self.reading[conn]
        while True:
            try:
                data = conn.sock.recv(RECV_BYTES)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.drop(conn)
                return
            if not data:  # the client stopped sending before its request was complete
                if state.received:  # it may still read: say why nothing is served
                    self.stop_reading(conn, state)
                    message = "the connection ended before the request did"
                    self.refuse(conn, Refusal(400, "bad_http_request", message), state)
                else:
                    self.drop(conn)
                return
            if self.consume(conn, state, data):
                return
        if state.framing.needs_continue() and not state.continued:
            state.continued = True
            send_quietly(conn.sock, CONTINUE)
        if not state.registered:
            state.registered = True
            self.poller.register(
                conn.sock, selectors.EVENT_READ, partial(self.on_request_readable, conn)
            )

    def consume(self, conn: TConn, state: Reading, data: bytes) -> bool:
        """Feed bytes to the framing; True when the request was passed on or refused."""
        state.received += len(data)
        verdict = state.framing.feed(data)
        if verdict is None:
            return False
        self.stop_reading(conn, state)
        if isinstance(verdict, Refusal):
            self.refuse(conn, verdict, state)
        else:
            self.hand_over(conn, state, verdict)
        return True

    def hand_over(self, conn: TConn, state: Reading, request: Complete) -> None:
        """Preload the request's bytes into gunicorn's parser and queue it for a thread."""
        self.preload(conn, state.framing, request)
        self.complete.add(conn)
        if is_probe(request.head):
            self.probes.add(conn)
        self.enqueue_req(conn)

    def preload(self, conn: TConn, framing: Framing, request: Complete) -> None:
        """Put a complete request's bytes (and any pipelined after it) into gunicorn's parser."""
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        conn.parser.unreader.unread(request.head + bytes(framing.buf[request.body_start :]))
        conn.data_ready = True  # gunicorn's handle() then reads at once

    # -- the next request on a kept-alive connection -------------------------------------

    def handle(self, conn: TConn) -> Any:
        """gunicorn's, then the client's next request too while it arrives whole at once."""
        keep = super().handle(conn)
        while keep is True and self.alive and self.idle_pool() and self.waiting.acquire(False):
            try:
                arrived = self.next_request(conn)
            finally:
                self.waiting.release()
            if not arrived:
                break
            keep = super().handle(conn)
        return keep

    def idle_pool(self) -> bool:
        """Whether no request is queued for a thread (then waiting on a client costs nothing)."""
        queue = getattr(self.tpool, "_work_queue", None)  # ThreadPoolExecutor's own queue
        return queue is not None and queue.empty()

    def next_request(self, conn: TConn) -> bool:
        """Read the next request if it starts within NEXT_REQUEST_MS and arrives whole in one
        read: True when it is preloaded for gunicorn's parser. Bytes short of a request go
        back to the parser's buffer, where gunicorn's finish_request finds them and passes
        the connection to the event loop, which reads the rest under its deadline."""
        if conn.parser is None or conn.parser.unreader.buf.getvalue():
            return False  # pipelined bytes: the event loop's path handles them
        poller = select.poll()
        poller.register(conn.sock, select.POLLIN)
        if not poller.poll(NEXT_REQUEST_MS):
            return False
        conn.sock.setblocking(False)
        try:
            data = conn.sock.recv(RECV_BYTES)
        except OSError:  # nothing after all, or a reset the event loop sees too
            return False
        if not data:  # closed by the client: unread nothing, the event loop sees the end
            return False
        framing = Framing(MAX_HEAD, self.max_body)
        verdict = framing.feed(data)
        if not isinstance(verdict, Complete):
            conn.parser.unreader.unread(data)
            return False
        self.preload(conn, framing, verdict)
        return True

    # -- refusals and deadlines ---------------------------------------------------------

    def refuse(self, conn: TConn, refusal: Refusal, state: Reading) -> None:
        """Answer with a JSON error, stop sending, and drain the connection a short while."""
        path = request_path(bytes(state.framing.buf[:MAX_HEAD]))
        error = error_bytes(refusal.status, refusal.message, refusal.code, path=path)
        send_quietly(conn.sock, error)
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.end(conn)
            return
        self.lingering[conn] = time.monotonic() + LINGER
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_linger, conn))

    def on_linger(self, conn: TConn, _sock: socket.socket) -> None:
        """Poller callback on a refused connection: discard what comes until it closes."""
        try:
            data = conn.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.lingering.pop(conn, None)
            self.unregister(conn)
            self.end(conn)

    def murder_pending(self) -> None:
        """gunicorn's own, then: 408 for requests past their deadline, close drained ones."""
        super().murder_pending()
        now = time.monotonic()
        for conn, state in [(c, s) for c, s in self.reading.items() if s.deadline <= now]:
            self.stop_reading(conn, state)
            if state.received:
                message = f"the request did not arrive within {self.read_timeout:g} s"
                self.refuse(conn, Refusal(408, "request_timeout", message), state)
            else:  # connected and never sent a byte: nothing to answer
                self.end(conn)
        for conn in [c for c, until in self.lingering.items() if until <= now]:
            del self.lingering[conn]
            self.unregister(conn)
            self.end(conn)

    # -- bookkeeping ------------------------------------------------------------------------

    def stop_reading(self, conn: TConn, state: Reading) -> None:
        """Forget a connection's reading state and take it off the poller."""
        self.reading.pop(conn, None)
        if state.registered:
            state.registered = False
            self.unregister(conn)

    def drop(self, conn: TConn) -> None:
        """A connection gone before its request was complete."""
        state = self.reading.get(conn)
        if state is not None:
            self.stop_reading(conn, state)
        self.end(conn)

    def unregister(self, conn: TConn) -> None:
        """Take a socket off the poller if it is on it."""
        with contextlib.suppress(KeyError, ValueError, OSError):
            self.poller.unregister(conn.sock)

    def end(self, conn: TConn) -> None:
        """Close a connection this worker ends itself, keeping gunicorn's count right."""
        self.nr_conns -= 1
        conn.close()


def send_quietly(sock: socket.socket, data: bytes) -> None:
    """Send a short message on a non-blocking socket; a client gone or stalled misses it."""
    with contextlib.suppress(OSError):
        sock.send(data)
