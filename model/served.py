"""Which version of a model is served: <model dir>/<name>/served.json, chosen by a person.

The file holds the served version, the versions served before it (the stack a rollback pops)
and the history of every change. gatecast-models writes it, gatecast-train writes it for a
model's first version, and the service's folder scan reads it. Standard library only.

    {"format": "gatecast-served", "format_version": 1,
     "served": "20261130T224005123456Z",
     "previous": ["20261129T101500000000Z"],
     "history": [{"at": "2026-11-30T22:40:05+00:00", "action": "promote",
                  "version": "20261130T224005123456Z", "note": "lower MASE"}]}
"""

import contextlib
import datetime as dt
import fcntl
import json
import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from model.atomic import write_atomically

STATE_FILE = "served.json"
FORMAT = "gatecast-served"
FORMAT_VERSION = 1
PROMOTED, NEWEST = "promoted", "newest"
POLICIES = (PROMOTED, NEWEST)  # GATECAST_SERVE
# first: gatecast-train wrote the model's first version; promote and rollback: gatecast-models.
ACTIONS = ("first", "promote", "rollback")
MAX_BYTES = 1 << 20  # a larger file is refused unread
PREVIOUS_KEPT = 100  # rollbacks that stay possible
HISTORY_KEPT = 1000  # changes the file remembers


class StateError(ValueError):
    """A served.json that cannot be used; str(err) says why, without server paths."""


@dataclass(frozen=True)
class Change:
    """One entry of the history: when, what, which version, and the person's note."""

    at: str
    action: str
    version: str
    note: str | None = None

    def describe(self) -> str:
        """Why its version is served, for /models and gatecast-models list."""
        words = {"first": "first version, served since", "promote": "promoted at"}
        text = f"{words.get(self.action, 'rolled back at')} {self.at}"
        return f"{text} ({self.note})" if self.note else text


@dataclass(frozen=True)
class ServedState:
    """The served version, the ones served before it (most recent first), and the history."""

    served: str
    previous: tuple[str, ...]
    history: tuple[Change, ...]  # oldest first; the last one put `served` there

    def reason(self) -> str:
        """Why `served` is served."""
        return self.history[-1].describe() if self.history else "promoted"

    def promote(
        self, version: str, note: str | None = None, at: str | None = None
    ) -> "ServedState":
        """The state after serving `version`; the current one goes on the rollback stack."""
        change = Change(at or now(), "promote", version, note)
        return ServedState(
            version,
            (self.served, *self.previous)[:PREVIOUS_KEPT],
            (*self.history, change)[-HISTORY_KEPT:],
        )

    def rollback(self, note: str | None = None, at: str | None = None) -> "ServedState":
        """The state after going back to the previously served version; raises StateError."""
        if not self.previous:
            raise StateError("nothing to roll back to: no version was served before this one")
        version = self.previous[0]
        change = Change(at or now(), "rollback", version, note)
        return ServedState(version, self.previous[1:], (*self.history, change)[-HISTORY_KEPT:])

    def to_json(self) -> dict[str, Any]:
        """The file's content."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "served": self.served,
            "previous": list(self.previous),
            "history": [
                {"at": c.at, "action": c.action, "version": c.version, "note": c.note}
                for c in self.history
            ],
        }

    @classmethod
    def from_json(cls, raw: Any) -> "ServedState":
        """Check and read the file's content; raises StateError naming the bad field."""
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise StateError(f"not a {FORMAT} file")
        if raw.get("format_version") != FORMAT_VERSION:
            raise StateError(
                f"format version {raw.get('format_version')!r} (this gatecast reads "
                f"{FORMAT_VERSION})"
            )
        previous = raw.get("previous", [])
        history = raw.get("history", [])
        if not isinstance(previous, list) or not isinstance(history, list):
            raise StateError("previous and history must be lists")
        return cls(
            _version(raw.get("served"), "served"),
            tuple(_version(v, f"previous.{k}") for k, v in enumerate(previous)),
            tuple(_change(c, f"history.{k}") for k, c in enumerate(history)),
        )


def _version(value: Any, where: str) -> str:
    """A version string: only ever a lookup key, so any short name without a slash."""
    if not isinstance(value, str) or not 0 < len(value) <= 128 or "/" in value:
        raise StateError(f"{where}: not a version")
    return value


def _change(raw: Any, where: str) -> Change:
    """One history entry."""
    if not isinstance(raw, dict):
        raise StateError(f"{where}: not an object")
    at, action, note = raw.get("at"), raw.get("action"), raw.get("note")
    if not isinstance(at, str) or action not in ACTIONS:
        raise StateError(f"{where}: needs a time `at` and an action ({', '.join(ACTIONS)})")
    if note is not None and not isinstance(note, str):
        raise StateError(f"{where}.note: not text")
    return Change(at, action, _version(raw.get("version"), f"{where}.version"), note)


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def first(version: str, at: str | None = None) -> ServedState:
    """The state gatecast-train writes with a model's first version."""
    return ServedState(version, (), (Change(at or now(), "first", version),))


def started(version: str, was: str | None, note: str | None, at: str | None = None) -> ServedState:
    """The state of a first promotion; `was` (what was served, the newest) is rolled back to."""
    return ServedState(
        version,
        (was,) if was is not None and was != version else (),
        (Change(at or now(), "promote", version, note),),
    )


def read(folder: Path) -> ServedState | None:
    """<folder>/served.json, or None when there is none; raises StateError.

    Opened without blocking and only if it is a regular file, as checkpoints are: the
    service's scan thread reads it.
    """
    path = folder / STATE_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as err:
        raise StateError(f"cannot open {STATE_FILE}: {err.strerror or err}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise StateError(f"{STATE_FILE} is not a regular file")
        if st.st_size > MAX_BYTES:
            raise StateError(f"{STATE_FILE} is larger than {MAX_BYTES} bytes")
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as err:
        raise StateError(f"cannot read {STATE_FILE}: {err.strerror or err}") from None
    finally:
        os.close(fd)
    try:
        raw = json.loads(data)
    except ValueError as err:  # UnicodeDecodeError and JSONDecodeError alike
        raise StateError(f"{STATE_FILE} is not JSON: {err}") from None
    return ServedState.from_json(raw)


@contextlib.contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on the model's folder, around one read-change-write of the state."""
    # flock on the folder itself: two promotions at once cannot lose a history entry, and no
    # lock file is left behind. A file system without locks (some NFS mounts) goes unlocked.
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def write(folder: Path, state: ServedState) -> None:
    """Replace <folder>/served.json atomically: readers see the old state or the new one."""
    body = json.dumps(state.to_json(), indent=1).encode() + b"\n"

    def put(fh: BinaryIO) -> None:
        fh.write(body)

    write_atomically(folder / STATE_FILE, put)


def choose(
    policy: str,
    state: ServedState | None,
    loaded: Sequence[str],
    problems: Mapping[str, str],
) -> tuple[str | None, str]:
    """The version a request without one gets, and why.

    `loaded`: the versions that load, newest first; `problems`: why others do not.
    """
    newest = loaded[0] if loaded else None
    if policy == NEWEST:
        return newest, "newest: GATECAST_SERVE=newest"
    if state is None:
        return newest, "newest: nothing promoted"
    if state.served in loaded:
        return state.served, state.reason()
    why = problems.get(state.served, "its checkpoint is not in the folder")
    return newest, f"newest: the promoted version {state.served} cannot be served ({why})"
