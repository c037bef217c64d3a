"""Accuracy of a forecaster on windows, next to naive and seasonal-naive baselines."""

from collections.abc import Callable
from dataclasses import asdict

import numpy as np
import torch
from torch import Tensor

from scripts.pipeline.csv_series import Series
from scripts.pipeline.scores import (
    Scores,
    mase_scale,
    naive_forecast,
    score_by_series,
    seasonal_naive_forecast,
)
from scripts.pipeline.windows import Windows, train_part

# Anything called like GateLSTM or its TorchScript form: (x (B, T), horizon) -> (forecast, ...)
Model = Callable[..., tuple[Tensor, ...]]
METHODS = ("model", "naive", "seasonal_naive")


def forecast_windows(
    model: Model,
    x: np.ndarray,
    horizon: int,
    batch: int = 4096,
    exog: np.ndarray | None = None,
    series: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Raw forecasts (N, horizon) for raw histories x (N, T), in batches, and the scale (N,)
    each history got, which maps scaled residuals to raw units.

    exog (N, T + horizon or more, E) and series (N,) int64: the model's exogenous inputs
    and series ids, for a model that takes them.
    """
    out, scales = [np.zeros((0, horizon))], [np.zeros(0)]
    with torch.no_grad():
        for start in range(0, len(x), batch):
            chunk = torch.as_tensor(x[start : start + batch], dtype=torch.float32)
            if exog is None and series is None:
                forecast, _h, _c, _loc, scale = model(chunk, horizon)
            else:
                ex = None if exog is None else torch.as_tensor(exog[start : start + batch])
                ids = None if series is None else torch.as_tensor(series[start : start + batch])
                forecast, _h, _c, _loc, scale = model(
                    chunk, horizon, None, None, None, None, ex, ids
                )
            out.append(forecast.double().numpy())
            scales.append(scale[:, 0].double().numpy())
    return np.concatenate(out), np.concatenate(scales)


def known_rows(windows: Windows, steps: int) -> tuple[Windows, np.ndarray]:
    """The windows whose first `steps` targets are all known, cut to those steps, and the
    mask (N,) that picked them."""
    keep = ~np.isnan(windows.y[:, :steps]).any(axis=1)
    exog = None if windows.exog is None else windows.exog[keep]
    cut = Windows(
        windows.x[keep], windows.y[keep, :steps], windows.series[keep], windows.origin[keep], exog
    )
    return cut, keep


def baselines(
    series: list[Series], windows: Windows, horizon: int, season: int
) -> dict[str, np.ndarray]:
    """Naive and seasonal-naive forecasts (N, horizon) from each window's full history.

    The history, not only the model's input window, feeds the seasonal baseline, so a
    window shorter than a season still gets a true seasonal-naive comparison.
    """
    length = max(season, windows.x.shape[1])
    history = np.empty((len(windows.origin), length))
    full = True
    for k, (s, origin) in enumerate(zip(windows.series, windows.origin, strict=True)):
        values = series[s].values[max(0, origin - length) : origin]
        full &= len(values) == length
        history[k, length - len(values) :] = values
    snaive_in = history if full else windows.x
    return {
        "naive": naive_forecast(windows.x, horizon),
        "seasonal_naive": seasonal_naive_forecast(snaive_in, horizon, season),
    }


def compare(
    series: list[Series],
    windows: Windows,
    forecast: np.ndarray,
    season: int,
    val_fraction: float,
) -> dict[str, Scores]:
    """Scores of the model and both baselines on the same windows (MASE scaled per series)."""
    horizon = windows.y.shape[1]
    scales = np.array(
        [mase_scale(train_part(s, val_fraction), season) for s in series], dtype=np.float64
    )
    forecasts = {"model": forecast, **baselines(series, windows, horizon, season)}
    return {
        name: score_by_series(windows.y, yhat, windows.series, scales)
        for name, yhat in forecasts.items()
    }


def scores_dict(scores: dict[str, Scores]) -> dict[str, dict[str, float | None]]:
    """JSON-ready scores: non-finite values become null."""
    return {
        name: {k: (v if np.isfinite(v) else None) for k, v in asdict(s).items()}
        for name, s in scores.items()
    }


def format_table(rows: list[list[str]]) -> str:
    """A plain text table, first row the header, columns aligned."""
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
