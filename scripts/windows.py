"""Cut series into training and validation windows, split by time (numpy only)."""

import logging
from dataclasses import dataclass

import numpy as np

from scripts.data import DataError, Series

log = logging.getLogger(__name__)


@dataclass
class Windows:
    """Inputs x (N, window), the horizon targets y right after them, and where each came from."""

    x: np.ndarray
    y: np.ndarray
    series: np.ndarray
    origin: np.ndarray


@dataclass
class Split:
    """Train and validation windows, cut by time, and the series too short to use."""

    train: Windows
    val: Windows
    skipped: list[str]


def train_part(s: Series, val_fraction: float) -> np.ndarray:
    """The values before the validation cut (used for MASE scaling and global statistics)."""
    n = len(s.values)  # the cut leaves round(n * val_fraction) points, at least one, to validation
    return s.values[: min(n - round(n * val_fraction), n - 1 if val_fraction > 0 else n)]


def windows_at(
    series: list[Series], origins: list[np.ndarray], window: int, horizon: int
) -> Windows:
    """The windows whose first target sits at each origin (one origin array per series)."""
    xs, ys = [], []
    for s, o in zip(series, origins, strict=True):
        if len(o) and (o.min() < window or o.max() > len(s.values) - horizon):
            raise DataError(f"origins for {s.name!r} must lie in [{window}, n - {horizon}]")
        v = s.values.astype(np.float32)
        xs.append(v[o[:, None] + np.arange(-window, 0)].reshape(-1, window))
        ys.append(v[o[:, None] + np.arange(horizon)].reshape(-1, horizon))
    ids = np.concatenate([np.full(len(o), i, dtype=np.int64) for i, o in enumerate(origins)])
    origin = np.concatenate(origins).astype(np.int64)
    return Windows(np.concatenate(xs), np.concatenate(ys), ids, origin)


def split_windows(
    series: list[Series], window: int, horizon: int = 1, val_fraction: float = 0.2, stride: int = 1
) -> Split:
    """Windows split by time per series: train targets all before the cut, val ones from it on."""
    if min(window, horizon, stride) < 1 or not 0 <= val_fraction < 1:
        got = f"window {window}, horizon {horizon}, stride {stride}, val_fraction {val_fraction}"
        raise DataError(f"need ints >= 1 and 0 <= val_fraction < 1, got {got}")
    if not series:
        raise DataError("no series to cut into windows")
    need, train, val, skipped = window + horizon, [], [], []
    for s in series:
        n, cut = len(s.values), len(train_part(s, val_fraction))
        if n < need:
            log.warning("series %r has %d points < window + horizon = %d: skipped", s.name, n, need)
            skipped.append(s.name)
            n = cut = 0  # no windows from it, but it keeps its index in the series list
        # Windows whose targets straddle the cut belong to neither set.
        train.append(np.arange(window, cut - horizon + 1, stride, dtype=np.int64))
        val.append(np.arange(max(cut, window), n - horizon + 1, stride, dtype=np.int64))
    if len(skipped) == len(series):
        top = max(series, key=lambda s: len(s.values))
        msg = f"longest is {top.name!r} with {len(top.values)}"
        raise DataError(f"no series has at least window + horizon = {need} points; {msg}")
    if not sum(map(len, train)):
        raise DataError("no training windows before the validation cut; lower the window")
    if val_fraction > 0 and not sum(map(len, val)):
        msg = f"the last {val_fraction:.0%} of every series is shorter than horizon = {horizon}"
        raise DataError(f"no validation windows: {msg}; lower the window or raise --val-fraction")
    return Split(windows_at(series, train, window, horizon),
                 windows_at(series, val, window, horizon), skipped)  # fmt: skip
