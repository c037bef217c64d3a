"""Untrained checkpoints with seeded weights, for tests and benchmarks that need no training."""

from pathlib import Path

import torch

from model.export import save
from model.intervals import PROBS
from model.network import GateLSTM, NetworkConfig


def write_untrained(
    root: Path,
    name: str,
    *,
    hidden: int = 4,
    layers: int = 2,
    normalization: str = "global",
    quantiles: bool = True,
    seed: int = 0,
    version: str | None = None,
) -> Path:
    """Save a seeded GateLSTM (global stats 10 +- 2) with symmetric residual quantiles."""
    torch.manual_seed(seed)
    net = GateLSTM(
        NetworkConfig(hidden_size=hidden, num_layers=layers, normalization=normalization)
    )
    net.set_global_stats(10.0, 2.0)
    steps = [[-2.0 + 4.0 * k / (len(PROBS) - 1) for k in range(len(PROBS))]]
    meta = {
        "network": net.config.to_dict(),
        "normalization": {"mode": normalization, "loc": 10.0, "scale": 2.0},
        "window": 8,
        "horizon": 1,
        "frequency": None,
        "metrics": {},
        "residual_quantiles": {
            "probs": list(PROBS),
            "steps": steps if quantiles else [],
            "count": 10 if quantiles else 0,
            "space": "scaled",
        },
    }
    return save(net, meta, root, name, version)
