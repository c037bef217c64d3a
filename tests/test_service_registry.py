"""The model registry: new versions, broken files, the newest versions kept, atomic swaps."""

import io
import json
import os
import shutil
import threading
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from model.atomic import TEMP_PREFIX
from model.export import list_checkpoints, new_version
from service import registry as registry_module
from service.checkpoint import LoadedModel
from service.metrics import Metrics
from service.model_folder import Listing
from service.registry import LookupFailed, Registry
from service.snapshot import Failed, NotKept


@pytest.fixture
def models(tmp_path: Path, copy_models: Callable[[Path], Path]) -> Path:
    """A private copy of the session's model folder that tests may change."""
    return copy_models(tmp_path)


def newest(root: Path, name: str) -> Path:
    """The newest checkpoint file of a model."""
    return list_checkpoints(root)[name][-1]


def versioned(root: Path, name: str) -> Path:
    """A path for a new, newest version of `name`."""
    time.sleep(0.001)
    return root / name / f"{new_version()}.pt"


def test_new_version_is_served_after_refresh(models: Path, publish_copy) -> None:
    reg = Registry(models)
    first = reg.refresh().latest["tiny"]
    copy = publish_copy(newest(models, "tiny"))
    snap = reg.refresh()
    assert snap.latest["tiny"].version == copy.stem != first.version
    assert reg.get("tiny").version == copy.stem
    # The superseded version stays loaded and servable by name (not loaded again).
    assert reg.get("tiny", first.version) is first
    assert snap.versions["tiny"][first.version] is first
    assert list(snap.versions["tiny"]) == [copy.stem, first.version]  # newest first


def test_a_held_snapshot_never_changes(models: Path, publish_copy) -> None:
    reg = Registry(models)
    held = reg.refresh()
    model = held.latest["tiny"]
    publish_copy(newest(models, "tiny"))
    shutil.rmtree(models / "article-cell")
    fresh = reg.refresh()
    assert fresh is not held and "article-cell" not in fresh.versions
    assert held.latest["tiny"] is model and "article-cell" in held.latest  # untouched
    with pytest.raises(TypeError):
        held.latest["x"] = model  # type: ignore[index]
    with torch.inference_mode():  # and its modules still run
        assert held.latest["article-cell"].module.forward(torch.ones(1, 1), 1, None, None)


def torchscript_without_meta() -> bytes:
    """A valid TorchScript archive that is not a gatecast checkpoint."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # torch.jit's deprecation notice
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(torch.nn.Linear(1, 1)), buffer)
    return buffer.getvalue()


def rewrite_meta(src: Path, change) -> bytes:
    """A copy of a checkpoint archive whose meta.json went through `change`."""
    out = io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename.endswith("extra/meta.json"):
                data = json.dumps(change(json.loads(data))).encode()
            zout.writestr(item, data)
    return out.getvalue()


def drop(key: str):
    """A meta.json change that removes one key."""
    return lambda meta: {k: v for k, v in meta.items() if k != key}


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda good: os.urandom(5000), ""),
        (lambda good: good.read_bytes()[: good.stat().st_size // 2], ""),  # truncated
        (lambda good: b"", ""),
        (lambda good: torchscript_without_meta(), "meta.json"),
        (lambda good: rewrite_meta(good, lambda m: {**m, "format_version": 99}), "version 99"),
        (
            lambda good: rewrite_meta(good, lambda m: {**m, "format": "other"}),
            "gatecast-checkpoint",
        ),
        (lambda good: rewrite_meta(good, drop("window")), "'window'"),
        (lambda good: rewrite_meta(good, drop("residual_quantiles")), "residual_quantiles"),
        (
            lambda good: rewrite_meta(
                good, lambda m: {**m, "network": {**m["network"], "hidden_size": 9}}
            ),
            "do not match",
        ),
    ],
    ids=[
        "random",
        "truncated",
        "empty",
        "no-meta",
        "format-version",
        "format",
        "no-window",
        "no-quantiles",
        "wrong-hidden-size",
    ],
)
def test_broken_checkpoint_is_listed_and_the_rest_serve(models: Path, make, reason: str) -> None:
    good = newest(models, "tiny")
    broken = versioned(models, "tiny")
    broken.write_bytes(make(good))
    snap = Registry(models).refresh()
    entry = snap.versions["tiny"][broken.stem]
    assert isinstance(entry, Failed)
    assert reason in entry.reason
    assert str(models) not in entry.reason  # no server paths in reasons
    assert snap.latest["tiny"].version == good.stem  # falls back to the older version
    assert snap.latest["article-cell"].name == "article-cell"


def test_unreadable_checkpoint_is_listed_as_failed(models: Path) -> None:
    odd = versioned(models, "tiny")
    odd.mkdir()  # a folder named like a checkpoint: reading it fails
    snap = Registry(models).refresh()
    entry = snap.versions["tiny"][odd.stem]
    assert isinstance(entry, Failed) and entry.reason == "it is a folder, not a regular file"
    assert snap.latest["tiny"].version != odd.stem


def test_failed_file_is_retried_only_when_it_changes(models: Path, monkeypatch) -> None:
    calls: list[str] = []
    real = registry_module.load_checkpoint

    def counting(path, *args):
        calls.append(Path(path).name)
        return real(path, *args)

    monkeypatch.setattr(registry_module, "load_checkpoint", counting)
    broken = versioned(models, "tiny")
    broken.write_bytes(b"garbage")
    reg = Registry(models)
    reg.refresh()
    assert calls.count(broken.name) == 1
    reg.refresh()
    reg.refresh()
    assert calls.count(broken.name) == 1  # same size and mtime: not tried again
    shutil.copyfile(newest(models, "article-cell"), broken)  # now a real (if odd) checkpoint
    snap = reg.refresh()
    assert calls.count(broken.name) == 2
    assert snap.latest["tiny"].version == broken.stem


def test_hidden_and_temporary_files_are_ignored(models: Path) -> None:
    folder = models / "tiny"
    (folder / f"{TEMP_PREFIX}abc.part").write_bytes(b"half written")
    (folder / f".{new_version()}.pt").write_bytes(b"hidden")
    (folder / "notes.txt").write_text("x")
    (folder / "latest.pt").write_bytes(b"not a version name")
    (models / ".hidden-model").mkdir()
    (models / ".hidden-model" / f"{new_version()}.pt").write_bytes(b"x")
    snap = Registry(models).refresh()
    assert set(snap.versions) == {"tiny", "article-cell"}
    assert len(snap.versions["tiny"]) == 1 and not snap.failures()


def test_the_newest_versions_are_kept_and_older_ones_listed(models: Path, publish_copy) -> None:
    oldest = newest(models, "tiny")
    middle = publish_copy(oldest)
    reg = Registry(models, keep=2)
    first = reg.refresh()
    assert first.versions["tiny"][oldest.stem].version == oldest.stem
    top = publish_copy(middle)
    snap = reg.refresh()
    assert list(snap.versions["tiny"]) == [top.stem, middle.stem, oldest.stem]
    assert snap.versions["tiny"][middle.stem] is first.versions["tiny"][middle.stem]  # reused
    assert reg.get("tiny", middle.stem).version == middle.stem
    dropped = snap.versions["tiny"][oldest.stem]
    assert isinstance(dropped, NotKept)
    assert dropped.reason == "only the 2 newest loadable versions are kept in memory"
    with pytest.raises(LookupFailed) as err:
        reg.get("tiny", oldest.stem)
    assert err.value.kind == "not_kept" and "2 newest" in err.value.message
    top.unlink()  # roll back: the oldest is kept again
    again = reg.refresh()
    assert [type(e) for e in again.versions["tiny"].values()] == [LoadedModel, LoadedModel]
    assert again.latest["tiny"] is snap.versions["tiny"][middle.stem]


def test_failed_versions_do_not_count_against_the_kept_ones(models: Path) -> None:
    good = newest(models, "tiny")
    for _ in range(3):
        versioned(models, "tiny").write_bytes(b"junk")
    snap = Registry(models, keep=1).refresh()
    statuses = [type(e) for e in snap.versions["tiny"].values()]
    assert statuses == [Failed, Failed, Failed, LoadedModel]
    assert snap.latest["tiny"].version == good.stem


def test_each_failure_is_logged_and_counted_once(models: Path, caplog) -> None:
    broken = versioned(models, "tiny")
    broken.write_bytes(b"junk")
    metrics = Metrics()
    reg = Registry(models, metrics=metrics)
    for _ in range(3):
        reg.refresh()
    text = metrics.render()[0].decode()
    assert 'gatecast_model_load_failures_total{model="tiny"} 1.0' in text
    assert "gatecast_models_loaded 2.0" in text
    logged = [r for r in caplog.records if r.levelname == "ERROR" and broken.stem in r.message]
    assert len(logged) == 1 and "zip archive" in logged[0].message


def test_lookups_never_touch_the_file_system(models: Path, monkeypatch) -> None:
    reg = Registry(models)
    reg.refresh()
    monkeypatch.setattr(registry_module, "load_checkpoint", None)  # any load would crash
    for name, version, kind in [
        ("../tiny", None, "unknown_model"),
        ("tiny", "../../etc/passwd", "unknown_version"),
        ("/etc", None, "unknown_model"),
    ]:
        with pytest.raises(LookupFailed) as err:
            reg.get(name, version)
        assert err.value.kind == kind


def test_removed_model_disappears(models: Path) -> None:
    reg = Registry(models)
    reg.refresh()
    shutil.rmtree(models / "tiny")
    snap = reg.refresh()
    assert set(snap.latest) == {"article-cell"}
    with pytest.raises(LookupFailed):
        reg.get("tiny")


def test_scan_thread_picks_up_new_versions(models: Path, publish_copy) -> None:
    reg = Registry(models)
    assert reg.start(0.05, wait=30).scanned
    try:
        copy = publish_copy(newest(models, "tiny"))
        deadline = time.monotonic() + 10
        while reg.snapshot.latest["tiny"].version != copy.stem and time.monotonic() < deadline:
            time.sleep(0.02)
        assert reg.snapshot.latest["tiny"].version == copy.stem
    finally:
        reg.close()


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Load models as a worker does (create_app sets 1): no thread pool fights the others."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_a_vanished_model_folder_keeps_what_is_loaded(models: Path) -> None:
    reg = Registry(models)
    before = reg.refresh()
    models.rename(models.with_name("moved"))
    assert reg.refresh() is before  # e.g. an unmounted volume: keep serving
    models.with_name("moved").rename(models)
    assert set(reg.refresh().latest) == {"tiny", "article-cell"}


def test_start_waits_a_bounded_time_for_a_scan_that_hangs(models: Path, monkeypatch) -> None:
    release = threading.Event()
    real = registry_module.list_folder

    def hanging(root: Path) -> Listing:  # a scan stuck in the file system
        release.wait(30)
        return real(root)

    monkeypatch.setattr(registry_module, "list_folder", hanging)
    reg = Registry(models)
    began = time.monotonic()
    snap = reg.start(0, wait=0.3)
    assert time.monotonic() - began < 5
    assert not snap.scanned and not snap.latest
    release.set()
    reg.close(timeout=30)
    assert set(reg.snapshot.latest) == {"tiny", "article-cell"}
