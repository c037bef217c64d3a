"""The model folder's odd entries: each is listed as failed with its reason, none blocks a
scan or is opened, and the rest of the folder keeps loading new versions."""

import os
import socket
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
import torch

from bench.checkpoints import version_path
from model.export import list_checkpoints
from service.checkpoint import CheckpointError, load_checkpoint
from service.model_folder import list_folder
from service.registry import Registry
from service.snapshot import Failed, Snapshot

T = TypeVar("T")


@pytest.fixture
def models(tmp_path: Path, copy_models: Callable[[Path], Path]) -> Path:
    """A private copy of the session's model folder that tests may change."""
    return copy_models(tmp_path)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Load models as a worker does (create_app sets 1): no thread pool fights the others."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def newest(root: Path, name: str) -> Path:
    """The newest checkpoint file of a model."""
    return list_checkpoints(root)[name][-1]


def bounded(call: Callable[[], T], timeout: float = 60) -> T:
    """call() on a thread; fails the test, rather than hanging it, if it blocks; re-raises."""
    done: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            done.append(call())
        except BaseException as err:
            errors.append(err)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout)
    if errors:
        raise errors[0]
    assert done, f"still blocked after {timeout} s"
    return done[0]


def bounded_refresh(registry: Registry) -> Snapshot:
    """One scan, bounded in time."""
    return bounded(registry.refresh)


def make_fifo(path: Path) -> None:
    """A FIFO: open() for reading would wait for a writer forever."""
    os.mkfifo(path)


def make_socket(path: Path) -> None:
    """A bound Unix socket (bound by its short relative name: paths are length-limited)."""
    here = os.getcwd()
    os.chdir(path.parent)
    try:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(path.name)
        sock.close()  # the socket file stays
    finally:
        os.chdir(here)


def make_device(path: Path) -> None:
    """A character device node like /dev/null (needs CAP_MKNOD)."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("no permission to make device nodes here")


def link_to_device(path: Path) -> None:
    """A symlink to a device."""
    path.symlink_to("/dev/null")


def link_to_fifo(path: Path) -> None:
    """A symlink to a FIFO elsewhere in the folder."""
    fifo = path.parent / "notes.fifo"
    os.mkfifo(fifo)
    path.symlink_to(fifo)


def self_loop(path: Path) -> None:
    """ln -s X.pt X.pt"""
    path.symlink_to(path)


def two_link_loop(path: Path) -> None:
    """X.pt -> other -> X.pt"""
    other = path.parent / "other"
    other.symlink_to(path)
    path.symlink_to(other)


LOOP = "cannot stat the file: Too many levels of symbolic links"
CASES = {
    "fifo": (make_fifo, "it is a FIFO, not a regular file"),
    "socket": (make_socket, "it is a socket, not a regular file"),
    "device": (make_device, "it is a character device, not a regular file"),
    "link-to-device": (link_to_device, "it is a character device, not a regular file"),
    "link-to-fifo": (link_to_fifo, "it is a FIFO, not a regular file"),
    "symlink-loop": (self_loop, LOOP),
    "two-link-loop": (two_link_loop, LOOP),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_entry_that_is_no_file_is_failed_and_never_opened(
    case: str, models: Path, publish_copy, monkeypatch
) -> None:
    make, reason = CASES[case]
    good = newest(models, "tiny")
    odd = version_path(models / "tiny")
    make(odd)
    opened: list[str] = []
    real_open = os.open

    def recording_open(path, *args, **kwargs):
        opened.append(os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", recording_open)
    reg = Registry(models)
    snap = bounded_refresh(reg)
    entry = snap.versions["tiny"][odd.stem]
    assert isinstance(entry, Failed) and entry.reason == reason
    assert str(models) not in entry.reason
    assert snap.latest["tiny"].version == good.stem
    assert set(snap.latest) == {"tiny", "article-cell"}
    assert str(odd) not in opened and not any("fifo" in p for p in opened)
    # The rest keeps loading: a new good version is served at the next scan.
    fresh = publish_copy(good)
    assert bounded_refresh(reg).latest["tiny"].version == fresh.stem


def test_a_file_still_being_written_loads_once_it_is_whole(models: Path) -> None:
    data = newest(models, "tiny").read_bytes()
    target = version_path(models / "tiny")
    with open(target, "wb") as out:  # a writer that does not write to a temporary name
        out.write(data[: len(data) // 2])
        out.flush()
        reg = Registry(models)
        entry = bounded_refresh(reg).versions["tiny"][target.stem]
        assert isinstance(entry, Failed) and "zip archive" in entry.reason
        out.write(data[len(data) // 2 :])
    assert bounded_refresh(reg).latest["tiny"].version == target.stem  # retried: it changed


def test_an_unreadable_checkpoint_is_failed_and_retried_when_fixed(
    models: Path, monkeypatch
) -> None:
    locked = version_path(models / "tiny")
    locked.write_bytes(newest(models, "tiny").read_bytes())
    real_open = os.open

    def refusing_open(path, *args, **kwargs):
        if os.fspath(path) == str(locked):  # what chmod 000 does to a non-root reader
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    reg = Registry(models)
    entry = bounded_refresh(reg).versions["tiny"][locked.stem]
    assert isinstance(entry, Failed) and entry.reason == "cannot open the file: Permission denied"
    monkeypatch.setattr(os, "open", real_open)
    locked.chmod(0o644)  # a new ctime: the file counts as changed
    assert bounded_refresh(reg).latest["tiny"].version == locked.stem


def test_ten_thousand_stray_entries_are_ignored(models: Path, publish_copy) -> None:
    for k in range(5000):
        (models / "tiny" / f"stray-{k}.txt").touch()
        (models / f"stray-{k}").touch()  # named like a model, but a file
    reg = Registry(models)
    began = time.monotonic()
    snap = bounded_refresh(reg)
    assert time.monotonic() - began < 30
    assert set(snap.latest) == {"tiny", "article-cell"} and not snap.failures()
    assert [len(v) for v in snap.versions.values()] == [1, 1]
    fresh = publish_copy(newest(models, "tiny"))
    assert bounded_refresh(reg).latest["tiny"].version == fresh.stem


def test_listing_reports_unlistable_model_folders(models: Path, monkeypatch) -> None:
    real = os.scandir

    def scandir(path="."):
        if Path(path).name == "tiny":  # what a folder without read permission does
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    listing = list_folder(models)
    assert listing.unlistable == {"tiny": "cannot list its folder: Permission denied"}
    assert list(listing.models) == ["article-cell"]


def test_a_fifo_swapped_in_after_the_scan_is_not_waited_for(models: Path) -> None:
    fifo = version_path(models / "tiny")
    os.mkfifo(fifo)
    began = time.monotonic()
    with pytest.raises(CheckpointError, match="not a regular file"):
        bounded(lambda: load_checkpoint(fifo, "tiny", fifo.stem, (0, 0, 0)), timeout=10)
    assert time.monotonic() - began < 10
