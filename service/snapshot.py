"""What the registry knows at one moment: an immutable map of names and versions."""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from service.checkpoint import LoadedModel
from service.model_folder import Stamp


@dataclass(frozen=True)
class Failed:
    """A checkpoint that will not load, and why; retried only once its file changes."""

    name: str
    version: str  # "" for a model folder that cannot be listed
    path: Path
    stamp: Stamp | None
    reason: str
    failed_at: str


@dataclass(frozen=True)
class NotKept:
    """A version older than the newest ones kept in memory: listed, not served."""

    name: str
    version: str
    reason: str


Entry = LoadedModel | Failed | NotKept


@dataclass(frozen=True)
class Snapshot:
    """All checkpoints found by one scan. Never changed after it is built: the registry
    swaps in a whole new one, so a request that holds a snapshot sees one consistent view.
    """

    # name -> version -> entry, newest version first.
    versions: Mapping[str, Mapping[str, Entry]]
    # name -> the served version: what a request without "version" gets.
    latest: Mapping[str, LoadedModel]
    # name -> why `latest` is that version (promoted, rolled back, newest and why).
    latest_reasons: Mapping[str, str]
    # name -> why a model folder could not be listed; such a name has no `versions`.
    unlistable: Mapping[str, Failed]
    # False only before the first scan has finished.
    scanned: bool = True

    @classmethod
    def build(
        cls,
        versions: dict[str, dict[str, Entry]],
        unlistable: dict[str, Failed],
        chosen: Mapping[str, tuple[str | None, str]],
    ) -> "Snapshot":
        """Freeze plain dicts into read-only views; `chosen`: each served version and why."""
        latest: dict[str, LoadedModel] = {}
        reasons: dict[str, str] = {}
        for name, (version, reason) in chosen.items():
            model = versions.get(name, {}).get(version) if version is not None else None
            if isinstance(model, LoadedModel):
                latest[name], reasons[name] = model, reason
        frozen = {name: MappingProxyType(dict(v)) for name, v in versions.items()}
        return cls(
            MappingProxyType(frozen),
            MappingProxyType(latest),
            MappingProxyType(reasons),
            MappingProxyType(dict(unlistable)),
        )

    @classmethod
    def empty(cls) -> "Snapshot":
        """The state before the first scan."""
        empty: Mapping[str, MappingProxyType] = MappingProxyType({})
        none: Mapping[str, str] = MappingProxyType({})
        return cls(empty, MappingProxyType({}), none, MappingProxyType({}), scanned=False)

    def failures(self) -> list[Failed]:
        """Every checkpoint that failed to load."""
        return [e for v in self.versions.values() for e in v.values() if isinstance(e, Failed)]
