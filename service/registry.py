"""The model registry: every checkpoint under the model folder, swapped in atomically.

Which versions are in memory: the newest loadable version of each name is loaded at each
scan (falling back to older ones while newer ones fail). Older versions are listed and
loaded only when a request names them, into a small LRU cache (service.version_cache), so
a folder that gathers hundreds of retrained versions costs neither memory nor start-up time.

How new versions arrive without a restart: `refresh()` rescans the folder; a daemon thread
calls it every GATECAST_POLL_SECONDS (started by create_app, so in each gunicorn worker
after the fork). Call `refresh()` yourself for an immediate reload; gunicorn's own SIGHUP
restarts the workers, which rebuilds every registry from scratch.

A scan builds a new immutable Snapshot and replaces the reference in one assignment.
Readers never lock: a request keeps the snapshot (and module) it started with, so none
fails while versions change. Request-supplied names and versions are only ever dict keys
here; the file paths come from the folder scan, never from a request, and a file whose real
path (symlinks followed) lies outside the folder is listed as failed, never loaded.
"""

import logging
import threading
from pathlib import Path
from typing import Protocol

from model.export import SUFFIX, list_checkpoints
from service.checkpoint import CheckpointError, LoadedModel, Stamp, load_checkpoint, now_iso
from service.checkpoint import stamp_of as _stamp_of
from service.snapshot import Available, Entry, Failed, Snapshot
from service.version_cache import VersionCache

log = logging.getLogger("gatecast.registry")


class RegistryListener(Protocol):
    """Told about scans and failures (the metrics implement this)."""

    def models_loaded(self, count: int) -> None:
        """Set the number of names with a servable version."""

    def load_failed(self, name: str) -> None:
        """Count one checkpoint that failed to load."""


class LookupFailed(LookupError):
    """A requested model or version cannot be served; `kind` says why."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # unknown_model | unknown_version | not_loadable
        self.message = message


class Registry:
    """Scans the model folder into snapshots and hands out loaded models."""

    def __init__(self, model_dir: str | Path, listener: RegistryListener | None = None) -> None:
        self._root = Path(model_dir)
        self._listener = listener
        self._snapshot = Snapshot.empty()
        self._refresh_lock = threading.Lock()  # one scan at a time (poller and callers)
        self._cache = VersionCache()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    @property
    def snapshot(self) -> Snapshot:
        """The current snapshot (read once per request and keep it)."""
        return self._snapshot

    # -- scanning ------------------------------------------------------------------------

    def refresh(self) -> Snapshot:
        """Rescan the folder and swap in a new snapshot; returns it."""
        with self._refresh_lock:
            old = self._snapshot
            if not self._root.is_dir() and old.versions:
                # An unmounted or renamed folder is more likely an accident than a decision
                # to unload every model: keep serving, and say so.
                log.error("model folder %s is missing, keeping what is loaded", self._root)
                return old
            unreadable: dict[str, OSError] = {}
            try:
                found = list_checkpoints(self._root, unreadable)
            except OSError as err:  # the folder vanished mid-scan or is unreadable
                log.error("model folder cannot be listed, keeping what is loaded: %s", err)
                return old
            real_root = _resolved(self._root)  # once per scan, not per file
            versions: dict[str, dict[str, Entry]] = {}
            latest: dict[str, LoadedModel] = {}
            for name, paths in found.items():
                entries: dict[str, Entry] = {}
                for path in reversed(paths):  # newest first
                    version = path.name[: -len(SUFFIX)]
                    prev = old.versions.get(name, {}).get(version)
                    entry = self._entry(path, name, version, prev, name not in latest, real_root)
                    entries[version] = entry
                    if isinstance(entry, LoadedModel) and name not in latest:
                        latest[name] = entry
                versions[name] = entries
            unlistable = self._unlistable(unreadable, old)
            snap = Snapshot.build(versions, latest, unlistable)
            self._snapshot = snap  # the atomic swap
            self._forget_missing(snap)
        self._report(old, snap)
        return snap

    def _entry(
        self,
        path: Path,
        name: str,
        version: str,
        prev: Entry | None,
        wanted: bool,
        real_root: Path | None,
    ) -> Entry:
        """The entry for one file; `wanted`: no newer version of this name has loaded;
        `real_root`: the model folder with symlinks resolved."""
        if not _inside(path, real_root):
            reason = "it links outside the model folder; copy the file in instead"
            return _failure(name, version, path, None, reason, prev)
        try:
            stamp = _stamp_of(path)
        except OSError as err:
            reason = f"cannot stat the file: {err.strerror}"
            return _failure(name, version, path, None, reason, prev)
        if prev is not None and prev.stamp == stamp:
            if isinstance(prev, Failed):
                return prev  # not retried until the file changes
            if isinstance(prev, LoadedModel):
                if wanted:
                    return prev
                self._cache.put(prev)  # superseded: requests pinned to it still find it
                return Available(name, version, path, stamp, prev.meta)
            failed = self._cache.failure((name, version, stamp))
            if failed is not None:
                return failed
            if not wanted:
                return prev
        if not wanted:
            return Available(name, version, path, stamp)
        cached = self._cache.take((name, version, stamp))
        if cached is not None:
            return cached
        try:
            return load_checkpoint(path, name, version, stamp)
        except CheckpointError as err:
            return _failure(name, version, path, stamp, str(err), prev)

    def _unlistable(self, unreadable: dict[str, OSError], old: Snapshot) -> dict[str, Failed]:
        """Model folders that exist but cannot be listed, as failures: /models and the log
        name them instead of the model silently vanishing."""
        out: dict[str, Failed] = {}
        for name, err in unreadable.items():
            reason = f"cannot list its folder: {err.strerror or type(err).__name__}"
            prev = old.unlistable.get(name)
            out[name] = _failure(name, "", self._root / name, None, reason, prev)
        return out

    def _forget_missing(self, snap: Snapshot) -> None:
        """Drop cached modules and lazy failures whose file is gone or changed."""
        live = {
            (e.name, e.version, e.stamp)
            for v in snap.versions.values()
            for e in v.values()
            if e.stamp is not None
        }
        self._cache.forget_except(live)

    def _report(self, old: Snapshot, new: Snapshot) -> None:
        """Log what changed and tell the listener."""
        for name, model in new.latest.items():
            if old.latest.get(name) is not model:
                log.info(
                    "model %s version %s serving",
                    name,
                    model.version,
                    extra={"model": name, "version": model.version},
                )
        for failed in new.unlistable.values():
            if old.unlistable.get(failed.name) is not failed:
                log.error(
                    "model %s is not served: %s",
                    failed.name,
                    failed.reason,
                    extra={"model": failed.name},
                )
                if self._listener is not None:
                    self._listener.load_failed(failed.name)
        for failed in new.failures():
            before = old.versions.get(failed.name, {}).get(failed.version)
            if before is not failed and not self._failed_lazily(before, failed):
                self._log_failure(failed)
        if self._listener is not None:
            self._listener.models_loaded(len(new.latest))

    def _failed_lazily(self, before: Entry | None, failed: Failed) -> bool:
        """Whether this failure was already reported when a request tried to load it."""
        if not isinstance(before, Available):
            return False
        return self._cache.failure((before.name, before.version, before.stamp)) is failed

    # -- lookups -------------------------------------------------------------------------

    def get(
        self, name: str, version: str | None = None, snap: Snapshot | None = None
    ) -> LoadedModel:
        """The model to serve for a request; raises LookupFailed."""
        if snap is None:
            snap = self._snapshot
        entries = snap.versions.get(name)
        if entries is None:
            folder = snap.unlistable.get(name)
            if folder is not None:
                raise LookupFailed("not_loadable", f"model {name!r}: {folder.reason}")
            raise LookupFailed("unknown_model", f"no model named {name!r}")
        if version is None:
            model = snap.latest.get(name)
            if model is None:
                raise LookupFailed("not_loadable", f"no version of model {name!r} loads")
            return model
        entry = entries.get(version)
        if entry is None:
            raise LookupFailed("unknown_version", f"model {name!r} has no version {version!r}")
        if isinstance(entry, Failed):
            raise LookupFailed(
                "not_loadable", f"version {version!r} failed to load: {entry.reason}"
            )
        if isinstance(entry, LoadedModel):
            return entry
        loaded = self._cache.load(entry, self._log_failure)
        if isinstance(loaded, Failed):
            raise LookupFailed(
                "not_loadable", f"version {version!r} failed to load: {loaded.reason}"
            )
        return loaded

    def loaded_or_failed(self, entry: Entry) -> LoadedModel | Failed | None:
        """For listings: the loaded model or failure behind an entry, None if not in memory."""
        if not isinstance(entry, Available):
            return entry
        return self._cache.peek((entry.name, entry.version, entry.stamp))

    def _log_failure(self, failed: Failed) -> None:
        """Log and count a version that failed to load."""
        log.error(
            "checkpoint %s/%s failed to load: %s",
            failed.name,
            failed.version,
            failed.reason,
            extra={"model": failed.name, "version": failed.version},
        )
        if self._listener is not None:
            self._listener.load_failed(failed.name)

    # -- polling -------------------------------------------------------------------------

    def start_polling(self, interval: float) -> None:
        """Rescan every `interval` seconds on a daemon thread (idempotent)."""
        if self._poller is not None or interval <= 0:
            return
        self._poller = threading.Thread(
            target=self._poll, args=(interval,), name="gatecast-model-poll", daemon=True
        )
        self._poller.start()

    def _poll(self, interval: float) -> None:
        """Poll loop; an error in one scan is logged and the next scan still runs."""
        while not self._stop.wait(interval):
            try:
                self.refresh()
            except Exception:
                log.exception("model folder scan failed")

    def close(self, timeout: float = 5.0) -> None:
        """Stop polling (tests; workers simply exit)."""
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout)


def _resolved(root: Path) -> Path | None:
    """The folder with every symlink resolved; None if it vanished meanwhile."""
    try:
        return root.resolve(strict=True)
    except OSError:
        return None


def _inside(path: Path, real_root: Path | None) -> bool:
    """Whether the file, every symlink followed, lies inside the resolved model folder."""
    if real_root is None:
        return True
    try:
        return path.resolve(strict=True).is_relative_to(real_root)
    except OSError:  # vanished, a broken link or a loop: the stat that follows says so
        return True


def _failure(
    name: str, version: str, path: Path, stamp: Stamp | None, reason: str, prev: Entry | None
) -> Failed:
    """A Failed entry; the previous one is reused when nothing changed, so it is logged once."""
    if isinstance(prev, Failed) and prev.stamp == stamp and prev.reason == reason:
        return prev
    return Failed(name, version, path, stamp, reason, now_iso())
