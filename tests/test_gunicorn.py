"""The real thing: gunicorn -c gunicorn.conf.py, 2 workers, real HTTP over loopback."""

import http.client
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bench.http_client import HOST, exchange, http_bytes, request
from bench.server import Running, gunicorn
from model.export import list_checkpoints

SEQUENCE = [float(k % 7) for k in range(24)]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, copy_models: Callable[[Path], Path]) -> Path:
    """A private copy of the model folder (the tests publish versions into it)."""
    return copy_models(tmp_path_factory.mktemp("gunicorn"))


@pytest.fixture(scope="module")
def server(models: Path) -> Iterator[Running]:
    """gunicorn with 2 workers polling the model folder every second (one per module)."""
    env = {"GATECAST_POLL_SECONDS": "1"}
    with gunicorn(models, models.parent / "gunicorn.log", env=env, ready_path="/readyz") as srv:
        yield srv


class Load:
    """A few threads sending /forecast requests until stopped (bounded per thread)."""

    def __init__(self, server: Running, threads: int, limit: int = 3000) -> None:
        self.server, self.limit = server, limit
        self.results: list[tuple[float, int, str]] = []  # (time, status, version)
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(k,)) for k in range(threads)]
        for t in self.threads:
            t.start()

    def run(self, k: int) -> None:
        port = self.server.port
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        body = {"model": "tiny", "sequence": SEQUENCE[k:], "horizon": 2, "internals": "last"}
        for _ in range(self.limit):
            if self.stop.is_set():
                break
            try:
                reply = request(port, "POST", "/forecast", body, conn=conn)
                version = reply.json()["version"] if reply.status == 200 else ""
                with self.lock:
                    self.results.append((time.monotonic(), reply.status, version))
                    if reply.status != 200:
                        self.failures.append(f"{reply.status}: {reply.text()}")
            except (OSError, http.client.HTTPException, ValueError) as err:
                with self.lock:
                    self.failures.append(repr(err))
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=30)
        conn.close()

    def count(self) -> int:
        with self.lock:
            return len(self.results)

    def wait_for(self, version: str, timeout: float) -> float:
        """Seconds until the last 20 answers all carry `version` (asserts it happens)."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            with self.lock:
                tail = [v for _, _, v in self.results[-20:]]
            if len(tail) == 20 and all(v == version for v in tail):
                return time.monotonic() - start
            time.sleep(0.05)
        raise AssertionError(f"{version} not served within {timeout} s")

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)


def metric(text: str, pattern: str) -> float:
    """Sum of the samples whose line matches `pattern`."""
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if re.match(pattern, line)
    )


def test_version_swap_under_load_without_a_failed_request(
    server: Running, models: Path, publish_copy
) -> None:
    old = list_checkpoints(models)["tiny"][-1].stem
    served = r'gatecast_requests_total\{endpoint="/forecast",model="tiny",status="200"'
    before = metric(request(server.port, "GET", "/metrics").text(), served)
    load = Load(server, threads=3)
    try:
        while load.count() < 30 and not load.failures:
            time.sleep(0.05)
        new = publish_copy(list_checkpoints(models)["tiny"][-1]).stem
        waited = load.wait_for(new, timeout=15)  # 1 s polls; a few intervals at most
    finally:
        load.finish()
    assert load.failures == []
    versions = [v for _, _, v in load.results]
    assert versions[0] == old and versions[-1] == new
    assert waited < 15
    # Every answer was counted once, by whichever worker gave it: /metrics sums them all.
    reply = request(server.port, "GET", "/metrics")
    assert reply.status == 200
    assert metric(reply.text(), served) - before == len(load.results)
    assert metric(reply.text(), r"gatecast_models_loaded ") == 2.0
    reply = request(server.port, "GET", "/healthz")
    assert reply.status == 200 and re.fullmatch(r"[0-9a-f]{32}", reply.headers["x-request-id"])


def test_body_limit_over_real_http(server: Running) -> None:
    """413 for a body above 2 MiB, declared by Content-Length or sent chunked."""
    # Declared too long: refused on the headers alone, before any body is sent.
    declared = http_bytes("POST", "/forecast", None, {"Content-Length": str(3 * 2**20)})
    r = exchange(server.port, declared, timeout=30)
    assert r.status == 413 and r.json()["error"]["code"] == "payload_too_large"
    # Chunked, no length: read up to the limit, refused when one more byte follows.
    chunk = b"1.5," * 16384
    chunks = [b'{"model": "tiny", "sequence": [', *[chunk] * (2**21 // len(chunk)), b"1]}"]
    head = http_bytes("POST", "/forecast", None, {"Transfer-Encoding": "chunked"})
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    r = exchange(server.port, head + body, timeout=30)
    assert r.status == 413 and r.json()["error"]["code"] == "payload_too_large"
    reply = request(server.port, "POST", "/forecast", {"model": "tiny", "sequence": [1.0]})
    assert reply.status == 200 and reply.json()["model"] == "tiny"


def test_bad_environment_stops_gunicorn_with_one_clear_line(
    tmp_path: Path, model_dir: Path
) -> None:
    log = tmp_path / "bad.log"
    with (
        pytest.raises(AssertionError, match="gunicorn exited early"),
        gunicorn(model_dir, log, env={"GATECAST_MAX_BATCH": "lots"}, timeout=60),
    ):
        pass
    text = log.read_text()
    assert "GATECAST_MAX_BATCH='lots' is not an integer" in text
    assert "Traceback" not in text


@pytest.mark.slow
def test_many_swaps_broken_files_and_rollback_under_heavier_load(
    server: Running, models: Path, publish_copy
) -> None:
    load = Load(server, threads=6, limit=20000)
    folder = models / "tiny"
    try:
        while load.count() < 50 and not load.failures:
            time.sleep(0.05)
        first = publish_copy(list_checkpoints(models)["tiny"][-1])
        load.wait_for(first.stem, timeout=15)
        broken = folder / "29991231T235959999999Z.pt"
        tmp = folder / ".tmp-broken.part"
        tmp.write_bytes(b"this is not a checkpoint")
        os.replace(tmp, broken)  # newest name, will not load: the last good one keeps serving
        time.sleep(3)
        second = publish_copy(first)  # older name than the broken one, newer than first
        load.wait_for(second.stem, timeout=15)
        second.unlink()  # roll back: the previous version is served again
        load.wait_for(first.stem, timeout=15)
        reply = request(server.port, "GET", "/models/tiny")
        assert reply.status == 200
        assert reply.json()["versions"][0]["status"] == "failed"
    finally:
        load.finish()
    assert load.failures == []
    assert load.count() > 200
