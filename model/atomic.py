"""Files written whole or not at all: a hidden temporary file, fsync, rename, fsync the folder.

Standard library only, so the served-version state (model.served) can use it without torch.
"""

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

TEMP_PREFIX = ".tmp-"  # in-progress writes: hidden, never end in .pt, ignored by readers


def write_atomically(target: Path, write: Callable[[BinaryIO], None]) -> None:
    """Write `target` through `write`, so a reader sees the old file or the new one, whole.

    The bytes go to a hidden temporary file in the same folder, are flushed and fsynced,
    then renamed into place, even if this process is killed at any point.
    """
    folder = target.parent
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the service may run as another user
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(folder)


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
