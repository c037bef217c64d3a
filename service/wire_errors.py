"""JSON for the requests refused before the app sees them, by gunicorn or service.worker.

gunicorn's HTTP parser answers malformed requests (a request line over 4094 bytes, a header
field over 8190, control characters or obsolete folding in a header, two Content-Lengths,
a bad chunk size...) with a fixed HTML page. install() swaps that page for the service's
usual error body, {"error": {"code", "message", "field": null}}, with a fresh X-Request-Id;
the status gunicorn chose is kept. Standard library only; a no-op outside gunicorn.
On /v2 paths the service's errors take the Open Inference Protocol's form, {"error":
message}, here for the worker's refusals (gunicorn's parser gives no path).
"""

import json
import sys
import uuid
from http import HTTPStatus
from typing import Any

CODES = {
    400: "bad_http_request",
    403: "forbidden",
    408: "request_timeout",
    413: "payload_too_large",
    414: "uri_too_long",
    417: "expectation_failed",
    431: "headers_too_large",
    500: "internal",
    501: "not_implemented",
}


V2_PREFIX = "/v2"  # Open Inference Protocol v2 paths: errors are {"error": message}


def uses_v2_errors(path: str) -> bool:
    """Whether errors on this path take the Open Inference Protocol's form."""
    return path == V2_PREFIX or path.startswith(V2_PREFIX + "/")


def request_path(head: bytes) -> str:
    """The path of the request line at the start of `head` ("" before it has arrived)."""
    line, sep, _ = head.partition(b"\r\n")
    parts = line.split(b" ")
    if not sep or len(parts) != 3:
        return ""
    return parts[1].partition(b"?")[0].decode("latin-1")


def error_bytes(
    status: int,
    message: str,
    code: str | None = None,
    reason: str | None = None,
    path: str = "",
) -> bytes:
    """A whole HTTP/1.1 error response that closes the connection, with the JSON body (in
    the v2 form for a /v2 path)."""
    code = code or CODES.get(status, "bad_http_request")
    reason = reason or HTTPStatus(status).phrase
    error: object = {"code": code, "message": message, "field": None}
    body = json.dumps({"error": message if uses_v2_errors(path) else error}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Request-Id: {uuid.uuid4().hex}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn.util.write_error's signature and job, with a JSON body."""
    from gunicorn.util import write_nonblock

    write_nonblock(sock, error_bytes(status_int, mesg, reason=reason))


def install() -> bool:
    """Replace gunicorn's HTML error writer in this process; False when not under gunicorn."""
    util = sys.modules.get("gunicorn.util")
    if util is None:
        return False
    util.write_error = json_error  # type: ignore[attr-defined]
    return True
