"""gatecast with other training flags on the peer benchmark's splits, scored the same way.

.venv/bin/python -m bench.peers.variants --series airline_monthly --flags "--decoder recursive"

Prints one line per series: one-step and H-step MASE, CPU seconds of the training command;
the default recipe is the run with no --flags. Nothing is cached; nothing is written to bench/.
"""

import argparse
import shlex
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench import common as c
from bench.peers import gatecast as gc
from bench.peers.protocol import scores
from bench.peers.runner import (
    SERIES,
    forecast_from,
    load_split,
    split_exog,
    write_train_csv,
)

COVARIATE_FLAGS = ("--past-covariates", "--future-covariates")


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = c.parser("python -m bench.peers.variants", __doc__)
    c.option(p, "--series", SERIES, "series to run", nargs="+", choices=SERIES, metavar="NAME")
    c.option(p, "--flags", "", "extra gatecast-train flags, as one quoted string")
    c.option(p, "--seed", 0, "training seed", type=int)
    return p


def main(argv: list[str] | None = None) -> int:
    """Train and score each series with the given flags."""
    args = build_parser().parse_args(argv)
    extra = shlex.split(args.flags)
    print(f"# {c.command('bench.peers.variants', argv)}\n# {c.machine()}")
    for name in args.series:
        split = load_split(name)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            covariates = any(flag in extra for flag in COVARIATE_FLAGS)
            csv = write_train_csv(split, work / "train", covariates)
            trained = gc.train(csv, work / "models", name, args.seed, extra)
            ckpt = gc.load(trained.path)
            exog = split_exog(split, ckpt)
            onestep = np.array(
                [forecast_from(split, ckpt, exog, 0, t, 1).mean[0] for t in split.origins]
            )
            hstep = forecast_from(split, ckpt, exog, 0, split.cut, split.horizon).mean
        got = scores(split, onestep, hstep)
        print(
            f"{name} H={split.horizon} flags={args.flags!r}: one-step MASE {got['mase1']:.3f}, "
            f"H-step MASE {got['maseh']:.3f}, training {trained.cpu_seconds:.1f} CPU s "
            f"({trained.wall_seconds:.1f} s wall), window {gc.window(ckpt)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
