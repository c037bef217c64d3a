"""The served version in the service: GATECAST_SERVE, served.json at each scan, /models, and a
promotion and a rollback under load against the real gunicorn."""

import time
from pathlib import Path

import pytest
import torch

from bench.common import wait_until
from bench.http_client import request
from bench.server import gunicorn
from model import served
from model.served import STATE_FILE
from scripts import models as command
from service import ServiceConfig, create_app
from service.checkpoint import LoadedModel
from service.registry import Registry
from service.snapshot import NotKept
from tests.test_gunicorn import Load
from tests.test_models_command import versions


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Load models as a worker does (create_app sets 1): no thread pool fights the others."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def promote(root: Path, version: str, note: str | None = None) -> None:
    """Write tiny's served.json as gatecast-models promote does."""
    state = served.read(root / "tiny")
    newest = versions(root)[-1]
    new = served.started(version, newest, note) if state is None else state.promote(version, note)
    served.write(root / "tiny", new)


def test_the_promoted_version_is_served_and_pinning_still_works(folder: Path) -> None:
    oldest, middle, newest = versions(folder)
    reg = Registry(folder)
    held = reg.refresh()
    assert held.latest["tiny"].version == newest
    assert held.latest_reasons["tiny"] == "newest: nothing promoted"
    promote(folder, middle, "lower MASE")
    snap = reg.refresh()
    assert reg.get("tiny").version == middle
    assert snap.latest_reasons["tiny"].startswith("promoted at ")
    assert snap.latest_reasons["tiny"].endswith(" (lower MASE)")
    assert reg.get("tiny", newest).version == newest and reg.get("tiny", oldest).version == oldest
    assert snap.latest["tiny"] is held.versions["tiny"][middle]  # already loaded: not again
    assert held.latest["tiny"].version == newest  # a request's snapshot never changes
    assert snap.latest["article-cell"] is held.latest["article-cell"]  # other models untouched


def test_newest_ignores_what_is_promoted(folder: Path) -> None:
    _, middle, newest = versions(folder)
    promote(folder, middle)
    snap = Registry(folder, serve="newest").refresh()
    assert snap.latest["tiny"].version == newest
    assert snap.latest_reasons["tiny"] == "newest: GATECAST_SERVE=newest"


def test_the_served_version_stays_loaded_outside_the_kept_window(folder: Path) -> None:
    oldest, middle, newest = versions(folder)
    promote(folder, oldest)
    reg = Registry(folder, keep=1)
    snap = reg.refresh()
    kinds = {v: type(e) for v, e in snap.versions["tiny"].items()}
    assert kinds == {newest: LoadedModel, middle: NotKept, oldest: LoadedModel}
    assert reg.get("tiny").version == oldest and reg.get("tiny", newest).version == newest
    state = served.read(folder / "tiny")
    assert state is not None
    served.write(folder / "tiny", state.rollback())
    snap = reg.refresh()
    assert snap.latest["tiny"].version == newest
    assert snap.latest_reasons["tiny"].startswith("rolled back at ")
    assert isinstance(snap.versions["tiny"][oldest], NotKept)  # no longer served: not kept


def test_served_json_is_read_only_when_it_changes(folder: Path, monkeypatch) -> None:
    _, middle, newest = versions(folder)
    reads: list[Path] = []
    real = served.read

    def counting(path: Path) -> served.ServedState | None:
        reads.append(path)
        return real(path)

    promote(folder, middle)
    monkeypatch.setattr(served, "read", counting)
    reg = Registry(folder)
    for _ in range(3):
        assert reg.refresh().latest["tiny"].version == middle
    assert len(reads) == 1  # article-cell has no served.json: nothing to read
    served.write(folder / "tiny", served.first(newest, at="T"))
    snap = reg.refresh()
    assert snap.latest["tiny"].version == newest and len(reads) == 2
    assert snap.latest_reasons["tiny"] == "first version, served since T"
    (folder / "tiny" / STATE_FILE).unlink()
    snap = reg.refresh()
    assert snap.latest_reasons["tiny"] == "newest: nothing promoted" and len(reads) == 2


def test_a_promoted_version_that_cannot_be_served_falls_back_to_the_newest(folder: Path) -> None:
    oldest, _, newest = versions(folder)
    promote(folder, oldest)
    (folder / "tiny" / f"{oldest}.pt").write_bytes(b"PK junk")
    snap = Registry(folder).refresh()
    assert snap.latest["tiny"].version == newest
    reason = snap.latest_reasons["tiny"]
    assert reason.startswith(f"newest: the promoted version {oldest} cannot be served (")
    (folder / "tiny" / f"{oldest}.pt").unlink()
    snap = Registry(folder).refresh()
    assert snap.latest_reasons["tiny"] == (
        f"newest: the promoted version {oldest} cannot be served "
        "(its checkpoint is not in the folder)"
    )


def test_a_broken_served_json_keeps_the_served_version(folder: Path, caplog) -> None:
    _, middle, newest = versions(folder)
    promote(folder, middle)
    reg = Registry(folder)
    assert reg.refresh().latest["tiny"].version == middle
    (folder / "tiny" / STATE_FILE).write_text("{half")  # a hand edit gone wrong
    for _ in range(2):
        snap = reg.refresh()
        assert snap.latest["tiny"].version == middle
        assert snap.latest_reasons["tiny"].startswith("unchanged: served.json is not JSON")
    logged = [r for r in caplog.records if r.levelname == "ERROR" and "not JSON" in r.message]
    assert len(logged) == 1
    fresh = Registry(folder).refresh()  # nothing served before: the newest
    assert fresh.latest["tiny"].version == newest
    assert fresh.latest_reasons["tiny"].startswith("newest: served.json is not JSON")


def test_a_served_json_linked_from_outside_is_not_read(folder: Path, tmp_path: Path) -> None:
    _, middle, newest = versions(folder)
    outside = tmp_path / "outside"
    outside.mkdir()
    served.write(outside, served.first(middle))
    (folder / "tiny" / STATE_FILE).symlink_to(outside / STATE_FILE)
    snap = Registry(folder).refresh()
    assert snap.latest["tiny"].version == newest
    assert snap.latest_reasons["tiny"] == (
        "newest: served.json links outside the model folder; copy it in instead"
    )


def test_models_shows_the_served_version_and_why(folder: Path) -> None:
    _, middle, newest = versions(folder)
    app = create_app(ServiceConfig(model_dir=str(folder), poll_seconds=0))
    client = app.test_client()
    registry = app.extensions["gatecast"].registry
    try:
        info = client.get("/models/tiny").get_json()
        assert (info["latest"], info["latest_reason"]) == (newest, "newest: nothing promoted")
        promote(folder, middle, "lower MASE")
        registry.refresh()
        info = client.get("/models/tiny").get_json()
        assert info["latest"] == middle
        assert info["latest_reason"].startswith("promoted at ")
        assert info["latest_reason"].endswith("(lower MASE)")
        assert [v["version"] for v in info["versions"] if v["latest"]] == [middle]
        listed = {m["name"]: m for m in client.get("/models").get_json()["models"]}
        assert listed["tiny"] == info
        assert listed["article-cell"]["latest_reason"] == "newest: nothing promoted"
        body = {"model": "tiny", "sequence": [1.0, 2.0, 3.0]}
        assert client.post("/forecast", json=body).get_json()["version"] == middle
        pinned = client.post("/forecast", json={**body, "version": newest}).get_json()
        assert pinned["version"] == newest
    finally:
        registry.close()
    newest_app = create_app(ServiceConfig(model_dir=str(folder), poll_seconds=0, serve="newest"))
    try:
        info = newest_app.test_client().get("/models/tiny").get_json()
        assert (info["latest"], info["latest_reason"]) == (newest, "newest: GATECAST_SERVE=newest")
    finally:
        newest_app.extensions["gatecast"].registry.close()


def models_say(port: int, version: str, answers: list[dict]) -> bool:
    """Whether four /models/tiny answers in a row (new connections: any worker) serve
    `version`; `answers` keeps them, since a later request may reach a worker that has not
    switched yet."""
    answers[:] = [request(port, "GET", "/models/tiny").json() for _ in range(4)]
    return all(a["latest"] == version for a in answers)


@pytest.mark.slow  # about 45 s on a shared 2-core machine, most of it gunicorn starting
def test_promote_and_roll_back_under_load_without_a_failed_request(
    tmp_path: Path, folder: Path
) -> None:
    oldest, _, newest = versions(folder)
    assert command.main(["promote", "tiny", oldest, "--model-dir", str(folder)]) == 0
    poll = 0.5
    env = {"GATECAST_POLL_SECONDS": str(poll)}
    with gunicorn(folder, tmp_path / "gunicorn.log", env=env, ready_path="/readyz") as srv:
        load = Load(srv, threads=2)
        try:
            while load.count() < 20 and not load.failures:
                time.sleep(0.05)
            # Timed from the moment served.json is written.
            assert command.main(["promote", "tiny", newest, "--model-dir", str(folder)]) == 0
            promoted_s = load.wait_for(newest, timeout=15)
            answers: list[dict] = []
            assert wait_until(lambda: models_say(srv.port, newest, answers), timeout=15, step=0.1)
            info = answers[-1]
            assert command.main(["rollback", "tiny", "--model-dir", str(folder)]) == 0
            rolled_back_s = load.wait_for(oldest, timeout=15)
        finally:
            load.finish()
    assert load.failures == []
    answered = [v for _, _, v in load.results]
    assert answered[0] == oldest and answered[-1] == oldest and newest in answered
    assert set(answered) == {oldest, newest}
    assert info["latest"] == newest and info["latest_reason"].startswith("promoted at ")
    # One scan interval, plus the last 20 answers all carrying the version, on a busy machine.
    assert promoted_s < poll + 4.0 and rolled_back_s < poll + 4.0, (promoted_s, rolled_back_s)
