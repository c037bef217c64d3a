"""Checkpoints for tests and benchmarks that need no training: untrained ones with seeded
weights, and copies published as new versions."""

import os
import shutil
import time
from pathlib import Path

import torch

from model.atomic import TEMP_PREFIX
from model.export import SUFFIX, new_version, save
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
    decoder: str = "recursive",
    context: int = 1 << 20,
    horizon: int = 1,
    seasons: tuple[int, ...] = (),
    window: int = 8,
    frequency: str | None = None,
) -> Path:
    """Save a seeded GateLSTM (global stats 10 +- 2) with symmetric residual quantiles."""
    torch.manual_seed(seed)
    # By default recursive and reading everything it is sent, so any horizon and length are
    # served; the benchmarks also shape it like a trained model.
    shape = NetworkConfig(
        hidden_size=hidden,
        num_layers=layers,
        normalization=normalization,
        decoder=decoder,
        context=context,
        horizon=horizon,
        seasons=list(seasons),
    )
    net = GateLSTM(shape)
    net.set_global_stats(10.0, 2.0)
    steps = [[-2.0 + 4.0 * k / (len(PROBS) - 1) for k in range(len(PROBS))]]
    meta = {
        "network": net.config.to_dict(),
        "normalization": {"mode": normalization, "loc": 10.0, "scale": 2.0},
        "window": window,
        "horizon": horizon,
        "decoder": decoder,
        "min_history": shape.min_history,
        "frequency": frequency,
        "metrics": {},
        "residual_quantiles": {
            "probs": list(PROBS),
            "steps": steps if quantiles else [],
            "count": 10 if quantiles else 0,
            "space": "scaled",
        },
    }
    return save(net, meta, root, name, version)


def version_path(folder: Path) -> Path:
    """A new version's path in folder (created), newer than any before."""
    folder.mkdir(parents=True, exist_ok=True)
    time.sleep(0.001)  # versions are microsecond timestamps: make sure this one is newer
    return folder / f"{new_version()}{SUFFIX}"


def publish(src: Path, folder: Path | None = None) -> Path:
    """Copy a checkpoint in as a new version (of the same model unless `folder` is given),
    atomically: a temporary name, then a rename, as training does."""
    folder = src.parent if folder is None else folder
    target = version_path(folder)
    tmp = folder / f"{TEMP_PREFIX}publish.part"
    shutil.copyfile(src, tmp)
    os.replace(tmp, target)
    return target
