"""Cut series into training, early-stopping and calibration windows, split by time (numpy).

Each series' held-out tail (the last `val_fraction`) has two halves: the first stops training
early and picks the best weights, the second calibrates the intervals, so the calibration
residuals come from targets that no training or selection step saw. A window's targets that
fall outside its part are NaN; the loss and the calibration skip them.
"""

import logging
from dataclasses import dataclass

import numpy as np

from scripts.pipeline.csv_series import DataError, Series

log = logging.getLogger(__name__)


@dataclass
class Windows:
    """Histories x (N, history), the next `horizon` values y (N, horizon; NaN outside the
    part), the index of the series each came from, the position of its first target and,
    for a model with exogenous inputs, those of every step (N, history + horizon, E)."""

    x: np.ndarray
    y: np.ndarray
    series: np.ndarray
    origin: np.ndarray
    exog: np.ndarray | None = None


@dataclass
class Split:
    """Training, early-stopping and calibration windows, and the series too short to use."""

    train: Windows
    val: Windows
    calib: Windows
    skipped: list[str]


def cuts(n: int, val_fraction: float) -> tuple[int, int]:
    """Where a series of n points splits: the held-out tail starts at the first index, its
    calibration half at the second (both n when nothing is held out)."""
    if val_fraction <= 0:
        return n, n
    held = min(max(round(n * val_fraction), 2), n - 1)  # one point each for stopping, calibration
    return n - held, n - held + held // 2


def train_part(s: Series, val_fraction: float) -> np.ndarray:
    """The values before the held-out tail (for MASE scaling and global statistics)."""
    return s.values[: cuts(len(s.values), val_fraction)[0]]


def windows_at(
    series: list[Series],
    origins: list[np.ndarray],
    history: int,
    horizon: int,
    spans: list[tuple[int, int]] | None = None,
    exog: list[np.ndarray] | None = None,
) -> Windows:
    """The windows whose first target sits at each origin (one origin array per series);
    targets outside each series' span [lo, hi) (default: the whole series) are NaN.

    exog: per series its exogenous inputs (n, E); each window takes those of its history
    and horizon steps, the last step's repeated past the end of the series.
    """
    xs, ys, es = [], [], []
    for k, (s, o) in enumerate(zip(series, origins, strict=True)):
        n = len(s.values)
        lo, hi = spans[k] if spans is not None else (0, n)
        if len(o) and (o.min() < history or o.max() >= n):
            raise DataError(f"origins for {s.name!r} must lie in [{history}, {n - 1}]")
        v = s.values.astype(np.float32)
        xs.append(v[o[:, None] + np.arange(-history, 0)].reshape(-1, history))
        at = o[:, None] + np.arange(horizon)  # (N, horizon) target positions
        inside = (at >= lo) & (at < min(hi, n))
        ys.append(np.where(inside, v[np.minimum(at, n - 1)], np.nan).reshape(-1, horizon))
        if exog is not None:
            steps = np.minimum(o[:, None] + np.arange(-history, horizon), n - 1)  # (N, T + H)
            es.append(exog[k][steps].reshape(len(o), history + horizon, exog[k].shape[1]))
    ids = np.concatenate([np.full(len(o), i, dtype=np.int64) for i, o in enumerate(origins)])
    origin = np.concatenate(origins).astype(np.int64)
    inputs = None if exog is None else np.concatenate(es).astype(np.float32)
    return Windows(np.concatenate(xs), np.concatenate(ys).astype(np.float32), ids, origin, inputs)


def split_windows(
    series: list[Series],
    history: int,
    horizon: int = 1,
    val_fraction: float = 0.2,
    stride: int = 1,
    exog: list[np.ndarray] | None = None,
) -> Split:
    """Windows split by time per series: training targets before the tail, early-stopping
    targets in its first half, calibration targets in its second half; exog as in
    windows_at."""
    if min(history, horizon, stride) < 1 or not 0 <= val_fraction < 1:
        got = f"history {history}, horizon {horizon}, stride {stride}, val_fraction {val_fraction}"
        raise DataError(f"need ints >= 1 and 0 <= val_fraction < 1, got {got}")
    if not series:
        raise DataError("no series to cut into windows")
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "calib": []}
    spans: dict[str, list[tuple[int, int]]] = {"train": [], "val": [], "calib": []}
    skipped = []
    for s in series:
        n = len(s.values)
        cut, cal = cuts(n, val_fraction)
        if cut <= history:
            msg = "series %r has %d points: too few for a history of %d before its tail; skipped"
            log.warning(msg, s.name, n, history)
            skipped.append(s.name)
            n = cut = cal = history  # no windows from it, but it keeps its index
        first = history
        ranges = {
            "train": (np.arange(first, cut, stride), (0, cut)),
            "val": (np.arange(max(cut - horizon + 1, first), cal), (cut, cal)),
            "calib": (np.arange(max(cal - horizon + 1, first), n), (cal, n)),
        }
        for part, (origins, span) in ranges.items():
            if span[0] >= span[1]:  # nothing held out: no windows for this part
                origins = origins[:0]
            parts[part].append(origins.astype(np.int64))
            spans[part].append(span)
    if len(skipped) == len(series):
        top = max(series, key=lambda s: len(s.values))
        msg = f"longest is {top.name!r} with {len(top.values)}"
        raise DataError(
            f"no series is long enough for a history of {history} (the window, or the longest "
            f"season) plus a held-out tail; {msg}"
        )
    if val_fraction > 0 and not all(sum(map(len, parts[p])) for p in ("val", "calib")):
        raise DataError(
            "the held-out tail has no windows; lower the window or raise --val-fraction"
        )
    built = {p: windows_at(series, parts[p], history, horizon, spans[p], exog) for p in parts}
    return Split(built["train"], built["val"], built["calib"], skipped)
