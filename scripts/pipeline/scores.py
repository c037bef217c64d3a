"""Forecast accuracy metrics and naive baselines, in plain numpy."""

import math
from dataclasses import dataclass

import numpy as np


def _pair(y: np.ndarray, yhat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as flat float64, after checking that their shapes agree."""
    a = np.asarray(y, dtype=np.float64)
    b = np.asarray(yhat, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"y has shape {a.shape} but yhat has shape {b.shape}")
    return a.reshape(-1), b.reshape(-1)


def mae(y: np.ndarray, yhat: np.ndarray) -> float:
    """Mean absolute error; nan for empty input."""
    a, b = _pair(y, yhat)
    # An empty mean would warn and give nan anyway; say so without the warning.
    return float(np.mean(np.abs(a - b))) if a.size else math.nan


def rmse(y: np.ndarray, yhat: np.ndarray) -> float:
    """Root mean squared error; nan for empty input."""
    a, b = _pair(y, yhat)
    return float(np.sqrt(np.mean((a - b) ** 2))) if a.size else math.nan


def smape(y: np.ndarray, yhat: np.ndarray) -> float:
    """Symmetric MAPE in percent (0..200); terms where y and yhat are both 0 count as 0."""
    a, b = _pair(y, yhat)
    if not a.size:
        return math.nan
    num = 200.0 * np.abs(a - b)
    den = np.abs(a) + np.abs(b)
    # A perfect forecast of 0 is not an error; dividing would give 0/0 = nan.
    terms = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return float(np.mean(terms))


def mase(y: np.ndarray, yhat: np.ndarray, scale: float) -> float:
    """MAE divided by the in-sample naive scale; nan when the scale is unusable."""
    if not math.isfinite(scale) or scale <= 0:
        return math.nan
    return mae(y, yhat) / scale


def mase_scale(train: np.ndarray, season: int) -> float:
    """In-sample mean |y_t - y_{t-season}| of the training part (season 1 if it is too short)."""
    if season < 1:
        raise ValueError("season must be at least 1")
    x = np.asarray(train, dtype=np.float64).reshape(-1)
    if x.size < 2:
        return math.nan
    # Too short for even one seasonal difference: the plain naive scale is the next best thing.
    lag = season if x.size >= season + 1 else 1
    return float(np.mean(np.abs(x[lag:] - x[:-lag])))


def _windows(x: np.ndarray, horizon: int) -> np.ndarray:
    """The inputs as a float (N, window) array, after checking the shapes."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise ValueError(f"x must have shape (N, window) with window >= 1, got {arr.shape}")
    if horizon < 1:
        raise ValueError("horizon must be at least 1")
    return arr


def naive_forecast(x: np.ndarray, horizon: int) -> np.ndarray:
    """(N, horizon) forecasts that repeat the last input value of each window."""
    arr = _windows(x, horizon)
    return np.repeat(arr[:, -1:], horizon, axis=1)


def seasonal_naive_forecast(x: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """(N, horizon) forecasts repeating the last full season; naive when window < season."""
    arr = _windows(x, horizon)
    if season < 1:
        raise ValueError("season must be at least 1")
    window = arr.shape[1]
    if window < season:
        return naive_forecast(arr, horizon)
    h = np.arange(1, horizon + 1)
    # yhat_{T+h} = x[T + h - season * ceil(h / season)] with T = window - 1, the last index.
    idx = window - 1 + h - season * (-(-h // season))
    return arr[:, idx]


@dataclass
class Scores:
    """Accuracy of one set of forecasts."""

    mae: float
    rmse: float
    smape: float
    mase: float


def score(y: np.ndarray, yhat: np.ndarray, scale: float) -> Scores:
    """All four metrics for one series (or a pool sharing one scale)."""
    return Scores(
        mae=mae(y, yhat), rmse=rmse(y, yhat), smape=smape(y, yhat), mase=mase(y, yhat, scale)
    )


def score_by_series(
    y: np.ndarray, yhat: np.ndarray, series: np.ndarray, scales: np.ndarray
) -> Scores:
    """Pooled MAE, RMSE and sMAPE; MASE averaged over series, each with its own scale."""
    a = np.asarray(y, dtype=np.float64)
    b = np.asarray(yhat, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"y and yhat must both be (N, horizon), got {a.shape} and {b.shape}")
    ids = np.asarray(series).reshape(-1)
    sc = np.asarray(scales, dtype=np.float64).reshape(-1)
    if ids.shape[0] != a.shape[0]:
        raise ValueError(f"series has {ids.shape[0]} entries for {a.shape[0]} windows")
    if ids.size and (ids.min() < 0 or ids.max() >= sc.size):
        raise ValueError(f"series indices must lie in 0..{sc.size - 1}")
    per_series = []
    for s in range(sc.size):
        rows = ids == s
        scale = float(sc[s])
        # Series without windows, or whose scale is unusable, say nothing about relative accuracy;
        # a nan forecast, though, must still poison the mean rather than vanish from it.
        if not rows.any() or not math.isfinite(scale) or scale <= 0:
            continue
        per_series.append(mase(a[rows], b[rows], scale))
    return Scores(
        mae=mae(a, b),
        rmse=rmse(a, b),
        smape=smape(a, b),
        mase=float(np.mean(per_series)) if per_series else math.nan,
    )
