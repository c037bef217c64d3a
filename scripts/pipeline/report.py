"""What a training run reports: meta.json contents and the closing summary table."""

import datetime as dt
import platform
from typing import Any

import lightning
import numpy as np
import torch

from model.intervals import residual_quantiles
from model.network import GateLSTM
from scripts.pipeline.config import TrainConfig
from scripts.pipeline.csv_series import Series, fingerprint
from scripts.pipeline.evaluate import (
    compare,
    forecast_windows,
    format_table,
    known_rows,
    scores_dict,
)
from scripts.pipeline.fit import FitResult
from scripts.pipeline.scores import Scores
from scripts.pipeline.windows import Split, Windows, cuts

LABELS = {"model": "gatecast", "naive": "naive", "seasonal_naive": "seasonal naive"}


def series_stats(series: list[Series], val_fraction: float) -> list[dict[str, Any]]:
    """Name, length, span, moments and held-out cuts of each training series."""
    rows = []
    for s in series:
        tail, calibration = cuts(len(s.values), val_fraction)
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
                "held_out_from": tail,  # early stopping from here, calibration from the next
                "calibration_from": calibration,
            }
        )
    return rows


def features_meta(net: GateLSTM) -> dict[str, Any]:
    """What the model reads besides the values: meta.json's `features`.

    The calendar names are the recipe: model.calendar.calendar_features computes them from
    each timestamp's local wall clock, in training and in the service alike. The scaling
    of each exogenous input is the training part's mean and spread.
    """
    cfg = net.config
    return {
        "calendar": list(cfg.calendar),
        "past_covariates": list(cfg.past_covariates),
        "future_covariates": list(cfg.future_covariates),
        "series": list(cfg.series) if cfg.series_embedding else None,
        "series_embedding": cfg.series_embedding,
        "inputs": cfg.input_names,
        "scaling": {
            name: {"loc": float(loc), "scale": float(scale)}
            for name, loc, scale in zip(
                cfg.exog_names, net.exog_loc.tolist(), net.exog_scale.tolist(), strict=True
            )
        },
    }


def held_out_scores(
    series: list[Series], calib: Windows, forecast: np.ndarray, cfg: TrainConfig
) -> dict[str, dict[str, Scores]]:
    """One-step and full-horizon scores of the model's calibration forecasts (N, horizon)
    and the baselines, on the windows whose targets are known; no training or selection
    step saw them. A forecast's first steps are the shorter forecast, for either decoder."""
    out = {}
    for label, steps in (("one_step", 1), ("horizon", cfg.horizon or 1)):
        known, keep = known_rows(calib, steps)
        if keep.any():
            picked = forecast[keep, :steps]
            out[label] = compare(series, known, picked, cfg.season or 1, cfg.val_fraction)
    return out


def build_meta(
    net: GateLSTM, series: list[Series], split: Split, cfg: TrainConfig, result: FitResult
) -> tuple[dict[str, Any], dict[str, dict[str, Scores]]]:
    """The checkpoint's description, and the held-out scores it contains."""
    # Intervals come from the calibration windows; with no held-out tail, from training ones.
    held = split.calib if len(split.calib.x) else split.train
    ids = held.series if net.config.series_embedding else None
    forecast, scale = forecast_windows(net, held.x, cfg.horizon or 1, exog=held.exog, series=ids)
    residuals = (held.y - forecast) / scale[:, None]  # (N, horizon) scaled, NaN: no target
    scores = held_out_scores(series, held, forecast, cfg) if held is split.calib else {}
    quantiles = residual_quantiles(torch.from_numpy(residuals))
    quantiles["source"] = "calibration" if held is split.calib else "training"
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
        "decoder": net.config.decoder,
        "min_history": net.config.min_history,
        "frequency": series[0].freq,
        "features": features_meta(net),
        "season": cfg.season,
        "series": series_stats(series, cfg.val_fraction),
        "data": {
            "sha256": fingerprint(series),
            "paths": cfg.data.paths,
            "layout": cfg.data.layout,
            "missing": cfg.data.missing,
        },
        "training": {
            "epochs_run": result.epochs_run,
            "steps_run": result.steps_run,
            "best_epoch": result.best_epoch,
            "best_step": result.best_step,
            "best_val_loss": result.best_val_loss,
            "seconds": round(result.seconds, 3),
            "windows": {
                "train": len(split.train.x),
                "val": len(split.val.x),
                "calib": len(split.calib.x),
            },
            "skipped_series": split.skipped,
            "val_fraction": cfg.val_fraction,
            "seed": cfg.fit.seed,
            "lr": cfg.fit.lr,
            "loss": cfg.fit.loss,
            "batch_size": cfg.fit.batch_size,
            "log_path": result.log_path,
        },
        "metrics": scores_dict(scores.get("one_step", {})),
        "metrics_horizon": scores_dict(scores.get("horizon", {})),
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
    scores: dict[str, dict[str, Scores]],
    cfg: TrainConfig,
) -> str:
    """The run's closing summary: data, training and held-out accuracy against baselines."""
    best = "n/a" if result.best_val_loss is None else f"{result.best_val_loss:.5g}"
    head = (
        f"model {name}: {len(series) - len(split.skipped)} series "
        f"({len(split.skipped)} skipped), window {cfg.window}, horizon {cfg.horizon}, "
        f"windows {len(split.train.x)} train / {len(split.val.x)} early stopping / "
        f"{len(split.calib.x)} calibration, steps run {result.steps_run} "
        f"(best {result.best_step}), best validation loss {best}, "
        f"{result.windows_per_second:,.0f} windows/s, {result.seconds:.1f} s"
    )
    if not scores:
        return head + "\n(no held-out windows: no accuracy figures)"
    rows = [["held out", "steps", "MAE", "RMSE", "sMAPE %", f"MASE (m={cfg.season})"]]
    for label, table in scores.items():
        steps = "1" if label == "one_step" else str(cfg.horizon)
        for key, s in table.items():
            rows.append(
                [LABELS[key], steps, _fmt(s.mae), _fmt(s.rmse), _fmt(s.smape), _fmt(s.mase)]
            )
    return head + "\n" + format_table(rows)
