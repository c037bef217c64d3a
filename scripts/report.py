"""What a training run reports: meta.json contents and the closing summary table."""

import datetime as dt
import platform
from typing import TYPE_CHECKING, Any

import lightning
import numpy as np
import torch

from model.intervals import residual_quantiles
from model.network import GateLSTM
from scripts.data import DataConfig, Series, fingerprint
from scripts.evaluate import compare, format_table, predict, scales_of, scores_dict
from scripts.fit import FitResult
from scripts.metrics import Scores
from scripts.windows import Split

if TYPE_CHECKING:
    from scripts.train import TrainConfig

LABELS = {"model": "gatecast", "naive": "naive", "seasonal_naive": "seasonal naive"}


def series_stats(series: list[Series]) -> list[dict[str, Any]]:
    """Name, length, span and moments of each training series."""
    rows = []
    for s in series:
        start = s.timestamps[0].isoformat() if s.timestamps is not None else None
        end = s.timestamps[-1].isoformat() if s.timestamps is not None else None
        v = s.values
        rows.append(
            {
                "name": s.name,
                "length": len(v),
                "start": start,
                "end": end,
                "mean": float(v.mean()),
                "std": float(v.std()),
                "min": float(v.min()),
                "max": float(v.max()),
                "filled": s.filled,
            }
        )
    return rows


def build_meta(
    net: GateLSTM,
    series: list[Series],
    split: Split,
    data: DataConfig,
    cfg: "TrainConfig",
    season: int,
    result: FitResult,
) -> tuple[dict[str, Any], dict[str, Scores]]:
    """The checkpoint's description, and the validation scores it contains."""
    # Intervals come from held-out residuals; with no validation part, from training ones.
    held = split.val if len(split.val.x) else split.train
    forecast = predict(net, held.x, cfg.horizon)
    residuals = (held.y - forecast) / scales_of(net, held.x)[:, None]  # (N, horizon) scaled
    scores = (
        compare(series, split.val, forecast, season, cfg.val_fraction) if len(split.val.x) else {}
    )
    quantiles = residual_quantiles(torch.from_numpy(residuals))
    quantiles["source"] = "validation" if held is split.val else "training"
    meta = {
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "network": net.config.to_dict(),
        "normalization": {
            "mode": net.config.normalization,
            "loc": float(net.global_loc),
            "scale": float(net.global_scale),
        },
        "window": cfg.window,
        "horizon": cfg.horizon,
        "frequency": series[0].freq,
        "season": season,
        "series": series_stats(series),
        "data": {
            "sha256": fingerprint(series),
            "paths": data.paths,
            "layout": data.layout,
            "missing": data.missing,
        },
        "training": {
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
            "best_val_loss": result.best_val_loss,
            "seconds": round(result.seconds, 3),
            "windows": {"train": len(split.train.x), "val": len(split.val.x)},
            "skipped_series": split.skipped,
            "val_fraction": cfg.val_fraction,
            "seed": cfg.fit.seed,
            "lr": cfg.fit.lr,
            "batch_size": cfg.fit.batch_size,
            "log_path": result.log_path,
        },
        "metrics": scores_dict(scores),
        "residual_quantiles": quantiles,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "lightning": lightning.__version__,
            "numpy": np.__version__,
        },
    }
    return meta, scores


def _fmt(v: float) -> str:
    """A metric for the table."""
    return "n/a" if not np.isfinite(v) else f"{v:.4g}"


def summary_table(
    name: str,
    series: list[Series],
    split: Split,
    result: FitResult,
    scores: dict[str, Scores],
    season: int,
) -> str:
    """The run's closing summary: data, training and validation accuracy against baselines."""
    best = "n/a" if result.best_val_loss is None else f"{result.best_val_loss:.5g}"
    head = (
        f"model {name}: {len(series) - len(split.skipped)} series "
        f"({len(split.skipped)} skipped), windows {len(split.train.x)} train / "
        f"{len(split.val.x)} validation, epochs run {result.epochs_run} "
        f"(best {result.best_epoch}), best validation loss {best}, "
        f"{result.windows_per_second:,.0f} windows/s"
    )
    if not scores:
        return head + "\n(no validation windows: no accuracy figures)"
    rows = [["validation", "MAE", "RMSE", "sMAPE %", f"MASE (m={season})"]]
    for key, s in scores.items():
        rows.append([LABELS[key], _fmt(s.mae), _fmt(s.rmse), _fmt(s.smape), _fmt(s.mase)])
    return head + "\n" + format_table(rows)
