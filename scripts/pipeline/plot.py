"""PNG plot of a backtest report: actuals, one-step and multi-step forecasts, intervals."""

import datetime as dt
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers or in containers

import matplotlib.pyplot as plt  # after use("Agg"): the backend must be chosen first


def _axis(stamps: list[str] | None, start: int, count: int) -> list[Any]:
    """Dates when the report has them, else step numbers."""
    if stamps:
        return [dt.datetime.fromisoformat(t) for t in stamps]
    return list(range(start, start + count))


def plot_backtest(report: dict[str, Any], path: Path) -> None:
    """Draw the report to path (PNG)."""
    values = report["values"]
    n = len(values)
    axis = _axis(report["timestamps"], 0, n)
    one, multi = report["one_step"], report["multi_step"]
    level = report["interval_level"]
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=110)
    ax.plot(axis, values, color="#222222", lw=1.2, label="actual")
    xs = axis[one["first_origin"] : n]
    if "lower" in one:
        ax.fill_between(
            xs,
            one["lower"],
            one["upper"],
            color="#1f77b4",
            alpha=0.18,
            label=f"one-step {level:.0%} interval",
        )
    ax.plot(xs, one["forecast"], color="#1f77b4", lw=1.4, label="one-step forecast")
    steps = _axis(multi["timestamps"], multi["origin"], multi["horizon"])
    if "lower" in multi:
        ax.fill_between(
            steps,
            multi["lower"],
            multi["upper"],
            color="#d62728",
            alpha=0.15,
            label=f"{multi['horizon']}-step {level:.0%} interval",
        )
    ax.plot(
        steps,
        multi["forecast"],
        color="#d62728",
        lw=1.4,
        ls="--",
        label=f"{multi['horizon']}-step forecast from origin",
    )
    ax.axvline(steps[0], color="#999999", lw=0.8, ls=":")
    title = f"{report['model']} on {report['series']}"
    mase = one["metrics"]["model"]["mase"]
    if mase is not None:
        title += f" - one-step MASE {mase:.3f}"
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
