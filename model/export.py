"""Checkpoints: TorchScript archives with a meta.json inside, written atomically.

This is the only place that calls torch.jit, so moving to torch.export is one change here.
Layout: <model dir>/<name>/<version>.pt, versions sortable by time (UTC timestamps).
"""

import contextlib
import datetime as dt
import json
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from model.network import GateLSTM

FORMAT = "gatecast-checkpoint"
FORMAT_VERSION = 4  # 3 added internals_last; 4 exogenous inputs, step_inputs, meta features
READS = (2, 3, 4)  # format versions this gatecast loads (2: internals_last is missing)
META_FILE = "meta.json"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
VERSION_RE = re.compile(r"^\d{8}T\d{12}Z$")  # 20261129T004512123456Z
SUFFIX = ".pt"
TEMP_PREFIX = ".tmp-"  # in-progress writes: hidden, never end in .pt, ignored by readers


_JIT_NOTICE = r"`torch\.jit\.\w+` is deprecated"


def silence_jit_deprecation() -> None:
    """Silence exactly torch.jit's deprecation notice; TorchScript is still what we ship.

    A standing filter for that one message (re-adding it only moves it to the front of the
    list, never duplicates it). Not catch_warnings(): that swaps the process-wide filter
    list under other threads, and the service loads models in a poll thread.
    """
    warnings.filterwarnings("ignore", message=_JIT_NOTICE, category=DeprecationWarning)


def check_name(name: str) -> str:
    """A model name is letters, digits and `_ . -`, starting with a letter or digit."""
    if not NAME_RE.match(name):
        raise ValueError(
            f"invalid model name {name!r}: use letters, digits, '_', '.', '-' "
            "(starting with a letter or digit, at most 128 characters)"
        )
    return name


def check_version(version: str) -> str:
    """A version is a UTC timestamp like 20261129T004512123456Z."""
    if not VERSION_RE.match(version):
        raise ValueError(f"invalid version {version!r}: expected e.g. 20261129T004512123456Z")
    return version


def new_version(now: dt.datetime | None = None) -> str:
    """A version string that sorts by creation time (UTC, microseconds)."""
    now = now or dt.datetime.now(dt.UTC)
    return now.strftime("%Y%m%dT%H%M%S%fZ")


def script(net: GateLSTM) -> torch.jit.ScriptModule:
    """Compile the network for inference (forward, internals, step_inputs, scale)."""
    silence_jit_deprecation()
    return torch.jit.script(net.eval())


def load(path: str | Path) -> tuple[torch.jit.ScriptModule, dict[str, Any]]:
    """Load a checkpoint and its meta.json; raises ValueError if it is not one of ours."""
    extra = {META_FILE: ""}
    silence_jit_deprecation()
    module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    raw = extra[META_FILE]
    if not raw:
        raise ValueError(f"{path}: no {META_FILE} inside")
    meta = json.loads(raw)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path}: {META_FILE} is not a {FORMAT} description")
    if meta.get("format_version") not in READS:
        raise ValueError(
            f"{path}: format version {meta.get('format_version')} "
            f"(this gatecast reads {', '.join(map(str, READS))})"
        )
    return module.eval(), meta


def save(
    net: GateLSTM,
    meta: dict[str, Any],
    model_dir: str | Path,
    name: str,
    version: str | None = None,
) -> Path:
    """Script net and write <model_dir>/<name>/<version>.pt atomically; returns the path.

    The archive goes to a hidden temporary file in the same folder, is flushed and fsynced,
    then renamed into place, so a reader sees either nothing or the whole file, even if this
    process is killed at any point.
    """
    folder = Path(model_dir) / check_name(name)
    folder.mkdir(parents=True, exist_ok=True)
    version = check_version(version or new_version())
    target = folder / f"{version}{SUFFIX}"
    if target.exists():
        raise FileExistsError(f"{target} already exists")
    full = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "version": version,
        **meta,
    }
    module = script(net)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            silence_jit_deprecation()
            torch.jit.save(
                module,
                fh,
                _extra_files={META_FILE: json.dumps(full, indent=1, allow_nan=False)},
            )
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the service may run as another user
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)
    return target


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def list_checkpoints(model_dir: str | Path) -> dict[str, list[Path]]:
    """Finished checkpoints by model name, each list oldest version first.

    Only <name>/<version>.pt with valid names count; temporary files, logs and anything
    else in the folder are ignored, and so is a model folder that cannot be listed.
    """
    found: dict[str, list[Path]] = {}
    root = Path(model_dir)
    if not root.is_dir():
        return found
    for folder in sorted(root.iterdir()):
        if not folder.is_dir() or not NAME_RE.match(folder.name):
            continue
        try:
            with os.scandir(folder) as entries:
                names = [e.name for e in entries]
        except OSError:
            continue
        versions = sorted(
            folder / n for n in names if n.endswith(SUFFIX) and VERSION_RE.match(n[: -len(SUFFIX)])
        )
        if versions:
            found[folder.name] = versions
    return found
