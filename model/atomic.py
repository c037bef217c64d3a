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

    def fill(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            write(fh)

    fill_atomically(target, fill, 0o644)  # the service may run as another user


def fill_atomically(target: Path, fill: Callable[[Path], object], mode: int | None) -> None:
    """Have `fill` write a hidden temporary file beside `target` by its path (for writers
    that take a path), then fsync it, rename it into place and fsync the folder. `mode`:
    the file's permissions; None gives what a plain open would (0666 less the umask)."""
    folder = target.parent
    fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=".part", dir=folder)
    os.close(fd)
    tmp = Path(name)
    try:
        fill(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if mode is None:
            mask = os.umask(0)
            os.umask(mask)
            mode = 0o666 & ~mask
        os.chmod(tmp, mode)  # mkstemp makes 0600
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
