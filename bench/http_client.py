"""The one HTTP client of the benchmarks and tests: a request to a server on loopback.

    reply = request(srv.port, "POST", "/forecast", {"model": "tiny", "sequence": [1.0, 2.0]})
    assert reply.status == 200 and reply.json()["model"] == "tiny"

`request` sends a well-formed request with http.client; `exchange` sends raw bytes that
http.client would refuse to write (duplicate or malformed headers, a lying Content-Length),
built by `http_bytes`. Both answer with a `Reply`.
"""

import contextlib
import http.client
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Reply:
    """An HTTP response: status, headers (names lower-cased) and the raw body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    def text(self) -> str:
        """The body as text."""
        return self.body.decode(errors="replace")


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    *,
    key: str | None = None,
    conn: http.client.HTTPConnection | None = None,
    timeout: float = 30,
) -> Reply:
    """One request with an optional body (bytes as they are, anything else as JSON) and
    bearer key. Give `conn` to reuse a keep-alive connection (the caller closes it)."""
    own = conn is None
    conn = conn or http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        raw = r.read()
        return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, raw)
    finally:
        if own:
            conn.close()


def http_bytes(
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str | bytes] | None = None,
    content_type: str | None = "application/json",
) -> bytes:
    """One HTTP/1.1 request as bytes (Connection: close; Content-Length when there is a body)."""
    fields: dict[str, str | bytes] = {"Host": HOST, "Connection": "close"}
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
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
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
