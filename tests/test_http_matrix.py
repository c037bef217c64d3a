"""Every method on every route, with every body framing, against the real gunicorn.

Each answer must have the status the expectation table below gives for its route and
method, the standard reason phrase, no Location header, and JSON unless the route serves
something else (the page, static files, metrics; HEAD has no body). One connection per
case (Connection: close); after each route's cases the server is healthy with the same
worker, and its log has no traceback at the end.
"""

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

import pytest

from bench.http_client import HOST, exchange, http_bytes
from bench.server import Running, gunicorn
from service.errors import HTTP_CODES

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")
JSON = "application/json"
HTML = "text/html; charset=utf-8"
SVG = "image/svg+xml; charset=utf-8"
METRICS = "text/plain; version=1.0.0; charset=utf-8"
OK_BODY = json.dumps({"model": "tiny", "sequence": [1.0, 2.0, 3.0]}).encode()


@dataclass(frozen=True)
class Route:
    """A path to try, the rule it must match (None: no rule) and its answers to GET/POST."""

    path: str
    rule: str | None
    get: int | None = None  # status of GET (and HEAD); None: GET is not allowed (405)
    post: int | None = None  # status of POST with a valid body; None: POST is not allowed
    content_type: str = JSON  # of a 2xx answer; errors are always JSON
    other: int = 405  # status of a method the rule does not allow
    v2: bool = False  # errors in the Open Inference Protocol's form, {"error": message}


# The error code of a 404 from a route's own lookup (other 404s: no rule, no file).
MISSING_CODES = {
    "/models/<name>": "unknown_model",
    "/models/<name>/versions/<version>/input-weights": "unknown_version",
}
ROUTES = [
    Route("/forecast", "/forecast", post=200),
    Route("/models", "/models", get=200),
    Route("/models/tiny", "/models/<name>", get=200),
    Route("/models/no-such-model", "/models/<name>", get=404),
    Route(
        "/models/tiny/versions/no-such-version/input-weights",
        "/models/<name>/versions/<version>/input-weights",
        get=404,
    ),
    Route("/healthz", "/healthz", get=200),
    Route("/readyz", "/readyz", get=200),
    Route("/metrics", "/metrics", get=200, content_type=METRICS),
    Route("/openapi.json", "/openapi.json", get=200),
    Route("/", "/", get=200, content_type=HTML),
    Route("/static/favicon.svg", "/static/<path:filename>", get=200, content_type=SVG),
    Route("/static/no-such-file.js", "/static/<path:filename>", get=404),
    # werkzeug reads leading slashes as one (a URL's path cannot start with //)
    Route("//healthz", "/healthz", get=200),
    # absolute-form with an empty path: the page, not a redirect to "/" on that host;
    # werkzeug tries the slash-less match only for methods the rule allows, so others 404
    Route("http://elsewhere.example", "/", get=200, content_type=HTML, other=404),
    # no rule: 404 whatever the method (`*`: gunicorn's 400 but for OPTIONS), never a
    # redirect to a "fixed" path
    Route("/no-such-path", None),
    Route("/healthz/", None),
    Route("/models/", None),
    Route("/models/tiny/", None),
    Route("/forecast/", None),
    Route("/models//tiny", None),
    Route("/static//favicon.svg", None),
    Route("*", None),
    # Open Inference Protocol v2: a POST of the /forecast body above is a bad infer request
    Route("/v2", "/v2", get=200, v2=True),
    Route("/v2/health/live", "/v2/health/live", get=200, v2=True),
    Route("/v2/health/ready", "/v2/health/ready", get=200, v2=True),
    Route("/v2/models/tiny", "/v2/models/<name>", get=200, v2=True),
    Route("/v2/models/tiny/versions/0", "/v2/models/<name>/versions/<version>", get=404, v2=True),
    Route("/v2/models/tiny/ready", "/v2/models/<name>/ready", get=200, v2=True),
    Route(
        "/v2/models/tiny/versions/0/ready",
        "/v2/models/<name>/versions/<version>/ready",
        get=404,
        v2=True,
    ),
    Route("/v2/models/tiny/infer", "/v2/models/<name>/infer", post=400, v2=True),
    Route(
        "/v2/models/tiny/versions/0/infer",
        "/v2/models/<name>/versions/<version>/infer",
        post=400,
        v2=True,
    ),
    Route("/v2/no-such-path", None, v2=True),
]


def chunked(size_line: bytes, data: bytes, end: bytes = b"0\r\n\r\n") -> tuple[dict, bytes]:
    """Headers and body of a chunked transfer: one chunk, then the last chunk `end`."""
    return {"Transfer-Encoding": "chunked"}, size_line + b"\r\n" + data + b"\r\n" + end


# name -> (extra headers, body bytes sent after the head, whether the framing is valid)
FRAMINGS: dict[str, tuple[dict, bytes | None, bool]] = {
    "none": ({}, None, True),
    "length shorter than data": ({"Content-Length": str(len(OK_BODY))}, OK_BODY + b"xyz", True),
    "chunk size not hex": (*chunked(b"zz", OK_BODY), False),
    "chunk longer than declared": (*chunked(b"%x" % (len(OK_BODY) - 5), OK_BODY), False),
    "trailer without colon": (
        *chunked(b"%x" % len(OK_BODY), OK_BODY, b"0\r\nbad trailer no colon\r\n\r\n"),
        False,
    ),
    "length and chunked": (
        {"Content-Length": "5", "Transfer-Encoding": "chunked"},
        b"%x\r\n%s\r\n0\r\n\r\n" % (len(OK_BODY), OK_BODY),
        False,
    ),
}


# Framings the worker (service/worker.py) refuses while it reads the request, before gunicorn's
# parser or the app see it: it follows the chunks to find where the request ends.
REFUSED_BY_WORKER = frozenset({"chunk size not hex", "chunk longer than declared"})


def refused_by_gunicorn(path: str, method: str, framing: str) -> bool:
    """Whether gunicorn's HTTP parser refuses the request (both lengths given, or `*`
    (asterisk-form) with a method other than OPTIONS): it has no path to tell /v2 by."""
    headers = FRAMINGS[framing][0]
    both = "Content-Length" in headers and "Transfer-Encoding" in headers
    return both or (path == "*" and method != "OPTIONS")


def refused_by_parser(path: str, method: str, framing: str) -> bool:
    """Whether the request is refused before the app sees it: by the worker (chunks it cannot
    follow) or by gunicorn's HTTP parser."""
    return framing in REFUSED_BY_WORKER or refused_by_gunicorn(path, method, framing)


def expected(route: Route, method: str, framing: str) -> tuple[int, str | None]:
    """The documented status and error code (None: not an error, or no body to tell)."""
    valid = FRAMINGS[framing][2]
    if refused_by_parser(route.path, method, framing):
        return 400, "bad_http_request"
    if route.rule is None:
        return 404, "not_found"
    allowed = {"GET": route.get, "HEAD": route.get, "POST": route.post}.get(method)
    if allowed is None:
        return route.other, HTTP_CODES[route.other]
    if method == "POST":
        if not valid:
            return 400, "bad_http_request"  # the body is read: its framing is refused
        if framing == "none":
            return 400, "invalid_json"  # no body at all
    if allowed == 404:
        return 404, MISSING_CODES.get(route.rule or "", "not_found")
    if allowed == 400:
        return 400, "invalid_request"
    return allowed, None


@dataclass(frozen=True)
class Answer:
    """A raw HTTP answer: status, reason phrase, headers (lower-case names), body."""

    status: int
    reason: str
    headers: dict[str, str]
    body: bytes


def send(port: int, data: bytes) -> Answer:
    """Send `data` on a fresh connection; read the answer until the server closes it."""
    with socket.create_connection((HOST, port), timeout=5) as sock:
        sock.sendall(data)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    version, code, reason = status_line.split(" ", 2)
    assert version == "HTTP/1.1", status_line
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        assert name.lower() not in headers, f"{name} twice"
        headers[name.lower()] = value.strip()
    return Answer(int(code), reason, headers, body)


def request_bytes(method: str, path: str, framing: str) -> bytes:
    """The request: Connection: close, a JSON content type, the framing's headers and body."""
    headers, body, _ = FRAMINGS[framing]
    head = http_bytes(method, path, None, headers)
    return head + (body or b"")


def check(answer: Answer, route: Route, method: str, framing: str) -> None:
    """The answer has the expected status, phrase, content type and body, and no Location."""
    status, code = expected(route, method, framing)
    assert answer.status == status, answer.body[:300]
    assert answer.reason == HTTPStatus(status).phrase
    assert "location" not in answer.headers
    content_type = route.content_type if status < 300 else JSON
    assert answer.headers["content-type"] == content_type
    # The parser's refusals carry their JSON body whatever the method (it never got one),
    # and close the connection, so that body cannot be taken for the next answer.
    if method == "HEAD" and not refused_by_parser(route.path, method, framing):
        assert answer.body == b""
        return
    if content_type != JSON:
        assert answer.body  # the page, a static file, metrics text
        return
    body = json.loads(answer.body)
    if status >= 400 and route.v2 and not refused_by_gunicorn(route.path, method, framing):
        assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    elif status >= 400:
        assert set(body["error"]) == {"code", "message", "field"}
        assert body["error"]["code"] == code
    elif route.rule == "/forecast":
        assert body["model"] == "tiny" and len(body["forecast"]) == 1
    elif route.rule == "/models":
        assert "tiny" in {m["name"] for m in body["models"]}
    elif route.rule == "/models/<name>":
        assert body["name"] == "tiny"
    elif route.rule == "/healthz":
        assert body == {"status": "ok"}
    elif route.rule == "/readyz":
        assert body["status"] == "ready"
    elif route.rule == "/v2":
        assert body["name"] == "gatecast"
    elif route.rule == "/v2/health/live":
        assert body == {"live": True}
    elif route.rule == "/v2/health/ready":
        assert body == {"ready": True}
    elif route.rule == "/v2/models/<name>":
        assert body["name"] == "tiny" and body["inputs"][0]["name"] == "observations"
    elif route.rule == "/v2/models/<name>/ready":
        assert body == {"name": "tiny", "ready": True}
    else:
        assert body["openapi"].startswith("3.1")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Running]:
    """gunicorn (one worker) on the session's models; its log is checked at the end."""
    log = tmp_path_factory.mktemp("matrix") / "gunicorn.log"
    with gunicorn(model_dir, log, env={"GATECAST_WORKERS": "1"}, ready_path="/readyz") as srv:
        yield srv
        assert "Traceback" not in srv.log_text() and '"exc"' not in srv.log_text()


@pytest.mark.parametrize("route", ROUTES, ids=[r.path for r in ROUTES])
def test_every_method_and_framing(server: Running, route: Route) -> None:
    failures = []
    for method in METHODS:
        for framing in FRAMINGS:
            try:
                answer = send(server.port, request_bytes(method, route.path, framing))
                check(answer, route, method, framing)
            except (AssertionError, OSError, ValueError) as err:
                failures.append(f"{method} {route.path} [{framing}]: {err!r}")
    assert not failures, "\n".join(failures)
    assert exchange(server.port, http_bytes("GET", "/healthz")).status == 200
    assert server.worker_pids() == server.workers  # no crash, no timeout kill


def test_every_rule_is_in_the_matrix(app) -> None:
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    assert rules == {r.rule for r in ROUTES if r.rule is not None}


@pytest.mark.parametrize(
    ("path", "header", "status"),
    [
        ("/static/favicon.svg", 'If-Match: "other"', 412),
        ("/static/favicon.svg", "Range: bytes=99999-", 416),
        ("/static/favicon.svg", "Range: bytes=0-3", 206),
        ("/static/favicon.svg", "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT", 304),
        ("/", "If-None-Match: *", 304),
    ],
)
def test_conditional_and_range_answers(server: Running, path: str, header: str, status: int):
    name, _, value = header.partition(": ")
    answer = send(server.port, http_bytes("GET", path, None, {name: value}, content_type=None))
    assert answer.status == status and answer.reason == HTTPStatus(status).phrase
    if status >= 400:  # errors are JSON, never the file
        assert answer.headers["content-type"] == JSON
        assert json.loads(answer.body)["error"]["code"] == HTTP_CODES[status]
    elif status == 206:
        assert answer.body == b"<svg"
    else:
        assert answer.body == b""
