"""The model registry: every checkpoint under the model folder, swapped in atomically.

Which versions are in memory: each scan keeps the `keep` newest loadable versions of each
name loaded (GATECAST_KEEP_VERSIONS), and the served one however old; a request may pin any
of them. Older versions are listed as not kept, and a checkpoint that will not load is
listed as failed with its reason. A scan reuses every entry whose file stamp is unchanged,
so a steady folder costs one stat per file, and nothing is ever loaded on a request's path.

Which version a request without one gets (GATECAST_SERVE): with "promoted", the one that
<name>/served.json names (model.served; written by gatecast-models), the newest while there
is none; with "newest", the newest loadable version. A scan reads served.json only when its
stamp changed, and swaps the choice in with the rest of the snapshot, so a promotion or a
rollback is served within one scan, like a new version.

How new versions arrive without a restart: a daemon thread (started by create_app, so in
each gunicorn worker after the fork) scans at once and then every GATECAST_POLL_SECONDS.
Only that thread touches the folder: a scan that hangs (a stuck network mount) can delay
new versions, never a request or /healthz. Call `refresh()` for an immediate scan.

A scan builds a new immutable Snapshot and replaces the reference in one assignment.
Readers never lock: a request keeps the snapshot (and module) it started with, so none
fails while versions change. Request-supplied names and versions are only ever dict keys
here; file paths come from the folder scan, never from a request.
"""

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path

from model import served
from model.served import PROMOTED, STATE_FILE, ServedState, StateError
from service.checkpoint import CheckpointError, LoadedModel, load_checkpoint, now_iso
from service.metrics import Metrics
from service.model_folder import Found, Listing, Stamp, list_folder
from service.snapshot import Entry, Failed, NotKept, Snapshot

log = logging.getLogger("gatecast.registry")

# served.json as last read: (inode, size, mtime, ctime) and what it held.
StateStamp = tuple[int, int, int, int]


class LookupFailed(LookupError):
    """A requested model or version cannot be served; `kind` says why."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # unknown_model | unknown_version | not_kept | not_loadable
        self.message = message


class Registry:
    """Scans the model folder into snapshots and hands out loaded models."""

    def __init__(
        self,
        model_dir: str | Path,
        keep: int = 5,
        metrics: Metrics | None = None,
        serve: str = PROMOTED,
    ) -> None:
        self._root = Path(model_dir)
        self._keep = keep
        self._metrics = metrics
        self._serve = serve
        self._states: dict[str, tuple[StateStamp, ServedState | StateError]] = {}
        self._snapshot = Snapshot.empty()
        self._scan_lock = threading.Lock()  # one scan at a time (scan thread and callers)
        self._scanned = threading.Event()
        self._stop = threading.Event()
        self._scanner: threading.Thread | None = None

    @property
    def snapshot(self) -> Snapshot:
        """The current snapshot (read once per request and keep it)."""
        return self._snapshot

    # -- scanning ------------------------------------------------------------------------

    def refresh(self) -> Snapshot:
        """Rescan the folder and swap in a new snapshot; returns it."""
        with self._scan_lock:
            old = self._snapshot
            try:
                listing = list_folder(self._root)
            except OSError as err:
                # An unmounted or renamed folder is more likely an accident than a decision
                # to unload every model: keep serving what is loaded, and say so.
                log.error("model folder %s cannot be listed: %s", self._root, err)
                if old.scanned:
                    return old
                listing = Listing({}, {})
            versions: dict[str, dict[str, Entry]] = {}
            chosen: dict[str, tuple[str | None, str]] = {}
            for name, found in listing.models.items():
                state = self._state(name) if self._serve == PROMOTED else None
                held = old.latest.get(name)
                if isinstance(state, StateError):
                    pinned = held.version if held is not None else None
                else:
                    pinned = state.served if state is not None else None
                versions[name] = self._versions(name, found, old.versions.get(name, {}), pinned)
                chosen[name] = self._choose(state, versions[name], held)
            self._states = {n: v for n, v in self._states.items() if n in listing.models}
            unlistable = {
                name: failure(name, "", self._root / name, None, reason, old.unlistable.get(name))
                for name, reason in listing.unlistable.items()
            }
            snap = Snapshot.build(versions, unlistable, chosen)
            self._snapshot = snap  # the atomic swap
        self._report(old, snap)
        return snap

    def _versions(
        self, name: str, found: list[Found], before: Mapping[str, Entry], pinned: str | None
    ) -> dict[str, Entry]:
        """One name's entries, newest first: the `keep` newest loadable ones and `pinned` loaded."""
        entries: dict[str, Entry] = {}
        kept = 0
        for f in found:
            prev = before.get(f.version)
            if f.problem is not None:
                entries[f.version] = failure(name, f.version, f.path, f.stamp, f.problem, prev)
            elif isinstance(prev, Failed) and prev.stamp == f.stamp:
                entries[f.version] = prev  # not retried until the file changes
            elif kept >= self._keep and f.version != pinned:
                reason = f"only the {self._keep} newest loadable versions are kept in memory"
                entries[f.version] = NotKept(name, f.version, reason)
            elif isinstance(prev, LoadedModel) and prev.stamp == f.stamp:
                entries[f.version] = prev
            else:
                entries[f.version] = self._load(name, f, prev)
            kept += isinstance(entries[f.version], LoadedModel)
        return entries

    def _load(self, name: str, f: Found, prev: Entry | None) -> LoadedModel | Failed:
        """Load one checkpoint, or the failure that says why not."""
        assert f.stamp is not None  # only entries without a problem are loaded
        try:
            return load_checkpoint(f.path, name, f.version, f.stamp)
        except CheckpointError as err:
            return failure(name, f.version, f.path, f.stamp, str(err), prev)

    def _state(self, name: str) -> ServedState | StateError | None:
        """The model's served.json (None: none there), read again only once it changes."""
        try:
            st = os.stat(self._root / name / STATE_FILE)
        except FileNotFoundError:
            self._states.pop(name, None)
            return None
        except OSError as err:
            return StateError(f"cannot stat {STATE_FILE}: {err.strerror or err}")
        stamp = st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns
        cached = self._states.get(name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        state: ServedState | StateError | None
        try:
            state = self._read_state(name)
        except StateError as err:
            state = err
        if state is None:  # removed since the stat
            self._states.pop(name, None)
            return None
        if isinstance(state, StateError):  # logged once: the next scans reuse it
            log.error("model %s: %s", name, state, extra={"model": name})
        self._states[name] = stamp, state
        return state

    def _read_state(self, name: str) -> ServedState | None:
        """Read served.json, only from inside the model folder, as checkpoints are opened."""
        try:
            real = (self._root / name / STATE_FILE).resolve(strict=True)
            inside = real.is_relative_to(self._root.resolve(strict=True))
        except FileNotFoundError:
            return None
        except (OSError, RuntimeError) as err:  # RuntimeError: a symlink loop (Python 3.11)
            raise StateError(f"cannot resolve {STATE_FILE}: {err}") from None
        if not inside:
            raise StateError(f"{STATE_FILE} links outside the model folder; copy it in instead")
        return served.read(self._root / name)

    def _choose(
        self,
        state: ServedState | StateError | None,
        entries: Mapping[str, Entry],
        held: LoadedModel | None,
    ) -> tuple[str | None, str]:
        """The served version of one name and why (model.served.choose, under the policy)."""
        loaded = [v for v, e in entries.items() if isinstance(e, LoadedModel)]
        if isinstance(state, StateError):
            if held is not None and held.version in loaded:
                return held.version, f"unchanged: {state}"  # not a reason to switch
            return (loaded[0] if loaded else None), f"newest: {state}"
        problems = {v: e.reason for v, e in entries.items() if not isinstance(e, LoadedModel)}
        return served.choose(self._serve, state, loaded, problems)

    def _report(self, old: Snapshot, new: Snapshot) -> None:
        """Log what changed, and log and count each new failure once."""
        for name, model in new.latest.items():
            if old.latest.get(name) is not model:
                extra = {"model": name, "version": model.version}
                reason = new.latest_reasons[name]
                log.info(
                    "model %s version %s serving (%s)", name, model.version, reason, extra=extra
                )
        fresh = [f for f in new.unlistable.values() if old.unlistable.get(f.name) is not f]
        fresh += [f for f in new.failures() if old.versions.get(f.name, {}).get(f.version) is not f]
        for f in fresh:
            extra = {"model": f.name, "version": f.version}
            log.error(
                "model %s version %r is not served: %s", f.name, f.version, f.reason, extra=extra
            )
            if self._metrics is not None:
                self._metrics.load_failed(f.name)
        if self._metrics is not None:
            self._metrics.models_loaded(len(new.latest))

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
        entry = snap.latest.get(name) if version is None else entries.get(version)
        if isinstance(entry, LoadedModel):
            return entry
        if isinstance(entry, Failed):
            raise LookupFailed(
                "not_loadable", f"version {version!r} failed to load: {entry.reason}"
            )
        if isinstance(entry, NotKept):
            raise LookupFailed("not_kept", f"version {version!r} of {name!r}: {entry.reason}")
        if version is None:
            raise LookupFailed("not_loadable", f"no version of model {name!r} loads")
        raise LookupFailed("unknown_version", f"model {name!r} has no version {version!r}")

    # -- the scan thread -----------------------------------------------------------------

    def start(self, interval: float, wait: float) -> Snapshot:
        """Scan on a daemon thread now, then every `interval` seconds (never again if 0);
        wait up to `wait` seconds for the first scan and return the snapshot then."""
        if self._scanner is None:
            self._scanner = threading.Thread(
                target=self._scan_loop, args=(interval,), name="gatecast-model-scan", daemon=True
            )
            self._scanner.start()
        if not self._scanned.wait(wait):
            log.error("the first scan of %s is still running after %.0f s", self._root, wait)
        return self._snapshot

    def _scan_loop(self, interval: float) -> None:
        """Scan until stopped; an error in one scan is logged and the next scan still runs."""
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception:
                log.exception("model folder scan failed")
            self._scanned.set()
            if interval <= 0 or self._stop.wait(interval):
                return

    def close(self, timeout: float = 5.0) -> None:
        """Stop the scan thread (tests; workers simply exit)."""
        self._stop.set()
        if self._scanner is not None:
            self._scanner.join(timeout)


def failure(
    name: str, version: str, path: Path, stamp: Stamp | None, reason: str, prev: Entry | None
) -> Failed:
    """A Failed entry; the previous one is reused when nothing changed, so it is logged once."""
    if isinstance(prev, Failed) and prev.stamp == stamp and prev.reason == reason:
        return prev
    return Failed(name, version, path, stamp, reason, now_iso())
