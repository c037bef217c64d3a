"""Prediction intervals: split-conformal quantiles of scaled residuals, per horizon step.

The residuals come from a span of each series that neither training nor early stopping nor
weight selection saw, each divided by its window's scale, so one table serves every level
of a series. A central interval at level a takes, at each step, the residual quantiles at
(1 -/+ a') / 2, with a' = min(1, a (n + 1) / n) the finite-sample correction of split
conformal prediction for n calibration residuals at that step.
"""

import math
from typing import Any

import torch
from torch import Tensor

# Probabilities at which residual quantiles are stored; intervals interpolate between them.
PROBS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    *(round(0.05 * k, 2) for k in range(2, 19)),
    0.95,
    0.975,
    0.99,
    0.995,
)
MAX_LEVEL = 0.99


def residual_quantiles(residuals: Tensor) -> dict[str, Any]:
    """Quantiles per horizon step of scaled residuals (N, horizon; NaN: no residual), for
    meta.json. Steps without residuals are left out, so `steps` may be shorter."""
    r = residuals.double()
    probs = torch.tensor(PROBS, dtype=torch.float64)
    counts = (~torch.isnan(r)).sum(dim=0).tolist() if r.size(0) else []
    steps = []
    for k, n in enumerate(counts):
        if n == 0:
            break
        steps.append([round(float(v), 6) for v in torch.nanquantile(r[:, k], probs)])
    return {
        "probs": list(PROBS),
        "steps": steps,
        "counts": [int(n) for n in counts[: len(steps)]],
        "count": int(min(counts[: len(steps)], default=0)),
        "space": "scaled",  # multiply by the model's per-sequence scale for raw units
    }


def _interp(p: float, probs: list[float], values: list[float]) -> float:
    """Linear interpolation of values at probability p (probs ascending)."""
    for k in range(1, len(probs)):
        if p <= probs[k]:
            w = (p - probs[k - 1]) / (probs[k] - probs[k - 1])
            return values[k - 1] + w * (values[k] - values[k - 1])
    return values[-1]


def interval_offsets(
    quantiles: dict[str, Any], level: float, horizon: int
) -> tuple[list[float], list[float]]:
    """Lower and upper offsets (scaled units) per step for a central interval at `level`.

    Steps beyond those the residuals cover (a recursive model asked past its trained
    horizon) grow from the last known step like a random walk (by sqrt(h / H)).
    """
    if not 0.0 < level <= MAX_LEVEL:
        raise ValueError(f"interval level must be in (0, {MAX_LEVEL}]")
    probs: list[float] = quantiles["probs"]
    steps: list[list[float]] = quantiles["steps"]
    if not steps or not quantiles.get("count"):
        raise ValueError("this model has no residual quantiles")
    counts: list[int] = quantiles.get("counts") or [int(quantiles["count"])] * len(steps)
    lows: list[float] = []
    highs: list[float] = []
    for h in range(1, horizon + 1):
        known = min(h, len(steps))
        grow = math.sqrt(h / known)
        row, n = steps[known - 1], counts[known - 1]
        wide = min(1.0, level * (n + 1) / n)  # split-conformal finite-sample correction
        lows.append(_interp((1 - wide) / 2, probs, row) * grow)
        highs.append(_interp((1 + wide) / 2, probs, row) * grow)
    return lows, highs
