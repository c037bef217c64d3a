"""Backtest a checkpoint on a CSV: rolling one-step-ahead forecasts over the series' tail,
plus one multi-step forecast from an origin, against naive and seasonal-naive baselines.

    python -m scripts.backtest --checkpoint models/airline/VERSION.pt \\
        --data data/airline_passengers.csv --out reports/airline
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from model.export import list_checkpoints, load
from model.intervals import interval_offsets
from scripts.cli import add_data_arguments, data_config
from scripts.data import (
    DataError,
    Series,
    load_series,
    season_length,
    step_times,
)
from scripts.evaluate import baselines, compare, predict, scales_of, scores_dict
from scripts.plot import plot_backtest
from scripts.windows import windows_at


def build_parser() -> argparse.ArgumentParser:
    """The command line, every flag documented."""
    p = argparse.ArgumentParser(
        prog="gatecast-backtest",
        description="Rolling one-step-ahead backtest of a checkpoint, plus a multi-step "
        "forecast from an origin; writes report.json and plot.png.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="a checkpoint file (.pt)")
    src.add_argument("--model", help="a model name under --model-dir (newest version)")
    p.add_argument("--model-dir", default="models", help="checkpoint root folder for --model")
    add_data_arguments(p)
    p.add_argument("--series", help="which series to backtest (default: the first)")
    p.add_argument(
        "--tail",
        type=float,
        default=0.2,
        help="one-step origins: the last fraction (< 1) or count (>= 1) of the series",
    )
    p.add_argument("--horizon", type=int, default=12, help="steps of the multi-step forecast")
    p.add_argument(
        "--origin",
        type=int,
        help="index where the multi-step forecast starts (default: len - horizon)",
    )
    p.add_argument("--interval", type=float, default=0.9, help="prediction interval level")
    p.add_argument("--season", type=int, help="seasonal period (default: from the frequency)")
    p.add_argument("--out", default="backtest", help="folder for report.json and plot.png")
    return p


def pick_series(series: list[Series], name: str | None) -> Series:
    """The series asked for, or the first."""
    if name is None:
        return series[0]
    for s in series:
        if s.name == name:
            return s
    raise DataError(f"no series {name!r}; have {', '.join(s.name for s in series[:10])}")


def interval(
    module: Any, meta: dict[str, Any], x: np.ndarray, forecast: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """Lower and upper bounds (N, horizon) from the checkpoint's residual quantiles."""
    try:
        low, high = interval_offsets(meta["residual_quantiles"], level, forecast.shape[1])
    except ValueError:
        return None
    scale = scales_of(module, x)[:, None]  # (N, 1)
    return forecast + np.array(low) * scale, forecast + np.array(high) * scale


def backtest(args: argparse.Namespace) -> dict[str, Any]:
    """Run both backtests and return the report."""
    path = Path(args.checkpoint) if args.checkpoint else newest(args.model_dir, args.model)
    module, meta = load(path)
    window = int(meta["window"])
    cfg = data_config(args)
    s = pick_series(load_series(cfg), args.series)
    n = len(s.values)
    season = args.season or season_length(s.freq)
    tail = round(n * args.tail) if args.tail < 1 else int(args.tail)
    first = max(window, n - tail)
    if first >= n:
        raise DataError(f"series {s.name!r} has {n} points: too short for window {window}")
    one = windows_at([s], [np.arange(first, n)], window, 1)
    f1 = predict(module, one.x, 1)
    # MASE scales by the in-sample seasonal-naive error before the first backtest origin.
    scores = compare([s], one, f1, season, val_fraction=(n - first) / n)
    band1 = interval(module, meta, one.x, f1, args.interval)

    horizon = args.horizon
    origin = args.origin if args.origin is not None else n - horizon
    if not window <= origin <= n:
        raise DataError(f"--origin must lie in [{window}, {n}] for this series")
    x = s.values[origin - window : origin][None, :]
    fh = predict(module, x, horizon)
    actual = s.values[origin : origin + horizon]
    band_h = interval(module, meta, x, fh, args.interval)
    multi: dict[str, Any] = {
        "origin": origin,
        "horizon": horizon,
        "forecast": fh[0].tolist(),
        "actual": actual.tolist(),
        "timestamps": step_times(s, origin, horizon),
    }
    if band_h is not None:
        multi.update(lower=band_h[0][0].tolist(), upper=band_h[1][0].tolist())
    if len(actual) == horizon:
        multi_w = windows_at([s], [np.array([origin])], window, horizon)
        base = baselines([s], multi_w, horizon, season)
        multi["metrics"] = scores_dict(
            compare([s], multi_w, fh, season, val_fraction=(n - origin) / n)
        )
        multi["baselines"] = {k: v[0].tolist() for k, v in base.items()}
    times = [t.isoformat() for t in s.timestamps] if s.timestamps is not None else None
    return {
        "checkpoint": str(path),
        "model": meta["name"],
        "version": meta["version"],
        "series": s.name,
        "points": n,
        "season": season,
        "window": window,
        "frequency": s.freq,
        "one_step": {
            "origins": int(n - first),
            "first_origin": first,
            "metrics": scores_dict(scores),
            "forecast": f1[:, 0].tolist(),
            "actual": one.y[:, 0].tolist(),
            **(
                {"lower": band1[0][:, 0].tolist(), "upper": band1[1][:, 0].tolist()}
                if band1
                else {}
            ),
        },
        "multi_step": multi,
        "interval_level": args.interval if band1 else None,
        "timestamps": times,
        "values": s.values.tolist(),
    }


def newest(model_dir: str, name: str) -> Path:
    """The latest version of a named model."""
    found = list_checkpoints(model_dir)
    if name not in found:
        raise DataError(f"no model {name!r} in {model_dir}")
    return found[name][-1]


def main(argv: list[str] | None = None) -> int:
    """Console entry point: exit 0, or 2 with one line on bad input."""
    args = build_parser().parse_args(argv)
    try:
        report = backtest(args)
    except (DataError, ValueError, OSError, RuntimeError) as err:
        print(f"gatecast-backtest: error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    plot_backtest(report, out / "plot.png")
    m = report["one_step"]["metrics"]
    print(
        f"{report['series']}: {report['one_step']['origins']} one-step origins; MASE "
        + ", ".join(f"{k} {v['mase']:.3f}" for k, v in m.items() if v["mase"] is not None)
    )
    print(f"wrote {out / 'report.json'} and {out / 'plot.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
