"""How the worker takes connections and requests: new connections spread over the workers
(service.balance), and a kept-alive connection's next request served by the thread that
answered the previous one, whole or in pieces (service.worker), against the real gunicorn."""

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.common import wait_until
from bench.http_client import HOST, http_bytes
from bench.server import Running, gunicorn
from service.balance import ConnectionBoard
from service.worker import MAX_HEAD, NEXT_REQUEST_MS

THREADS = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Running]:
    """gunicorn, 2 workers of THREADS threads, once every worker serves."""
    log = tmp_path_factory.mktemp("connections") / "gunicorn.log"
    env = {"GATECAST_THREADS": str(THREADS)}
    with gunicorn(model_dir, log, env=env, ready_path="/readyz") as srv:
        assert wait_until(lambda: srv.log_text().count("gatecast ready") >= 2, timeout=60)
        yield srv
        assert "Traceback" not in srv.log_text()


def keep_alive(body: dict) -> bytes:
    """POST /forecast asking to keep the connection open."""
    raw = http_bytes("POST", "/forecast", json.dumps(body).encode())
    return raw.replace(b"Connection: close", b"Connection: keep-alive")


def read_reply(sock: socket.socket) -> tuple[int, dict]:
    """One Content-Length reply from a kept-alive connection: its status and JSON body."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, f"closed before a reply: {buf!r}"
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "closed inside a reply"
        body += chunk
    assert len(body) == length, "bytes after the reply: nothing was pipelined"
    return int(head.split(b" ", 2)[1]), json.loads(body)


def fresh_forecast(port: int, body: dict) -> list[float]:
    """The forecast for `body` on a connection of its own."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        conn.request("POST", "/forecast", json.dumps(body), {"Content-Type": "application/json"})
        reply = conn.getresponse()
        assert reply.status == 200
        return json.loads(reply.read())["forecast"]
    finally:
        conn.close()


def body(k: int) -> dict:
    """A /forecast body of its own for each k."""
    return {"model": "tiny", "sequence": [float((k * 7 + j) % 11) for j in range(12)]}


def test_back_to_back_requests_get_their_own_answers(server: Running) -> None:
    """Requests sent as soon as the previous answer is in, probes among them, on one
    connection: each answer is the one that request gets on a connection of its own."""
    expected = [fresh_forecast(server.port, body(k)) for k in range(40)]
    probe = http_bytes("GET", "/healthz", content_type=None)
    answers = []
    with socket.create_connection((HOST, server.port), timeout=30) as sock:
        for k in range(40):
            if k % 10 == 5:
                sock.sendall(probe.replace(b"Connection: close", b"Connection: keep-alive"))
                assert read_reply(sock) == (200, {"status": "ok"})
            sock.sendall(keep_alive(body(k)))
            answers.append(read_reply(sock))
    assert [status for status, _ in answers] == [200] * 40
    assert [answer["forecast"] for _, answer in answers] == expected


@pytest.mark.parametrize("cut", ["in the request line", "at the body"])
def test_a_next_request_in_pieces_is_read_by_the_event_loop(server: Running, cut: str) -> None:
    """A next request that arrives part by part, slower than the thread waits for it, is
    read whole by the event loop and answered."""
    second = keep_alive(body(2))
    split = 6 if cut == "in the request line" else second.index(b"\r\n\r\n") + 4
    with socket.create_connection((HOST, server.port), timeout=30) as sock:
        sock.sendall(keep_alive(body(1)))
        assert read_reply(sock)[0] == 200
        sock.sendall(second[:split])
        time.sleep(20 * NEXT_REQUEST_MS / 1000)
        sock.sendall(second[split:])
        status, answer = read_reply(sock)
    assert status == 200 and answer["forecast"] == fresh_forecast(server.port, body(2))


def test_an_oversized_next_request_is_refused_like_a_first_one(server: Running) -> None:
    """Headers over MAX_HEAD right after an answer: 431 in the service's JSON shape."""
    huge = keep_alive(body(3)).replace(b"\r\n\r\n", b"\r\nX-Pad: " + b"a" * MAX_HEAD + b"\r\n\r\n")
    with socket.create_connection((HOST, server.port), timeout=30) as sock:
        sock.sendall(keep_alive(body(3)))
        assert read_reply(sock)[0] == 200
        sock.sendall(huge)
        status, answer = read_reply(sock)
    assert status == 431 and answer["error"]["code"] == "headers_too_large"


def test_pipelined_requests_are_answered_in_order(server: Running) -> None:
    """Two requests in one send: two answers, in the order sent."""
    with socket.create_connection((HOST, server.port), timeout=30) as sock:
        sock.sendall(keep_alive(body(4)) + keep_alive(body(5)))
        buf = b""
        while buf.count(b'"forecast"') < 2:
            chunk = sock.recv(65536)
            assert chunk
            buf += chunk
    replies = [r for r in buf.split(b"HTTP/1.1 ")[1:]]
    answers = [json.loads(r.partition(b"\r\n\r\n")[2]) for r in replies]
    assert [a["forecast"] for a in answers] == [
        fresh_forecast(server.port, body(4)),
        fresh_forecast(server.port, body(5)),
    ]


def assert_spread(srv: Running, connections: int) -> None:
    """Open kept-alive connections one after another, each answered before the next: both
    workers end up holding nearly half, not whichever worker happened to be awake."""
    socks = []
    try:
        for k in range(connections):
            sock = socket.create_connection((HOST, srv.port), timeout=30)
            socks.append(sock)
            sock.sendall(keep_alive(body(k)))
            assert read_reply(sock)[0] == 200
        counts = srv.connections()
        assert sum(counts.values()) == connections, counts
        assert min(counts.values()) >= connections // 2 - 1, counts
    finally:
        for sock in socks:
            sock.close()


def test_new_connections_spread_over_the_workers(server: Running) -> None:
    assert_spread(server, 16)


def test_many_threads_do_not_keep_connections_on_one_worker(
    tmp_path: Path, model_dir: Path
) -> None:
    """With more threads than BUSY_CONNECTIONS a worker still passes on connections once it
    holds that many: its threads are not its cores."""
    env = {"GATECAST_THREADS": "16"}
    with gunicorn(model_dir, tmp_path / "gunicorn.log", env=env, ready_path="/readyz") as srv:
        assert wait_until(lambda: srv.log_text().count("gatecast ready") >= 2, timeout=60)
        assert_spread(srv, 8)


def test_board_counts_only_serving_peers() -> None:
    """A booting or freed slot never makes a worker defer; a serving peer with fewer does."""
    board = ConnectionBoard()
    mine, peer = board.claim(-1), board.claim(-2)
    assert mine is not None and peer is not None and mine != peer
    board.serve(mine, os.getpid())
    board.publish(mine, 5)
    assert not board.busier_than_a_peer(mine, 5)  # the peer is still booting
    board.serve(peer, os.getppid())
    board.publish(peer, 2)
    assert board.busier_than_a_peer(mine, 5)
    assert not board.busier_than_a_peer(mine, 2)  # equal counts: accept
    board.release(peer, (-2, os.getppid()))
    assert not board.busier_than_a_peer(mine, 5)
    assert board.claim(-3) == peer  # a freed slot is handed out again


def test_a_late_release_never_frees_a_slot_handed_out_since() -> None:
    """A worker's slot freed by itself, claimed by a new worker, then released again by the
    master reaping the first: the new worker keeps it."""
    board = ConnectionBoard()
    slot = board.claim(-1)
    assert slot is not None
    board.serve(slot, 111)
    board.release(slot, (-1, 111))  # the worker leaves as it stops
    assert board.claim(-2) == slot  # a new worker is spawned before the first is reaped
    board.release(slot, (-1, 111))  # the master reaps the first
    assert board.claim(-3) != slot


def test_board_reclaims_the_slot_of_a_worker_that_died() -> None:
    """A slot left by a process that no longer exists is free to claim."""
    board = ConnectionBoard()
    slot = board.claim(-1)
    assert slot is not None
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    board.serve(slot, int(gone.stdout))
    assert board.claim(-2) == slot
    with pytest.raises(ValueError, match="negative"):
        board.claim(5)
