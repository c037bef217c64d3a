"""Backtest a checkpoint on a CSV: rolling one-step and H-step forecasts over the series' tail
from the true history, interval coverage, and the baselines; writes report.json and plot.png.

    python -m scripts.backtest --model airline --data data/airline_passengers.csv --out bt
"""

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.export import list_checkpoints, load
from model.intervals import interval_offsets
from model.network import NetworkConfig
from scripts.pipeline.csv_series import DataConfig, DataError, Series, load_series, step_times
from scripts.pipeline.evaluate import Model, baselines, compare, forecast_windows, scores_dict
from scripts.pipeline.features import exog_matrix
from scripts.pipeline.flags import add_flags, command_parser, from_flags
from scripts.pipeline.plot import plot_backtest
from scripts.pipeline.windows import Windows, windows_at

COVERAGE_LEVELS = (0.8, 0.95)


def _flag(default: Any, text: str) -> Any:
    """A config field that is also a backtest flag."""
    return field(default=default, metadata={"help": text})


@dataclass
class BacktestConfig:
    """Which checkpoint, which series, which origins and horizon, where to write."""

    checkpoint: str | None = _flag(None, "a checkpoint file (.pt); or give --model")
    model: str | None = _flag(None, "a model name under --model-dir (its newest version)")
    model_dir: str = _flag("models", "checkpoint root folder for --model")
    series: str | None = _flag(None, "which series to backtest (default: the first)")
    tail: float = _flag(
        0.2, "origins: the last fraction (< 1) or count (>= 1) of the series' points"
    )
    horizon: int | None = _flag(None, "steps of the H-step forecasts (default: the model's)")
    origin: int | None = _flag(
        None, "index where the plotted H-step forecast starts (default: the last that fits)"
    )
    interval: float = _flag(0.9, "interval level drawn in the plot")
    season: int | None = _flag(None, "seasonal period (default: the model's)")
    out: str = _flag("backtest", "folder for report.json and plot.png")

    def __post_init__(self) -> None:
        if (self.checkpoint is None) == (self.model is None):
            raise ValueError("give one of --checkpoint and --model")
        if self.horizon is not None and self.horizon < 1:
            raise ValueError("--horizon must be at least 1")
        if self.tail <= 0:
            raise ValueError("--tail must be positive")


def build_parser() -> argparse.ArgumentParser:
    """The command line, every flag from a config field."""
    p = command_parser(
        "gatecast-backtest",
        "Rolling one-step and H-step backtest of a checkpoint over a series' tail, "
        "with interval coverage and baselines; writes report.json and plot.png.",
    )
    add_flags(p.add_argument_group("data"), DataConfig, "data.")
    add_flags(p.add_argument_group("backtest"), BacktestConfig, "bt.")
    return p


def pick_series(series: list[Series], name: str | None) -> Series:
    """The series asked for, or the first."""
    if name is None:
        return series[0]
    for s in series:
        if s.name == name:
            return s
    raise DataError(f"no series {name!r}; have {', '.join(s.name for s in series[:10])}")


def newest(model_dir: str, name: str) -> Path:
    """The latest version of a named model."""
    found = list_checkpoints(model_dir)
    if name not in found:
        raise DataError(f"no model {name!r} in {model_dir}")
    return found[name][-1]


def bands(
    meta: dict[str, Any], forecast: np.ndarray, scale: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """Lower and upper bounds (N, horizon) from the checkpoint's residual quantiles."""
    try:
        low, high = interval_offsets(meta["residual_quantiles"], level, forecast.shape[1])
    except ValueError:
        return None
    return forecast + np.array(low) * scale[:, None], forecast + np.array(high) * scale[:, None]


def coverage(meta: dict[str, Any], w: Windows, forecast: np.ndarray, scale: np.ndarray) -> dict:
    """Share of actuals inside the interval at each level, over every known target."""
    out: dict[str, float | None] = {}
    for level in COVERAGE_LEVELS:
        band = bands(meta, forecast, scale, level)
        known = ~np.isnan(w.y)
        inside = band is not None and ((w.y >= band[0]) & (w.y <= band[1]))[known]
        out[f"{level:g}"] = float(np.mean(inside)) if band is not None and known.any() else None
    return out


def trained_span(meta: dict[str, Any], s: Series) -> int:
    """Points of s that training or early stopping saw: 0 unless the checkpoint was trained
    on a series of the same name that starts at the same time."""
    start = s.timestamps[0].isoformat() if s.timestamps is not None else None
    for row in meta.get("series", []):
        if row.get("name") == s.name and row.get("start") == start:
            return int(row.get("calibration_from", row.get("length", 0)))
    return 0


@dataclass
class Run:
    """One backtest's fixed inputs: the checkpoint, the series and where the origins start."""

    model: Model
    meta: dict[str, Any]
    series: Series
    need: int  # observations each forecast reads
    horizon: int
    season: int
    first: int  # first origin
    exog: np.ndarray | None = None  # (n, E) the model's exogenous inputs of the series
    series_id: int | None = None  # the series' index in the model's embedding

    def forecast(self, w: Windows, horizon: int) -> tuple[np.ndarray, np.ndarray]:
        """forecast_windows on w, with its exogenous inputs and series id when the model
        reads them."""
        ids = None if self.series_id is None else np.full(len(w.x), self.series_id)
        return forecast_windows(self.model, w.x, horizon, exog=w.exog, series=ids)

    @property
    def frac(self) -> float:
        """The share of the series from the first origin on: MASE scales by the in-sample
        seasonal-naive error before it."""
        n = len(self.series.values)
        return (n - self.first) / n


def one_step(run: Run, level: float) -> dict[str, Any]:
    """Rolling one-step forecasts from every origin, with coverage and the plotted band."""
    s, n = run.series, len(run.series.values)
    # The model reads only its last `need` observations, so each origin's whole history and
    # its last `need` values give the same forecast; the latter batch.
    w = windows_at([s], [np.arange(run.first, n)], run.need, 1, exog=exogs(run))
    forecast, scale = run.forecast(w, 1)
    band = bands(run.meta, forecast, scale, level)
    out = {
        "origins": int(n - run.first),
        "first_origin": run.first,
        "metrics": scores_dict(compare([s], w, forecast, run.season, run.frac)),
        "coverage": coverage(run.meta, w, forecast, scale),
        "forecast": forecast[:, 0].tolist(),
        "actual": w.y[:, 0].tolist(),
    }
    if band is not None:
        out.update(lower=band[0][:, 0].tolist(), upper=band[1][:, 0].tolist())
    return out


def rolling(run: Run) -> dict[str, Any]:
    """H-step forecasts from every origin whose H targets are known, scored and covered."""
    s, n = run.series, len(run.series.values)
    origins = [np.arange(run.first, n - run.horizon + 1)]
    w = windows_at([s], origins, run.need, run.horizon, exog=exogs(run))
    out: dict[str, Any] = {"horizon": run.horizon, "origins": len(w.x)}
    if len(w.x):
        forecast, scale = run.forecast(w, run.horizon)
        out["metrics"] = scores_dict(compare([s], w, forecast, run.season, run.frac))
        out["coverage"] = coverage(run.meta, w, forecast, scale)
    return out


def multi_step(run: Run, origin: int, level: float) -> dict[str, Any]:
    """The one H-step forecast that is plotted, with its band, scores and baselines."""
    s, n, horizon = run.series, len(run.series.values), run.horizon
    if not run.need <= origin <= n:
        raise DataError(f"--origin must lie in [{run.need}, {n}] for this series")
    x = s.values[origin - run.need : origin][None, :]
    exog = None
    if run.exog is not None:  # past the end of the series, its last step's inputs repeat
        steps = np.minimum(np.arange(origin - run.need, origin + horizon), n - 1)
        exog = run.exog[steps][None]
    at = Windows(x, np.zeros((1, horizon)), np.zeros(1), np.array([origin]), exog)
    forecast, scale = run.forecast(at, horizon)
    actual = s.values[origin : origin + horizon]
    out: dict[str, Any] = {
        "origin": origin,
        "horizon": horizon,
        "forecast": forecast[0].tolist(),
        "actual": actual.tolist(),
        "timestamps": step_times(s, origin, horizon),
    }
    band = bands(run.meta, forecast, scale, level)
    if band is not None:
        out.update(lower=band[0][0].tolist(), upper=band[1][0].tolist())
    if len(actual) == horizon:
        w = windows_at([s], [np.array([origin])], run.need, horizon)
        out["metrics"] = scores_dict(compare([s], w, forecast, run.season, (n - origin) / n))
        base = baselines([s], w, horizon, run.season)
        out["baselines"] = {k: v[0].tolist() for k, v in base.items()}
    return out


def exogs(run: Run) -> list[np.ndarray] | None:
    """windows_at's exog argument for the run's series."""
    return None if run.exog is None else [run.exog]


def model_inputs(meta: dict[str, Any], s: Series) -> tuple[np.ndarray | None, int | None]:
    """The exogenous inputs (n, E) the checkpoint reads for series s, and the series' index
    in its embedding (None: not one it was trained on, the zero embedding)."""
    net = NetworkConfig(**meta["network"])
    if not net.exog_names and not net.series_embedding:
        return None, None
    for name in [*net.past_covariates, *net.future_covariates]:
        if name not in s.covariates:
            raise DataError(
                f"the model reads the covariate {name!r}: name its column with "
                "--past-covariates / --future-covariates as in training"
            )
    ids = {name: k for k, name in enumerate(net.series)}
    return exog_matrix(s, net), ids.get(s.name) if net.series_embedding else None


def backtest(data: DataConfig, cfg: BacktestConfig) -> dict[str, Any]:
    """Run the backtests and return the report."""
    path = Path(cfg.checkpoint) if cfg.checkpoint else newest(cfg.model_dir, str(cfg.model))
    module, meta = load(path)
    need = max(int(meta["window"]), int(meta.get("min_history", 1)))
    horizon = cfg.horizon or int(meta["horizon"])
    if meta.get("decoder") == "direct" and horizon > int(meta["horizon"]):
        raise DataError(f"--horizon {horizon} is beyond the model's trained {meta['horizon']}")
    s = pick_series(load_series(data), cfg.series)
    n = len(s.values)
    tail = round(n * cfg.tail) if cfg.tail < 1 else int(cfg.tail)
    first = max(need, n - tail)
    if first >= n:
        raise DataError(f"series {s.name!r} has {n} points: too short for a history of {need}")
    season = cfg.season or int(meta.get("season") or 1)
    exog, series_id = model_inputs(meta, s)
    run = Run(module, meta, s, need, horizon, season, first, exog, series_id)
    one = one_step(run, cfg.interval)
    origin = cfg.origin if cfg.origin is not None else max(first, n - horizon)
    seen = trained_span(meta, s)
    return {
        "checkpoint": str(path),
        "model": meta["name"],
        "version": meta["version"],
        "series": s.name,
        "points": n,
        "season": season,
        "window": int(meta["window"]),
        "history": need,
        "frequency": s.freq,
        "trained_span": seen,
        "origins_in_trained_span": int(max(0, min(seen, n) - first)),
        "one_step": one,
        "rolling": rolling(run),
        "multi_step": multi_step(run, origin, cfg.interval),
        "interval_level": cfg.interval if "lower" in one else None,
        "timestamps": [t.isoformat() for t in s.timestamps] if s.timestamps is not None else None,
        "values": s.values.tolist(),
    }


def summary(report: dict[str, Any]) -> list[str]:
    """What the command prints: scores, coverage, and any overlap with the trained span."""

    def mase_line(metrics: dict[str, Any]) -> str:
        return ", ".join(
            f"{k} {v['mase']:.3f}" for k, v in metrics.items() if v["mase"] is not None
        )

    one, rolling = report["one_step"], report["rolling"]
    lines = [
        f"{report['series']}: {one['origins']} one-step origins; MASE {mase_line(one['metrics'])}"
    ]
    if "metrics" in rolling:
        lines.append(
            f"{rolling['origins']} rolling {rolling['horizon']}-step origins; MASE "
            + mase_line(rolling["metrics"])
        )
    for label, cov in (
        ("one-step", one["coverage"]),
        (f"{rolling['horizon']}-step", rolling.get("coverage", {})),
    ):
        shown = ", ".join(f"{float(k):.0%}: {v:.1%}" for k, v in cov.items() if v is not None)
        if shown:
            lines.append(f"{label} interval coverage (nominal: actual) {shown}")
    if report["origins_in_trained_span"]:
        lines.append(
            f"note: {report['origins_in_trained_span']} origins lie before index "
            f"{report['trained_span']}, in the span this model was trained or early-stopped "
            "on; their scores are optimistic (use --tail to stay in the calibration span)"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Console entry point: exit 0, or 2 with one line on bad input."""
    args = build_parser().parse_args(argv)
    try:
        cfg = from_flags(BacktestConfig, args, "bt.")
        report = backtest(from_flags(DataConfig, args, "data."), cfg)
    except (DataError, ValueError, OSError, RuntimeError) as err:
        print(f"gatecast-backtest: error: {err}", file=sys.stderr)
        return 2
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    plot_backtest(report, out / "plot.png")
    print("\n".join(summary(report)))
    print(f"wrote {out / 'report.json'} and {out / 'plot.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
