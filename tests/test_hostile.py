"""Hostile and malformed requests against the real gunicorn, over raw sockets.

Each row: the request bytes, the expected status and error code. Every answer is JSON with
an X-Request-Id of our own format, never a traceback; after each row the server is healthy
with the same worker processes (no crash), and its log has no traceback at the end.
Requests that are not valid HTTP are refused by gunicorn's parser (service/wire_errors.py
gives them the same JSON body); everything else reaches the app.
"""

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.http_client import Reply, exchange, http_bytes
from bench.server import Running, gunicorn
from service import wire_errors
from service.middleware import REQUEST_ID_RE

JSON = "application/json"
UMT = "unsupported_media_type"
OK = {"model": "tiny", "sequence": [1.0, 2.0, 3.0]}


def post(body: bytes | dict | list, **headers: str) -> bytes:
    """POST /forecast with a JSON body (a dict or list is serialized)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http_bytes("POST", "/forecast", raw, headers)


def with_ok(**fields: object) -> bytes:
    """POST /forecast: the valid request with some fields replaced or added."""
    return post({**OK, **fields})


def raw_field(name: str, literal: str) -> bytes:
    """POST /forecast: the valid request plus one field written as a raw JSON literal."""
    return post(json.dumps(OK)[:-1].encode() + f', "{name}": {literal}}}'.encode())


def chunked(chunks: list[bytes]) -> bytes:
    """POST /forecast with Transfer-Encoding: chunked and no Content-Length."""
    head = http_bytes("POST", "/forecast", None, {"Transfer-Encoding": "chunked"})
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c)
    return head + body + b"0\r\n\r\n"


def chunked_raw(body: bytes) -> bytes:
    """POST /forecast with Transfer-Encoding: chunked and `body` written as it is."""
    return http_bytes("POST", "/forecast", None, {"Transfer-Encoding": "chunked"}) + body


def get(path: str, **headers: str | bytes) -> bytes:
    """A GET without body."""
    return http_bytes("GET", path, None, headers, content_type=None)


def numbers(count: int, text: bytes = b"1") -> bytes:
    """A request whose sequence holds `count` copies of a number literal."""
    return post(b'{"model": "tiny", "sequence": [' + b",".join([text] * count) + b"]}")


@dataclass(frozen=True)
class Row:
    """One hostile request, and what the service must answer."""

    name: str
    request: bytes
    status: int
    code: str | None  # error.code; None for a success or a body-less answer
    field: str | None = None


MIB = 2**20
ROWS = [
    # JSON structure and numbers
    Row("100k [ nested", post(b"[" * 100_000), 400, "invalid_json"),
    Row("100k [ in a field", post(b'{"sequence": ' + b"[" * 100_000), 400, "invalid_json"),
    Row("1e308 above float32", numbers(1, b"1e308"), 400, "invalid_request", "sequence.0"),
    Row("1e400 is inf", numbers(1, b"1e400"), 400, "invalid_request", "sequence.0"),
    Row("10**400 integer", numbers(1, b"1" + b"0" * 400), 400, "invalid_request", "sequence.0"),
    Row("-0.0 is a number", post(b'{"model": "tiny", "sequence": [-0.0, 1]}'), 200, None),
    Row("NaN literal", numbers(1, b"NaN"), 400, "invalid_request", "sequence.0"),
    Row("1e6 numbers, over length", numbers(1_000_000), 400, "invalid_request", "sequence"),
    Row("1e6 numbers, over body", numbers(1_000_000, b"1.25"), 413, "payload_too_large"),
    Row(
        "257 sequences",
        with_ok(sequence=None, sequences=[[1.0]] * 257),
        400,
        "invalid_request",
        "sequences",
    ),
    # horizon and other fields
    Row("horizon 0", with_ok(horizon=0), 400, "invalid_request", "horizon"),
    Row("horizon -1", with_ok(horizon=-1), 400, "invalid_request", "horizon"),
    Row(
        "horizon 10**400", raw_field("horizon", "1" + "0" * 400), 400, "invalid_request", "horizon"
    ),
    Row("horizon above limit", with_ok(horizon=257), 400, "invalid_request", "horizon"),
    Row("horizon 1.5", with_ok(horizon=1.5), 400, "invalid_request", "horizon"),
    Row("horizon 2.0 is 2", with_ok(horizon=2.0), 200, None),
    Row("horizon '2'", with_ok(horizon="2"), 400, "invalid_request", "horizon"),
    Row("string boolean", with_ok(return_state="true"), 400, "invalid_request", "return_state"),
    Row("extra field", with_ok(debug=True), 400, "invalid_request", "debug"),
    Row("id of 129 chars", with_ok(id="x" * 129), 400, "invalid_request", "id"),
    Row(
        "duplicate keys, last bad", raw_field("sequence", '"x"'), 400, "invalid_request", "sequence"
    ),
    Row("duplicate keys, last good", raw_field("sequence", "[4.0]"), 200, None),
    # names, versions and paths
    Row("unicode model", with_ok(model="modèle-😀"), 404, "unknown_model", "model"),
    Row("../ in model", with_ok(model="../../etc/passwd"), 404, "unknown_model", "model"),
    Row("%2e%2e%2f in model", with_ok(model="%2e%2e%2fetc"), 404, "unknown_model", "model"),
    Row("../ in version", with_ok(version="../../x.pt"), 404, "unknown_version", "version"),
    Row("%2e%2e%2f in version", with_ok(version="%2e%2e%2f"), 404, "unknown_version", "version"),
    Row("..%2f in URL", get("/models/..%2f..%2fetc%2fpasswd"), 404, "not_found"),
    Row("%2e%2e in URL", get("/models/%2e%2e"), 404, "unknown_model", "name"),
    Row("../ in URL", get("/models/../../etc/passwd"), 404, "not_found"),
    Row("URL of 5000 bytes", get("/models/" + "a" * 5000), 414, "uri_too_long"),
    Row("unknown path", get("/etc/passwd"), 404, "not_found"),
    # bytes of the body
    Row("NUL in a string", post(b'{"model": "ti\x00ny", "sequence": [1]}'), 400, "invalid_json"),
    Row("invalid UTF-8", post(b'{"model": "\xff\xfe", "sequence": [1]}'), 400, "invalid_json"),
    Row("BOM before JSON", post(b"\xef\xbb\xbf" + json.dumps(OK).encode()), 400, "invalid_json"),
    Row("empty body", post(b""), 400, "invalid_json"),
    Row("null body", post(b"null"), 400, "invalid_request"),
    Row("array body", post(b"[1, 2]"), 400, "invalid_request"),
    # sizes and framing
    Row(
        "100 MB by Content-Length",
        http_bytes("POST", "/forecast", None, {"Content-Length": str(100 * MIB)}),
        413,
        "payload_too_large",
    ),
    Row("chunked, small", chunked([b'{"model": "tiny", ', b'"sequence": [1, 2]}']), 200, None),
    Row(
        "chunked, over 2 MiB",
        chunked([b'{"sequence": [', *[b"1.5," * 16384] * 32, b"1]}"]),
        413,
        "payload_too_large",
    ),
    Row("chunk size not hex", chunked_raw(b"zz\r\n{}\r\n0\r\n\r\n"), 400, "bad_http_request"),
    Row(
        "chunk longer than declared",
        chunked_raw(b"2\r\n{}xxxx\r\n0\r\n\r\n"),
        400,
        "bad_http_request",
    ),
    Row(
        "trailer without colon",
        chunked_raw(b"2\r\n{}\r\n0\r\nbad trailer no colon\r\n\r\n"),
        400,
        "bad_http_request",
    ),
    Row(
        "two Content-Lengths",
        http_bytes("POST", "/forecast", b"{}", {"Content-Length": b"2\r\nContent-Length: 3"}),
        400,
        "bad_http_request",
    ),
    Row(
        "Content-Length and chunked",
        http_bytes("POST", "/forecast", b"0\r\n\r\n", {"Transfer-Encoding": "chunked"}),
        400,
        "bad_http_request",
    ),
    # content types
    Row("text/plain", http_bytes("POST", "/forecast", b"{}", {}, "text/plain"), 415, UMT),
    Row(
        "form",
        http_bytes("POST", "/forecast", b"a=1", {}, "application/x-www-form-urlencoded"),
        415,
        UMT,
    ),
    Row(
        "multipart",
        http_bytes("POST", "/forecast", b"--b--\r\n", {}, "multipart/form-data; boundary=b"),
        415,
        UMT,
    ),
    Row("no content type", http_bytes("POST", "/forecast", b"{}", {}, None), 415, UMT),
    Row(
        "latin-1 charset",
        http_bytes("POST", "/forecast", b"{}", {}, JSON + "; charset=latin-1"),
        415,
        UMT,
    ),
    # methods
    Row("HEAD /forecast", http_bytes("HEAD", "/forecast", None, {}, None), 405, None),
    Row("OPTIONS /forecast", http_bytes("OPTIONS", "/forecast"), 405, "method_not_allowed"),
    Row("PUT /forecast", http_bytes("PUT", "/forecast", b"{}"), 405, "method_not_allowed"),
    Row("DELETE /forecast", http_bytes("DELETE", "/forecast"), 405, "method_not_allowed"),
    Row("GET /forecast", get("/forecast"), 405, "method_not_allowed"),
    # headers
    Row("NUL in a header", get("/healthz", **{"X-Note": b"a\x00b"}), 400, "bad_http_request"),
    Row(
        "bare CR in X-Request-Id",
        get("/healthz", **{"X-Request-Id": b"a\rb"}),
        400,
        "bad_http_request",
    ),
    Row(
        "header of 9000 bytes",
        get("/healthz", **{"X-Request-Id": "a" * 9000}),
        431,
        "headers_too_large",
    ),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Running]:
    """gunicorn on the session's models (tiny, article-cell); checked for crashes at the end."""
    log = tmp_path_factory.mktemp("hostile") / "gunicorn.log"
    with gunicorn(model_dir, log, ready_path="/readyz") as srv:
        yield srv
        assert_healthy(srv)
        assert "Traceback" not in srv.log_text() and '"exc"' not in srv.log_text()


def assert_healthy(srv: Running) -> None:
    """/healthz answers and no worker was replaced (a crash or a timeout kill would)."""
    assert exchange(srv.port, get("/healthz")).status == 200
    assert srv.worker_pids() == srv.workers


def check_reply(reply: Reply, row: Row) -> None:
    """Status, JSON error body, request id, no traceback."""
    assert reply.status == row.status, reply.body[:300]
    assert reply.headers["content-type"] == JSON
    assert REQUEST_ID_RE.fullmatch(reply.headers["x-request-id"])
    assert b"Traceback" not in reply.body
    if row.name.startswith("HEAD"):
        assert reply.body == b""
        return
    body = reply.json()
    if reply.status >= 400:
        assert set(body["error"]) == {"code", "message", "field"}
        assert body["error"]["code"] == row.code
        if row.field is not None:
            assert body["error"]["field"] == row.field
    else:
        assert body["model"] == "tiny" and body["forecast"]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_hostile_request(server: Running, row: Row) -> None:
    check_reply(exchange(server.port, row.request), row)
    assert_healthy(server)


def test_at_least_thirty_rows() -> None:
    assert len(ROWS) >= 30 and len({r.name for r in ROWS}) == len(ROWS)


@pytest.mark.parametrize(
    ("given", "echoed"),
    [
        (b"abc\r\nSet-Cookie: injected=1", True),  # CRLF ends the header: id "abc"
        ("x" * 129, False),
        ("a" * 5000, False),
        ("été".encode(), False),
        ("<script>alert(1)</script>", False),
        ("good-id_1.2:3", True),
    ],
)
def test_request_id_is_echoed_only_when_safe(server: Running, given: bytes | str, echoed: bool):
    reply = exchange(server.port, get("/healthz", **{"X-Request-Id": given}))
    assert reply.status == 200 and "set-cookie" not in reply.headers
    rid = reply.headers["x-request-id"]
    assert REQUEST_ID_RE.fullmatch(rid)
    raw = given if isinstance(given, str) else given.decode("latin-1")
    assert (rid == raw.split("\r\n")[0]) is echoed


def test_a_slow_client_does_not_block_others(server: Running) -> None:
    """One client stalls in its headers and one in its body; others are served meanwhile."""
    body = json.dumps(OK).encode()
    whole = http_bytes("POST", "/forecast", body)
    slow = [socket.create_connection(("127.0.0.1", server.port), timeout=60) for _ in range(2)]
    slow[0].sendall(whole[:20])  # inside the request line
    slow[1].sendall(whole[: len(whole) - len(body) // 2])  # half the body
    try:
        times = []
        for _ in range(10):
            start = time.monotonic()
            check_reply(exchange(server.port, post(OK), timeout=30), Row("ok", b"", 200, None))
            times.append(time.monotonic() - start)
        assert max(times) < 20, times  # blocked, they would wait for the 30 s timeout
        for sock, sent in ((slow[0], 20), (slow[1], len(whole) - len(body) // 2)):
            sock.sendall(whole[sent:])
            reply = b""
            while chunk := sock.recv(65536):  # Connection: close, so until the server closes
                reply += chunk
            assert reply.startswith(b"HTTP/1.1 200") and b'"forecast"' in reply
    finally:
        for sock in slow:
            sock.close()


def test_wire_errors_writer_sends_json() -> None:
    a, b = socket.socketpair()
    with a, b:
        wire_errors.json_error(a, 414, "URI Too Long", "Request Line is too large (5021 > 4094)")
        a.shutdown(socket.SHUT_WR)
        raw = b""
        while chunk := b.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 414 URI Too Long\r\n")
    assert b"Content-Type: application/json" in head
    assert json.loads(body)["error"] == {
        "code": "uri_too_long",
        "message": "Request Line is too large (5021 > 4094)",
        "field": None,
    }


def test_bad_chunk_framing_closes_a_keep_alive_connection(server: Running) -> None:
    """After a body whose framing is refused, a request pipelined behind it is not served."""
    head = http_bytes("POST", "/forecast", None, {"Transfer-Encoding": "chunked"})
    bad = head.replace(b"Connection: close", b"Connection: keep-alive")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(bad + b"zz\r\n{}\r\n0\r\n\r\n" + get("/healthz"))
        raw = b""
        while chunk := sock.recv(65536):  # until the server closes the connection
            raw += chunk
    assert raw.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert raw.count(b"HTTP/1.1 ") == 1  # the pipelined GET got no answer
    body = json.loads(raw.partition(b"\r\n\r\n")[2])
    assert body["error"]["code"] == "bad_http_request"
    assert "invalid chunk size" in body["error"]["message"].lower()


@pytest.mark.parametrize(
    "head",
    [
        http_bytes("POST", "/forecast", None, {"Content-Length": "100"}),
        http_bytes("POST", "/forecast", None, {"Transfer-Encoding": "chunked"}),
    ],
    ids=["Content-Length", "chunked"],
)
def test_a_body_cut_short_is_a_400(server: Running, head: bytes) -> None:
    """The client stops sending inside the body (half-close) and still reads the answer."""
    body = b"2\r\n{}\r\n" if b"chunked" in head else b"{}"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + body)
        sock.shutdown(socket.SHUT_WR)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    assert raw.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    error = json.loads(raw.partition(b"\r\n\r\n")[2])["error"]
    assert error["code"] == "bad_http_request" and "ended before" in error["message"]
    assert_healthy(server)
