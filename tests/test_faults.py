"""Faults: broken checkpoints in the model folder, unreadable ones, FIFOs and symlink loops,
training killed mid-run.

The slow tests run on the real gunicorn, most of them the scenarios of bench/reliability.py
at small sizes; the first test checks the registry's part of the unreadable-folder case
in-process.
"""

import errno
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.checkpoints import publish, version_path
from bench.common import train_command, wait_until
from bench.http_client import request
from bench.reliability.faults import broken_checkpoints, drop_file_caps, write_broken
from bench.reliability.killed_training import killed_training
from bench.server import gunicorn
from model.export import list_checkpoints
from model.served import STATE_FILE
from service import ServiceConfig, create_app
from service.registry import LookupFailed, Registry


def test_a_model_folder_that_cannot_be_listed_is_reported(
    tmp_path: Path, model_dir: Path, monkeypatch
) -> None:
    """An unlistable folder has no checkpoints to scan; the registry must still name it."""
    root = tmp_path / "models"
    shutil.copytree(model_dir / "tiny", root / "tiny")
    shutil.copytree(model_dir / "tiny", root / "locked")
    real = os.scandir

    def scandir(path="."):  # what a folder without read permission does
        if isinstance(path, str | os.PathLike) and Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    registry = Registry(root)
    snap = registry.refresh()
    assert set(snap.latest) == {"tiny"}
    assert snap.unlistable["locked"].reason == "cannot list its folder: Permission denied"
    with pytest.raises(LookupFailed) as err:
        registry.get("locked", snap=snap)
    assert err.value.kind == "not_loadable"
    assert registry.refresh().unlistable["locked"] is snap.unlistable["locked"]  # logged once

    app = create_app(ServiceConfig(model_dir=str(root), poll_seconds=0))
    client = app.test_client()
    listing = {m["name"]: m for m in client.get("/models").get_json()["models"]}
    assert listing["locked"]["status"] == "failed" and listing["locked"]["versions"] == []
    assert "Permission denied" in listing["locked"]["reason"]
    assert listing["tiny"]["status"] == "loaded" and listing["tiny"]["reason"] is None
    assert client.get("/models/locked").get_json()["reason"] == listing["locked"]["reason"]
    shutil.rmtree(root / "tiny")
    app = create_app(ServiceConfig(model_dir=str(root), poll_seconds=0))
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503
    assert "1 model folder(s) cannot be listed" in ready.get_json()["error"]["message"]


@pytest.mark.slow
@pytest.mark.parametrize("permissions", [False, True], ids=["content", "permissions"])
def test_broken_checkpoints_are_listed_logged_and_the_good_model_serves(
    tmp_path: Path, model_dir: Path, permissions: bool
) -> None:
    prefix = drop_file_caps() if permissions else ()
    if prefix is None:
        pytest.skip("root cannot drop CAP_DAC_OVERRIDE here (setpriv missing or refused)")
    root = tmp_path / "models"
    root.mkdir()
    good = list_checkpoints(model_dir)["tiny"][-1]
    expected = write_broken(root, good, permissions)
    if permissions:  # only the permission cases: the content ones ran in the other case
        for name in [n for n in expected if "unreadable" not in n]:
            shutil.rmtree(root / name)
            del expected[name]
    env = {"GATECAST_POLL_SECONDS": "1"}
    with gunicorn(root, tmp_path / "gunicorn.log", env=env, prefix=prefix) as srv:
        r = broken_checkpoints(srv, root, good, expected)
    assert len(expected) == (2 if permissions else 7)
    for name, phrase in expected.items():
        assert phrase in r.listed.get(name, ""), (name, r.listed)
        assert name in r.logged and phrase in r.logged[name], (name, r.logged)
        assert str(root) not in r.listed[name]  # no server paths in reasons
    assert r.unexpected == []  # broken-tempfile holds only a temporary file: not a model
    assert {s for s, _ in r.ready_before} == {503}
    message = r.ready_before[0][1]["error"]["message"]  # type: ignore[index]
    assert message.startswith("no model is loaded: ")
    assert ("cannot be listed" in message) == permissions
    assert {s for s, _ in r.ready_after} == {200}
    assert r.ready_after_s < 30
    assert r.served == {r.good: r.asked}  # every request, by the good (older) version
    assert r.listed_after["good"] == "loaded"
    assert all(r.listed_after[name] == "failed" for name in expected)


def nobody_reads(fifo: Path) -> bool:
    """Whether no process has the FIFO open for reading (a non-blocking writer gets ENXIO)."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError as err:
        return err.errno == errno.ENXIO
    return False


@pytest.mark.slow
def test_fifos_and_symlink_loops_never_stop_a_worker(tmp_path: Path, model_dir: Path) -> None:
    root = tmp_path / "models"
    # Nothing promoted (no served.json): the newest good version is served.
    shutil.copytree(model_dir / "tiny", root / "tiny", ignore=shutil.ignore_patterns(STATE_FILE))
    good = list_checkpoints(root)["tiny"][-1]
    fifo, loop = version_path(root / "tiny"), version_path(root / "tiny")
    os.mkfifo(fifo)  # named like the newest checkpoints: a boot used to hang in open()
    loop.symlink_to(loop)  # and every scan used to fail on this one
    env = {"GATECAST_POLL_SECONDS": "0.5"}
    log = tmp_path / "gunicorn.log"
    with gunicorn(root, log, env=env, ready_path="/readyz", timeout=60) as srv:
        reply = request(srv.port, "GET", "/models/tiny")
        status, listing = reply.status, reply.json()
        reasons = {v["version"]: v["reason"] for v in listing["versions"]}
        assert status == 200 and listing["latest"] == good.stem
        assert reasons[fifo.stem] == "it is a FIFO, not a regular file"
        assert reasons[loop.stem] == "cannot stat the file: Too many levels of symbolic links"
        # More of both while it runs, then a new good version: every worker serves it.
        later_fifo, later_loop = version_path(root / "tiny"), version_path(root / "tiny")
        os.mkfifo(later_fifo)
        later_loop.symlink_to(later_loop)
        fresh = publish(good)
        body = {"model": "tiny", "sequence": [1.0, 2.0, 3.0]}

        def served_by_fresh() -> bool:
            answers = [request(srv.port, "POST", "/forecast", body) for _ in range(8)]
            return all(a.status == 200 and a.json()["version"] == fresh.stem for a in answers)

        assert wait_until(served_by_fresh, timeout=30, step=0.2)
        for _ in range(10):
            began = time.monotonic()
            assert request(srv.port, "GET", "/healthz", timeout=5).status == 200
            assert time.monotonic() - began < 1
        assert srv.worker_pids() == srv.workers  # no worker hung, died or was replaced

        def listed_as_failed() -> bool:  # on every worker the next request may reach
            listing = request(srv.port, "GET", "/models/tiny").json()
            statuses = {v["version"]: v["status"] for v in listing["versions"]}
            later = [statuses.get(p.stem) for p in (later_fifo, later_loop, fifo, loop)]
            return later == ["failed"] * 4

        assert all(wait_until(listed_as_failed, timeout=10, step=0.1) for _ in range(8))
        assert nobody_reads(fifo) and nobody_reads(later_fifo)  # never opened by a worker
    assert "Worker failed to boot" not in log.read_text()


@pytest.mark.slow
def test_killed_training_never_shows_a_partial_checkpoint(
    tmp_path: Path, copy_models: Callable[[Path], Path], sine_csv: Path
) -> None:
    root = copy_models(tmp_path)
    flags = ["--window", "12", "--hidden", "8", "--layers", "1", "--epochs", "6",
             "--patience", "100"]  # fmt: skip
    train = train_command(sine_csv, "killed", root, flags)
    env = {"GATECAST_POLL_SECONDS": "0.5"}
    with gunicorn(root, tmp_path / "gunicorn.log", env=env, ready_path="/readyz") as srv:
        r = killed_training(srv, root, train, "killed", [0.5, 0.9, 0.99], poll=0.5)
    assert len(r.outcomes) == 4 and r.polls > 10
    assert r.failures_seen == []  # not one poll of /models showed a failed version
    assert r.listed and all(s in ("loaded", "not_kept") for s in r.statuses)
    assert r.loadable == len(r.listed) == len(list_checkpoints(root)["killed"])
    assert sorted(r.listed) == sorted(p.stem for p in list_checkpoints(root)["killed"])
    # a run killed mid-write leaves its temporary file, which nobody lists
    assert r.temp_left >= sum("mid-write" in o for o in r.outcomes)
