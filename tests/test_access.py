"""Access: API keys on every route but the exempt ones, compared in constant time, never
logged; request limits from the environment, enforced before any model work; models only
from the model folder (no symlink out of it, no request string on the file system)."""

import ast
import hmac
import inspect
import io
import json
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from bench.http_client import exchange, http_bytes
from bench.server import Running, gunicorn
from service import ServiceConfig, create_app, inference, middleware
from service import request as request_module

KEY = "k3y-Alpha_0123456789"
OTHER = "second.key-XYZ"
# Health probes (load balancers) and the explorer page with its static files, which hold
# no data; every other route needs a key. A new route is refused until listed here.
EXEMPT = {"monitoring.healthz", "monitoring.readyz", "page.index", "static"}
UNAUTHORIZED = {
    "error": {"code": "unauthorized", "message": "missing or invalid API key", "field": None}
}
BAD_HEADERS = [
    None,
    "",
    "Bearer",
    "Bearer ",
    "Basic " + KEY,
    "Basic eDp5",
    "Token " + KEY,
    "Bearer wrong",
    f"Bearer {KEY}x",
    f"Bearer x{KEY}",
    f"Bearer {KEY[:-1]}",
    f"Bearer {KEY} {KEY}",
    f"Bearer {KEY},{OTHER}",
    f"Bearer{KEY}",
    f"bearer{KEY}",
    f"Bearer {OTHER},k",
    f"Bearer\t{KEY}",
    "Bearer " + KEY.upper(),
    "Bearer é",
    # Only ASCII spaces and tabs around the token are optional whitespace.
    f"Bearer {KEY}\xa0",
    f"Bearer \xa0{KEY}",
]
# RFC 6750/7235: the scheme is case-insensitive and may be followed by several spaces.
GOOD_HEADERS = [
    f"Bearer {KEY}",
    f"bearer {KEY}",
    f"BEARER  {KEY}",
    f"Bearer {OTHER}",
    f"Bearer {KEY} \t",
]
FORECAST = {"model": "tiny", "sequence": [1.0, 2.0, 3.0]}


@pytest.fixture(scope="module")
def secured(model_dir: Path):
    """An app with two keys, in-process."""
    app = create_app(ServiceConfig(model_dir=str(model_dir), poll_seconds=0, api_keys=(KEY, OTHER)))
    yield app
    app.extensions["gatecast"].registry.close()


def every_route(app) -> Iterator[tuple[str, str, str]]:
    """(endpoint, method, URL) for every rule and method in the app's url_map."""
    static = next(p.name for p in Path(app.static_folder).rglob("*") if p.is_file())
    version = app.extensions["gatecast"].registry.snapshot.latest["tiny"].version
    for rule in app.url_map.iter_rules():
        url = rule.rule.replace("<name>", "tiny").replace("<path:filename>", static)
        url = url.replace("<version>", version)
        for method in sorted(rule.methods - {"OPTIONS"}):
            yield rule.endpoint, method, url


def call(client, method: str, url: str, header: str | None):
    """One request with an optional Authorization header (a valid body for POST)."""
    headers = {"Authorization": header} if header is not None else {}
    body = {"json": FORECAST} if method == "POST" else {}
    return client.open(url, method=method, headers=headers, **body)


def test_every_route_but_the_exempt_needs_a_key(secured) -> None:
    client = secured.test_client()
    seen = set()
    for endpoint, method, url in every_route(secured):
        seen.add(endpoint)
        r = call(client, method, url, None)
        if endpoint in EXEMPT:
            assert r.status_code == 200, (method, url)
        else:
            assert r.status_code == 401, (method, url)
            assert method == "HEAD" or r.get_json() == UNAUTHORIZED
            assert call(client, method, url, f"Bearer {KEY}").status_code == 200, (method, url)
    assert {"monitoring.metrics", "models.list_models", "docs.openapi"} <= seen
    assert seen >= EXEMPT and set(middleware.EXEMPT_ENDPOINTS) == EXEMPT
    for path in ("/nope", "/models/tiny/extra", "/../etc/passwd"):  # no route probing
        assert client.get(path).status_code == 401


def test_bad_tokens_all_look_the_same(secured) -> None:
    """Same status, body and headers (but the request id) whatever was wrong, on any route."""
    client = secured.test_client()
    answers = set()
    for header in BAD_HEADERS:
        for method, url in (("POST", "/forecast"), ("GET", "/models"), ("GET", "/metrics")):
            r = call(client, method, url, header)
            assert r.status_code == 401 and r.get_json() == UNAUTHORIZED, header
            assert r.headers["WWW-Authenticate"] == "Bearer"
            headers = sorted((k, v) for k, v in r.headers.items() if k != "X-Request-Id")
            answers.add((r.status_code, r.get_data(), tuple(headers)))
    assert len(answers) == 1


@pytest.mark.parametrize("header", GOOD_HEADERS)
def test_good_tokens_pass(secured, header: str) -> None:
    assert call(secured.test_client(), "POST", "/forecast", header).status_code == 200


def test_an_empty_key_cannot_be_configured() -> None:
    assert ServiceConfig.from_env({"GATECAST_API_KEYS": " , ,"}).api_keys == ()
    with pytest.raises(ValueError, match="keys must be non-empty"):
        ServiceConfig(api_keys=("",))


def test_every_key_is_compared_with_compare_digest(secured, monkeypatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return original(a, b)

    monkeypatch.setattr(middleware.hmac, "compare_digest", counting)  # the module hmac itself
    client = secured.test_client()
    for header in [*BAD_HEADERS, *GOOD_HEADERS]:
        calls.clear()
        call(client, "GET", "/models", header)
        assert sorted(b for _, b in calls) == sorted([KEY.encode(), OTHER.encode()]), header


def test_no_key_is_compared_any_other_way() -> None:
    """Code-level: no ==, != or `in` touches a key anywhere in the service package."""
    secrets = {"candidate", "token", "api_keys"}
    for path in Path(middleware.__file__).parent.rglob("*.py"):
        if path.name == "config.py":
            continue  # start-up validation of the configured keys, no request data
        names = secrets | ({"key", "keys"} if path.name == "middleware.py" else set())
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Compare):
                continue
            for side in [node.left, *node.comparators]:
                bad = (isinstance(side, ast.Name) and side.id in names) or (
                    isinstance(side, ast.Attribute) and side.attr in {"keys", "api_keys"}
                )
                assert not bad, f"{path.name}:{node.lineno} compares a key"
    assert "compare_digest" in inspect.getsource(middleware.authorized)


def test_keys_never_reach_the_log(model_dir: Path, capsys) -> None:
    """In-process: neither a good nor a wrong key, in a header or a query, is logged."""
    cfg = ServiceConfig(model_dir=str(model_dir), poll_seconds=0, api_keys=(KEY,))
    client = create_app(cfg).test_client()
    client.post("/forecast", json=FORECAST, headers={"Authorization": f"Bearer {KEY}"})
    client.get("/models", headers={"Authorization": f"Bearer {KEY}x"})
    client.get(f"/models?key={KEY}", headers={"Authorization": f"Bearer {KEY}"})
    err = capsys.readouterr().err
    assert "request" in err and KEY not in err
    assert KEY not in repr(cfg)
    client.application.extensions["gatecast"].registry.close()


LIMITS = {
    "GATECAST_MAX_BODY_BYTES": "600",
    "GATECAST_MAX_SEQUENCE_LENGTH": "8",
    "GATECAST_MAX_BATCH": "2",
    "GATECAST_MAX_HORIZON": "3",
    "GATECAST_MAX_INTERNALS_VALUES": "500",
}
OVER_LIMIT = [
    ({**FORECAST, "sequence": [1.0] * 9}, 400, "sequence"),
    ({"model": "tiny", "sequences": [[1.0]] * 3}, 400, "sequences"),
    ({**FORECAST, "horizon": 4}, 400, "horizon"),
    ({**FORECAST, "sequence": [1.0] * 8, "horizon": 3}, 400, "internals"),
    ({**FORECAST, "id": "x" * 700}, 413, None),
]


def test_limits_come_from_the_environment_and_stop_before_model_work(
    model_dir: Path, monkeypatch
) -> None:
    env = {"GATECAST_MODEL_DIR": str(model_dir), "GATECAST_POLL_SECONDS": "0", **LIMITS}
    app = create_app(ServiceConfig.from_env(env))
    client = app.test_client()

    def no_model_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("model work started for an over-limit request")

    monkeypatch.setattr(inference, "run", no_model_work)
    monkeypatch.setattr(request_module, "state_tensors", no_model_work)
    for body, status, field in OVER_LIMIT:
        r = client.post("/forecast", json=body)
        assert r.status_code == status, r.get_data(as_text=True)
        assert r.get_json()["error"]["field"] == field
    chunked = client.post(  # no Content-Length: cut off at the limit while read
        "/forecast",
        input_stream=io.BytesIO(json.dumps({**FORECAST, "id": "x" * 700}).encode()),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # as gunicorn sets it
    )
    assert chunked.status_code == 413
    app.extensions["gatecast"].registry.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Running]:
    """The real gunicorn with two keys, tight limits and DEBUG logging."""
    log = tmp_path_factory.mktemp("access") / "gunicorn.log"
    env = {"GATECAST_API_KEYS": f"{KEY},{OTHER}", "GATECAST_LOG_LEVEL": "DEBUG", **LIMITS}
    with gunicorn(model_dir, log, env=env, ready_path="/readyz") as srv:
        yield srv


def test_keys_never_reach_the_log_of_a_real_server(live: Running) -> None:
    port = live.port
    sent = 0
    for header in [*BAD_HEADERS, *GOOD_HEADERS]:
        headers = {"Authorization": header} if header is not None else {}
        for path in ("/models", f"/models/tiny?key={KEY}", "/metrics", "/openapi.json"):
            reply = exchange(port, http_bytes("GET", path, None, headers, None))
            assert reply.status in (200, 401) and KEY.encode() not in reply.body
            sent += 1
    body = json.dumps(FORECAST).encode()
    reply = exchange(
        port, http_bytes("POST", "/forecast", body, {"Authorization": f"Bearer {KEY}"})
    )
    assert reply.status == 200
    for over, status, _ in OVER_LIMIT:  # the environment's limits, over real HTTP
        raw = json.dumps(over).encode()
        auth = {"Authorization": f"Bearer {OTHER}"}
        assert exchange(port, http_bytes("POST", "/forecast", raw, auth)).status == status
    log = live.log_text()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert sum(line.get("status") == 401 for line in lines) >= len(BAD_HEADERS)
    assert sum(line.get("msg") == "request" for line in lines) >= sent
    for secret in (KEY, OTHER, KEY[:-1], KEY.upper()):
        assert secret not in log


def test_symlinks_out_of_the_model_folder_are_refused(tmp_path: Path, model_dir: Path) -> None:
    outside = tmp_path / "outside"
    shutil.copytree(model_dir / "tiny", outside / "tiny")
    root = tmp_path / "models"
    shutil.copytree(model_dir / "article-cell", root / "article-cell")
    (root / "escaped").symlink_to(outside / "tiny", target_is_directory=True)
    [real] = list((outside / "tiny").glob("*.pt"))
    (root / "article-cell" / "29991231T235959999999Z.pt").symlink_to(real)
    (root / "alias").symlink_to(root / "article-cell", target_is_directory=True)  # inside: fine
    app = create_app(ServiceConfig(model_dir=str(root), poll_seconds=0))
    client = app.test_client()
    listing = {m["name"]: m for m in client.get("/models").get_json()["models"]}
    assert listing["escaped"]["status"] == "failed"
    assert "outside the model folder" in listing["escaped"]["versions"][0]["reason"]
    newest = listing["article-cell"]["versions"][0]
    assert newest["status"] == "failed" and "outside the model folder" in newest["reason"]
    assert listing["article-cell"]["status"] == listing["alias"]["status"] == "loaded"
    snap = app.extensions["gatecast"].registry.snapshot
    entries = [e for versions in snap.versions.values() for e in versions.values()]
    paths = [e.path for e in entries if hasattr(e, "path")]  # failed and available ones
    assert paths and all(p.parent.parent == root for p in paths)  # from listing the folder
    r = client.post("/forecast", json={"model": "escaped", "sequence": [1.0]})
    assert r.status_code == 503 and str(outside) not in r.get_data(as_text=True)
    app.extensions["gatecast"].registry.close()
    (tmp_path / "link").symlink_to(root, target_is_directory=True)  # the folder itself: fine
    linked = create_app(ServiceConfig(model_dir=str(tmp_path / "link"), poll_seconds=0))
    assert set(linked.extensions["gatecast"].registry.snapshot.latest) == {"article-cell", "alias"}
    linked.extensions["gatecast"].registry.close()


class FileWatch:
    """Records the file-system audit events one thread raises while watching (PEP 578)."""

    EVENTS = ("open", "os.listdir", "os.scandir", "os.chdir", "os.symlink", "os.remove")

    def __init__(self) -> None:
        self.thread: int | None = None
        self.seen: list[tuple[str, tuple[object, ...]]] = []
        sys.addaudithook(self.hook)  # hooks cannot be removed: it records only while watching

    def hook(self, event: str, args: tuple[object, ...]) -> None:
        """Audit hook."""
        if self.thread == threading.get_ident() and event in self.EVENTS:
            self.seen.append((event, args))


WATCH = FileWatch()


@pytest.mark.parametrize(
    "name", ["../tiny", "tiny/../tiny", "/etc/passwd", "..", ".", "tiny\x00", "%2e%2e", "~"]
)
def test_request_names_never_reach_the_file_system(secured, name: str) -> None:
    client = secured.test_client()
    auth = {"Authorization": f"Bearer {KEY}"}
    bodies = [{**FORECAST, "model": name}, {**FORECAST, "version": name}]
    url = "/models/" + quote(name, safe="")

    def requests() -> list[int]:
        codes = [client.post("/forecast", json=b, headers=auth).status_code for b in bodies]
        return [*codes, client.get(url, headers=auth).status_code]

    warm = requests()  # first calls may import modules lazily (files read): not watched
    WATCH.seen.clear()
    WATCH.thread = threading.get_ident()
    try:
        codes = requests()
    finally:
        WATCH.thread = None
    assert codes == warm and all(c in (400, 404) for c in codes), codes
    assert WATCH.seen == []


def test_a_non_ascii_key_matches_the_bytes_sent(model_dir: Path) -> None:
    key = "clé-naïve-✓"
    cfg = ServiceConfig(model_dir=str(model_dir), poll_seconds=0, api_keys=(key,))
    client = create_app(cfg).test_client()
    # WSGI servers decode header bytes as latin-1; the client sent the key's UTF-8 bytes.
    sent = ("Bearer " + key).encode().decode("latin-1")
    assert client.get("/models", headers={"Authorization": sent}).status_code == 200
    wrong = ("Bearer " + key).encode("latin-1", "replace").decode("latin-1")
    assert client.get("/models", headers={"Authorization": wrong}).status_code == 401
    assert (
        client.get("/models", headers={"Authorization": f"Bearer \t{sent[7:]} "}).status_code == 200
    )
