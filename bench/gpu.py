"""Training on a GPU gives checkpoints the CPU service runs: a check for machines with CUDA.

    python -m bench.gpu              # needs torch with CUDA, Lightning and pandas

Trains the bundled airline series (the default recipe) and the covariate example
(data/shop_sales.csv: calendar inputs, a past and a future covariate) with
`--accelerator gpu`, then loads each checkpoint with torch alone on the CPU, as the service
does, and checks: every parameter and buffer is on the CPU; forward, internals,
internals_last and step_inputs run there and agree with one another; the same module moved
to the GPU gives the CPU's forecast and gates (within float32 rounding). Prints one line per
check and exits non-zero on the first that fails.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from bench.common import REPO, run_train, train_command
from model.export import load

MODELS = {
    "airline": (REPO / "data" / "airline_passengers.csv", []),
    "shop": (
        REPO / "data" / "shop_sales.csv",
        ["--future-covariates", "price", "--past-covariates", "temperature"],
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench.gpu", description=__doc__)
    p.add_argument("--max-steps", type=int, default=300, help="training steps per model")
    p.add_argument("--dry-run", action="store_true", help="train on the CPU (no GPU needed)")
    return p


def inputs(meta: dict, steps: int, horizon: int) -> tuple[torch.Tensor, ...]:
    """A batch of 3 sequences and, for a model that reads them, exogenous inputs (raw)."""
    gen = torch.Generator().manual_seed(0)
    x = 100 + 10 * torch.randn(3, steps, generator=gen)  # (B, T)
    net = meta["network"]
    names = [
        *net.get("calendar", []),
        *net.get("past_covariates", []),
        *net.get("future_covariates", []),
    ]
    if meta.get("format_version", 0) < 4 or not names:
        return (x,)
    exog = torch.randn(3, steps + horizon, len(names), generator=gen)  # (B, T + h, E)
    return x, exog


def check_module(name: str, path: Path, device: torch.device) -> None:
    """Run every entry point on the CPU and on `device`; raise AssertionError on a mismatch."""
    module, meta = load(path)
    placed = {t.device.type for t in [*module.parameters(), *module.buffers()]}
    assert placed == {"cpu"}, f"{name}: tensors on {placed} after loading"
    horizon = int(meta.get("horizon") or 1)
    steps = max(int(meta["window"]), int(meta.get("min_history") or 1))
    given = inputs(meta, steps, horizon)
    x = given[0]
    more: tuple[torch.Tensor | None, ...] = ()
    if len(given) > 1:
        more = (None, None, None, None, given[1], None)
    with torch.inference_mode():
        forecast, _h, _c, loc, scale = module.forward(x, horizon, *more)
        f_all, gates, *_ = module.internals(x, horizon, *more)
        f_last, last, *_ = module.internals_last(x, horizon, *more)
        run = int(module.steps_run(x.size(1), False))
        step_inputs = module.step_inputs(x, forecast, run, loc, scale, *more[4:])
    torch.testing.assert_close(f_all, forecast)
    torch.testing.assert_close(f_last, forecast)
    torch.testing.assert_close(last[:, :, :, -1], gates[:, :, :, -1])  # (B, L, 6, H)
    print(
        f"{name}: CPU forward, internals {tuple(gates.shape)}, internals_last, step_inputs "
        f"{tuple(step_inputs.shape)} agree"
    )
    if device.type == "cpu":
        return
    # Full float32 on the GPU: TF32 matrix products (cuDNN's default) round to 10 bits.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    module.to(device)
    moved = tuple(t.to(device) if t is not None else None for t in more)
    with torch.inference_mode():
        g_forecast, *_ = module.forward(x.to(device), horizon, *moved)
        _, g_gates, *_ = module.internals(x.to(device), horizon, *moved)
    torch.testing.assert_close(g_forecast.cpu(), forecast, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(g_gates.cpu(), gates, rtol=1e-4, atol=1e-4)
    print(f"{name}: the module on {device} gives the CPU's forecast and gates")


def main(argv: list[str] | None = None) -> int:
    """Train each model on the GPU, then check its checkpoint."""
    args = build_parser().parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        print("bench.gpu: no CUDA device (use --dry-run to check on the CPU)", file=sys.stderr)
        return 2
    device = torch.device("cpu" if args.dry_run else "cuda")
    accelerator = "cpu" if args.dry_run else "gpu"
    shown = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    print(f"torch {torch.__version__}, device {shown}")
    with tempfile.TemporaryDirectory(prefix="gatecast-gpu-") as tmp:
        folder = Path(tmp)
        for name, (data, extra) in MODELS.items():
            flags = [
                "--accelerator",
                accelerator,
                "--devices",
                "1",
                "--max-steps",
                str(args.max_steps),
            ]
            start = time.perf_counter()
            try:
                run_train(train_command(data, name, folder, [*flags, *extra]), timeout=1200)
            except subprocess.CalledProcessError as err:
                print(f"{name}: training failed:\n{err.stderr.decode()[-4000:]}", file=sys.stderr)
                return 1
            path = sorted((folder / name).glob("*.pt"))[-1]
            took = time.perf_counter() - start
            print(f"{name}: trained with --accelerator {accelerator} in {took:.1f} s")
            check_module(name, path, device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
