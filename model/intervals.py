"""Prediction intervals from quantiles of scaled validation residuals."""

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
    """Quantiles per horizon step of scaled residuals (N, horizon), for meta.json."""
    r = residuals.double()
    probs = torch.tensor(PROBS, dtype=torch.float64)
    steps = torch.quantile(r, probs, dim=0).T if r.size(0) else torch.zeros(r.size(1), 0)
    return {
        "probs": list(PROBS),
        "steps": [[round(float(v), 6) for v in row] for row in steps],
        "count": int(r.size(0)),
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

    Steps beyond those the residuals cover grow from the last known step like a random
    walk (by sqrt(h / H)): an approximation, as recursive errors compound.
    """
    if not 0.0 < level <= MAX_LEVEL:
        raise ValueError(f"interval level must be in (0, {MAX_LEVEL}]")
    probs: list[float] = quantiles["probs"]
    steps: list[list[float]] = quantiles["steps"]
    if not steps or not quantiles.get("count"):
        raise ValueError("this model has no residual quantiles")
    lows: list[float] = []
    highs: list[float] = []
    for h in range(1, horizon + 1):
        known = min(h, len(steps))
        grow = math.sqrt(h / known)
        row = steps[known - 1]
        lows.append(_interp((1 - level) / 2, probs, row) * grow)
        highs.append(_interp((1 + level) / 2, probs, row) * grow)
    return lows, highs
