"""The model registry: new versions, broken files, lazy old versions, atomic swaps."""

import io
import json
import os
import shutil
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from model.export import TEMP_PREFIX, list_checkpoints, new_version
from service import registry as registry_module
from service.checkpoint import LoadedModel
from service.registry import LookupFailed, Registry
from service.snapshot import Available, Failed


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
    # The superseded version stays servable by name (from the cache, not reloaded).
    assert reg.get("tiny", first.version) is first
    assert isinstance(snap.versions["tiny"][first.version], Available)
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
    assert isinstance(snap.versions["tiny"][odd.stem], Failed)
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


def test_older_versions_load_lazily(models: Path, publish_copy) -> None:
    old = newest(models, "tiny")
    publish_copy(old)
    reg = Registry(models)
    snap = reg.refresh()
    entry = snap.versions["tiny"][old.stem]
    assert isinstance(entry, Available) and reg.loaded_or_failed(entry) is None
    model = reg.get("tiny", old.stem)
    assert isinstance(model, LoadedModel) and model.version == old.stem
    assert reg.loaded_or_failed(entry) is model  # cached now
    assert reg.get("tiny", old.stem) is model


def test_an_older_version_that_fails_lazily(models: Path, publish_copy) -> None:
    original = newest(models, "tiny")
    bad = versioned(models, "tiny")
    bad.write_bytes(b"junk")
    publish_copy(original)  # newer than the junk, so the junk is tried only when asked for
    reg = Registry(models)
    snap = reg.refresh()
    assert isinstance(snap.versions["tiny"][bad.stem], Available)
    with pytest.raises(LookupFailed) as err:
        reg.get("tiny", bad.stem)
    assert err.value.kind == "not_loadable"
    assert isinstance(reg.loaded_or_failed(snap.versions["tiny"][bad.stem]), Failed)
    assert isinstance(reg.refresh().versions["tiny"][bad.stem], Failed)


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


def test_poll_thread_picks_up_new_versions(models: Path, publish_copy) -> None:
    reg = Registry(models)
    reg.refresh()
    reg.start_polling(0.05)
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
