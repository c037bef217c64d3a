"""gatecast in the peer benchmark: the default training recipe and the checkpoint adapter.

`forecast` is the one place that turns a checkpoint and a history into forecasts and
intervals; when the model's calling convention changes, only it changes.
"""

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.export import load
from model.intervals import interval_offsets

REPO = Path(__file__).resolve().parent.parent
# The console script's entry point, timed in CPU seconds after the imports (like the peers' fit).
TIMED_MAIN = (
    "import sys, time; from scripts.train import main; cpu = time.process_time(); "
    "code = main(sys.argv[1:]); "
    "print(f'cpu_seconds {time.process_time() - cpu}', file=sys.stderr); sys.exit(code)"
)
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

Checkpoint = tuple[torch.jit.ScriptModule, dict[str, Any]]


@dataclass
class Forecast:
    """A point forecast (horizon,) and central intervals per level, in the data's units."""

    mean: np.ndarray
    lower: dict[float, np.ndarray] = field(default_factory=dict)
    upper: dict[float, np.ndarray] = field(default_factory=dict)


def forecast(
    checkpoint: Checkpoint, history: np.ndarray, horizon: int, levels: tuple[float, ...] = ()
) -> Forecast:
    """Forecast `horizon` steps after the whole `history`, with intervals at `levels`."""
    module, meta = checkpoint
    x = torch.as_tensor(np.asarray(history, dtype=np.float32)).reshape(1, -1)  # (1, T)
    with torch.no_grad():
        mean, _, _, _, scale = module.forward(x, horizon, None, None)  # (1, H), scale (1, 1)
    out = Forecast(mean[0].double().numpy())
    sigma = float(scale.reshape(-1)[0])
    for level in levels:
        lo, hi = interval_offsets(meta["residual_quantiles"], level, horizon)
        out.lower[level] = out.mean + np.asarray(lo) * sigma
        out.upper[level] = out.mean + np.asarray(hi) * sigma
    return out


def window(checkpoint: Checkpoint) -> int:
    """The shortest history that gives the checkpoint everything it reads: its trained
    window, or its longest season if that is longer."""
    meta = checkpoint[1]
    return max(int(meta["window"]), int(meta.get("min_history", 1)))


@dataclass
class Trained:
    """A checkpoint from the training CLI and what it cost."""

    path: Path
    fit_seconds: float  # meta.json's training seconds: the fit, without start-up and imports
    cpu_seconds: float  # CPU time of the CLI's main(): loading, the fit, writing; no imports
    wall_seconds: float  # the whole CLI process


def train(csv: Path, model_dir: Path, name: str, seed: int, extra: list[str]) -> Trained:
    """Run the training CLI of this repository (its main(), as gatecast-train does) with the
    default recipe on one thread."""
    cmd = [sys.executable, "-c", TIMED_MAIN, "--data", str(csv), "--model-dir"]
    cmd += [str(model_dir), "--name", name, "--seed", str(seed), "--quiet", *extra]
    env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"gatecast-train failed ({done.returncode}): {done.stderr[-1500:]}")
    paths = sorted((model_dir / name).glob("*.pt"))
    if not paths:
        raise RuntimeError(f"gatecast-train wrote no checkpoint under {model_dir / name}")
    _, meta = load(paths[-1])
    cpu = float(done.stderr.strip().splitlines()[-1].removeprefix("cpu_seconds "))
    return Trained(paths[-1], float(meta["training"]["seconds"]), cpu, wall)
