"""What the model folder holds: every file named like a checkpoint, and why any cannot load.

Only stat calls here, which never block on a FIFO or open a device; a checkpoint is opened
later, by service.checkpoint, and only if it is a regular file inside the folder. Anything
the scan cannot handle (a symlink loop, a FIFO, a socket, a device, an unlistable folder)
becomes a reason on that one entry; the rest of the folder scans as usual.
"""

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from model.export import NAME_RE, SUFFIX, VERSION_RE

# (size, mtime, ctime in ns): a file whose stamp is unchanged is not loaded again. ctime is
# in it so that fixing an unreadable file's permissions (chmod) also counts as a change.
Stamp = tuple[int, int, int]

KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


@dataclass(frozen=True)
class Found:
    """One <name>/<version>.pt entry: its stamp, and why it cannot be loaded (None: it can)."""

    version: str
    path: Path
    stamp: Stamp | None
    problem: str | None


@dataclass(frozen=True)
class Listing:
    """One scan of the folder."""

    models: dict[str, list[Found]]  # name -> entries, newest version first
    unlistable: dict[str, str]  # name -> why its folder cannot be listed


def list_folder(root: Path) -> Listing:
    """Scan <root>/<name>/<version>.pt; raises OSError if root itself cannot be listed."""
    try:
        real_root = root.resolve(strict=True)
    except RuntimeError as err:  # Python 3.11 reports a symlink loop this way
        raise OSError(f"cannot resolve the folder: {err}") from None
    with os.scandir(root) as entries:
        names = sorted(e.name for e in entries if NAME_RE.match(e.name))
    models: dict[str, list[Found]] = {}
    unlistable: dict[str, str] = {}
    for name in names:
        folder = root / name
        try:
            if not stat.S_ISDIR(os.stat(folder).st_mode):
                continue  # a stray file beside the model folders
            with os.scandir(folder) as entries:
                files = sorted(
                    (e.name for e in entries if is_checkpoint_name(e.name)), reverse=True
                )
        except OSError as err:
            unlistable[name] = f"cannot list its folder: {err.strerror or type(err).__name__}"
            continue
        if files:
            models[name] = [inspect(folder / f, real_root) for f in files]
    return Listing(models, unlistable)


def is_checkpoint_name(file_name: str) -> bool:
    """Whether a file name is <version>.pt."""
    return file_name.endswith(SUFFIX) and bool(VERSION_RE.match(file_name[: -len(SUFFIX)]))


def inspect(path: Path, real_root: Path) -> Found:
    """Stat one entry (symlinks followed) and say whether it can be loaded."""
    version = path.name[: -len(SUFFIX)]
    try:
        st = os.stat(path)
        inside = path.resolve(strict=True).is_relative_to(real_root)
    except RuntimeError:  # Python 3.11's resolve() on a symlink loop
        return Found(version, path, None, "it is a symlink loop")
    except OSError as err:
        return Found(version, path, None, f"cannot stat the file: {err.strerror or err}")
    stamp = st.st_size, st.st_mtime_ns, st.st_ctime_ns
    if not stat.S_ISREG(st.st_mode):
        kind = KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
        return Found(version, path, stamp, f"it is {kind}, not a regular file")
    if not inside:
        return Found(version, path, stamp, "it links outside the model folder; copy it in instead")
    return Found(version, path, stamp, None)
