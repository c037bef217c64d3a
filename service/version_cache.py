"""Older versions loaded on demand: a small per-worker LRU cache and its load failures."""

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

from service.checkpoint import CheckpointError, LoadedModel, Stamp, load_checkpoint, now_iso
from service.snapshot import Available, Failed

log = logging.getLogger("gatecast.registry")

CACHE_SIZE = 4  # older versions kept in memory per worker after a request asked for them

Key = tuple[str, str, Stamp]  # (name, version, file stamp): a changed file is a new key


class VersionCache:
    """Loaded older versions (LRU, `size` at most) and the versions that failed to load."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._lock = threading.Lock()  # one load at a time per worker; guards both maps
        self._models: OrderedDict[Key, LoadedModel] = OrderedDict()
        self._failed: dict[Key, Failed] = {}

    def put(self, model: LoadedModel) -> None:
        """Keep a superseded model for requests that pin its version."""
        with self._lock:
            self._insert((model.name, model.version, model.stamp), model)

    def take(self, key: Key) -> LoadedModel | None:
        """Remove and return a cached model (it becomes the newest again)."""
        with self._lock:
            return self._models.pop(key, None)

    def peek(self, key: Key) -> LoadedModel | Failed | None:
        """The cached model or the failure for a key, without touching the LRU order."""
        with self._lock:
            return self._models.get(key) or self._failed.get(key)

    def failure(self, key: Key) -> Failed | None:
        """The failure recorded when a request tried to load this version."""
        with self._lock:
            return self._failed.get(key)

    def load(self, entry: Available, on_failure: Callable[[Failed], None]) -> LoadedModel | Failed:
        """The model behind an entry, loading it on first use; a failure is kept, not retried."""
        key = (entry.name, entry.version, entry.stamp)
        with self._lock:
            model = self._models.get(key)
            if model is not None:
                self._models.move_to_end(key)
                return model
            failed = self._failed.get(key)
            if failed is not None:
                return failed
            try:
                model = load_checkpoint(entry.path, entry.name, entry.version, entry.stamp)
            except CheckpointError as err:
                failed = Failed(
                    entry.name, entry.version, entry.path, entry.stamp, str(err), now_iso()
                )
                self._failed[key] = failed
                on_failure(failed)
                return failed
            self._insert(key, model)
            return model

    def forget_except(self, live: set[Key]) -> None:
        """Drop cached models and failures whose file is gone or changed."""
        with self._lock:
            for key in [k for k in self._models if k not in live]:
                del self._models[key]
            for key in [k for k in self._failed if k not in live]:
                del self._failed[key]

    def _insert(self, key: Key, model: LoadedModel) -> None:
        """Add (lock held), evicting the least recently used."""
        self._models[key] = model
        self._models.move_to_end(key)
        while len(self._models) > self._size:
            self._models.popitem(last=False)
