"""The serving benchmark's model: trained once on a synthetic daily series (or reused when
its shape matches), and the cost of its forward pass alone."""

import math
import random
import sys
import time
from pathlib import Path

from bench.common import flags, run_train, train_command


def synthetic_csv(path: Path, points: int = 2000, seed: int = 0) -> Path:
    """A daily series with trend, weekly and yearly cycles and noise (airline has 144 points,
    too few for 64-step windows)."""
    rng = random.Random(seed)
    lines = ["timestamp,value"]
    day0 = 18262  # 2020-01-01 in days since the epoch
    for k in range(points):
        value = (
            100
            + 0.02 * k
            + 10 * math.sin(2 * math.pi * k / 7)
            + 20 * math.sin(2 * math.pi * k / 365.25)
            + rng.gauss(0, 2)
        )
        date = time.strftime("%Y-%m-%d", time.gmtime((day0 + k) * 86400))
        lines.append(f"{date},{value:.3f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def matching_checkpoint(model_dir: Path, name: str, window: int, hidden: int, layers: int) -> bool:
    """Whether model_dir already holds `name` with this shape (then it is reused)."""
    from model.export import list_checkpoints, load

    found = list_checkpoints(model_dir).get(name)
    if not found:
        return False
    try:
        _, meta = load(found[-1])
    except Exception:  # a broken file: train a fresh one
        return False
    net = meta.get("network", {})
    return (meta.get("window"), net.get("hidden_size"), net.get("num_layers")) == (
        window,
        hidden,
        layers,
    )


def ensure_model(
    model_dir: Path, name: str, window: int, hidden: int, layers: int, epochs: int
) -> None:
    """Train `name` with scripts.train (in a subprocess: no Lightning in this process)."""
    if matching_checkpoint(model_dir, name, window, hidden, layers):
        print(f"reusing model {name!r} in {model_dir}", file=sys.stderr)
        return
    model_dir.mkdir(parents=True, exist_ok=True)
    csv = synthetic_csv(model_dir / f"_{name}-series.csv")
    print(
        f"training {name!r}: window {window}, hidden {hidden}, layers {layers}, {epochs} epochs",
        file=sys.stderr,
    )
    shape = flags(window=window, hidden=hidden, layers=layers, epochs=epochs)
    run_train(train_command(csv, name, model_dir, shape), timeout=3600)


def forward_time_us(model_dir: Path, name: str, window: int, calls: int = 500) -> float:
    """module.forward on one `window`-step sequence, one torch thread: the floor under any
    /forecast request (median of 5 timed blocks)."""
    import statistics

    import torch

    from model.export import list_checkpoints, load

    torch.set_num_threads(1)
    module, _ = load(list_checkpoints(model_dir)[name][-1])
    x = 100 + torch.randn(1, window)
    blocks = []
    with torch.inference_mode():
        for _ in range(50):
            module.forward(x, 1, None, None)
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(calls // 5):
                module.forward(x, 1, None, None)
            blocks.append((time.perf_counter() - start) / (calls // 5) * 1e6)
    return statistics.median(blocks)
