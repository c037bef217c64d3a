"""What the registry knows at one moment: an immutable map of names and versions."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from service.checkpoint import LoadedModel, Stamp


@dataclass(frozen=True)
class Failed:
    """A checkpoint that would not load, and why; retried only once its file changes."""

    name: str
    version: str
    path: Path
    stamp: Stamp | None
    reason: str
    failed_at: str


@dataclass(frozen=True)
class Available:
    """An older version, not held in memory; loaded on request into a small cache.

    meta is kept when the version was loaded before (it was the newest once), else None.
    """

    name: str
    version: str
    path: Path
    stamp: Stamp
    meta: dict[str, Any] | None = None


Entry = LoadedModel | Failed | Available


@dataclass(frozen=True)
class Snapshot:
    """All checkpoints found by one scan. Never changed after it is built: the registry
    swaps in a whole new one, so a request that holds a snapshot sees one consistent view.
    """

    # name -> version -> entry, newest version first.
    versions: Mapping[str, Mapping[str, Entry]]
    # name -> the newest version that loaded: what a request without "version" gets.
    latest: Mapping[str, LoadedModel]
    # name -> why a model folder could not be listed (version ""): e.g. no read permission.
    # Its versions are unknown, so the name has no entry in `versions`.
    unlistable: Mapping[str, Failed] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def build(
        cls,
        versions: dict[str, dict[str, Entry]],
        latest: dict[str, LoadedModel],
        unlistable: dict[str, Failed] | None = None,
    ) -> "Snapshot":
        """Freeze plain dicts into read-only views."""
        frozen = {name: MappingProxyType(dict(v)) for name, v in versions.items()}
        folders = MappingProxyType(dict(unlistable or {}))
        return cls(MappingProxyType(frozen), MappingProxyType(dict(latest)), folders)

    @classmethod
    def empty(cls) -> "Snapshot":
        """The state before the first scan."""
        return cls.build({}, {})

    def failures(self) -> list[Failed]:
        """Every checkpoint that failed to load."""
        return [e for v in self.versions.values() for e in v.values() if isinstance(e, Failed)]
