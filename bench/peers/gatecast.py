"""gatecast in the peer benchmark: the default training recipe and the checkpoint adapter.

`forecast` is the one place that turns a checkpoint and a history into forecasts and
intervals, and `exog_matrix` the one that lays out its exogenous inputs (calendar features
and covariates); when the model's calling convention changes, only they change.
"""

import datetime as dt
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model.calendar import calendar_features as calendar_inputs
from model.calendar import recipe, wall_seconds
from model.export import load
from model.intervals import interval_offsets
from scripts.pipeline.features import calendar_kind

REPO = Path(__file__).resolve().parents[2]  # the repository root: its scripts train
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


def features(meta: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """A checkpoint's calendar inputs, past covariates and future covariates (meta.json)."""
    found = meta.get("features") or {}
    names = [list(found.get(k) or []) for k in ("calendar", "past_covariates", "future_covariates")]
    return names[0], names[1], names[2]


def calendar(timestamps: list[str], names: list[str]) -> np.ndarray:
    """gatecast's calendar inputs `names` of ISO timestamps: (N, len(names))."""
    wall = [wall_seconds(dt.datetime.fromisoformat(t)) for t in timestamps]
    return calendar_inputs(torch.tensor(wall, dtype=torch.int64), names).double().numpy()


def calendar_features(timestamps: list[str], freq: str) -> dict[str, np.ndarray]:
    """The calendar inputs gatecast's trainer gives a series of this frequency, by name, at
    every timestamp: what the LSTM peers get as future exogenous inputs."""
    kind = calendar_kind(freq)
    names = recipe(kind) if kind else []
    values = calendar(timestamps, names)  # (N, C)
    return {name: values[:, k] for k, name in enumerate(names)}


def exog_matrix(
    checkpoint: Checkpoint, timestamps: list[str], covariates: dict[str, np.ndarray]
) -> np.ndarray | None:
    """The checkpoint's raw exogenous inputs at every timestamp, (N, E) in its order (calendar,
    past covariates, future covariates); None for a model without any. `covariates` holds one
    array of N values per covariate the model reads."""
    cal, past, future = features(checkpoint[1])
    if not (cal or past or future):
        return None
    missing = [c for c in past + future if c not in covariates]
    if missing:
        raise ValueError(f"the model reads covariates {missing} that the series lacks")
    columns = [calendar(timestamps, cal)] if cal else []
    columns += [np.asarray(covariates[c], dtype=np.float64)[:, None] for c in past + future]
    return np.concatenate(columns, axis=1)  # (N, E)


def forecast(
    checkpoint: Checkpoint,
    history: np.ndarray,
    horizon: int,
    levels: tuple[float, ...] = (),
    exog: np.ndarray | None = None,
) -> Forecast:
    """Forecast `horizon` steps after the whole `history`, with intervals at `levels`.

    exog (T + horizon, E), raw (exog_matrix's rows of the history and the horizon after it),
    for a model with exogenous inputs; its past covariates are cut at the history's end here,
    so no forecast can read one from its horizon.
    """
    module, meta = checkpoint
    t = len(history)
    x = torch.as_tensor(np.asarray(history, dtype=np.float32)).reshape(1, -1)  # (1, T)
    inputs = None
    if exog is not None:
        cal, past, _ = features(meta)
        rows = np.array(exog[: t + horizon], dtype=np.float32)  # (T + H, E)
        if rows.shape[0] != t + horizon:
            raise ValueError(f"exog covers {rows.shape[0]} steps, {t + horizon} are needed")
        first, end = len(cal), len(cal) + len(past)
        rows[t:, first:end] = rows[t - 1, first:end]  # what the model itself does with them
        inputs = torch.from_numpy(rows).unsqueeze(0)  # (1, T + H, E)
    with torch.no_grad():
        # forward(x, horizon, h0, c0, loc, scale, exog, series): mean (1, H), scale (1, 1)
        mean, _, _, _, scale = module.forward(x, horizon, None, None, None, None, inputs, None)
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
