"""Helpers shared by the benchmarks: the repository's paths, training runs (in this process
or as a subprocess), polling, result tables and command lines.

torch, Lightning and the training code are imported by the functions that use them: the
gunicorn runner and the load scenarios import this module and need none of them.
"""

import argparse
import contextlib
import io
import logging
import math
import os
import platform
import shlex
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
AIRLINE = REPO / "data" / "airline_passengers.csv"  # the bundled default series
# Its first two years: a request long enough for any model trained on it (monthly, season 12).
AIRLINE_TWO_YEARS = [
    *(112.0, 118.0, 132.0, 129.0, 121.0, 135.0, 148.0, 148.0, 136.0, 119.0, 104.0, 118.0),
    *(115.0, 126.0, 141.0, 135.0, 125.0, 149.0, 170.0, 170.0, 158.0, 133.0, 114.0, 140.0),
]


def wait_until(check: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    """Poll `check` until it is true or `timeout` seconds pass; returns the last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


def repo_env() -> dict[str, str]:
    """This environment with the repository importable, for subprocesses run from it."""
    return {**os.environ, "PYTHONPATH": str(REPO)}


def train_command(data: Path, name: str, model_dir: Path, extra: list[str]) -> list[str]:
    """python -m scripts.train for one model into model_dir."""
    head = [sys.executable, "-m", "scripts.train", "--data", str(data), "--name", name]
    return [*head, "--model-dir", str(model_dir), "--quiet", *extra]


def run_train(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[bytes]:
    """Run a train_command to its end from the repository root (output captured); raises if
    it fails."""
    return subprocess.run(
        cmd, cwd=REPO, env=repo_env(), check=True, capture_output=True, timeout=timeout
    )


def command(module: str, argv: Sequence[str] | None = None) -> str:
    """The command line that reproduces this run, for the top of a results file."""
    args = list(sys.argv[1:] if argv is None else argv)
    return " ".join([".venv/bin/python", "-m", module, *map(shlex.quote, args)])


def machine() -> str:
    """One line on the machine: CPU count, torch threads, load average, versions."""
    import torch

    load1, load5, _ = os.getloadavg()
    return (
        f"{os.cpu_count()} CPUs, torch {torch.__version__} (default {torch.get_num_threads()} "
        f"intra-op threads), Python {platform.python_version()}, "
        f"load average at start {load1:.1f} (1 min) / {load5:.1f} (5 min)"
    )


def quiet() -> None:
    """Silence Lightning's per-run chatter and warnings we cannot act on in a benchmark."""
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "gatecast", "scripts"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"lightning.*")
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")


def set_threads(count: int) -> None:
    """Pin torch's intra-op threads (oversubscribed OpenMP threads stall small LSTM steps)."""
    import torch

    torch.set_num_threads(count)


def train(argv: list[str]) -> tuple[Path, dict[str, Any], str]:
    """Train with scripts.train.run, its output captured; the checkpoint, meta and summary."""
    from model.export import load
    from scripts.train import run

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        paths = run([*argv, "--quiet"])
    if len(paths) != 1:
        raise RuntimeError(f"expected one checkpoint, got {paths}: {err.getvalue()[-2000:]}")
    _, meta = load(paths[0])
    return paths[0], meta, out.getvalue()


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table; floats are shown with 3 decimals."""

    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.3f}" if math.isfinite(v) else "n/a"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def flags(**options: object) -> list[str]:
    """Command-line flags from keywords: flags(model_dir="m") == ["--model-dir", "m"]."""
    return [a for k, v in options.items() for a in (f"--{k.replace('_', '-')}", str(v))]


def option(p: argparse.ArgumentParser, name: str, default: Any, text: str, **kw: Any) -> None:
    """Add a flag whose type follows its default (or its first element for lists)."""
    sample = default[0] if isinstance(default, list) and default else default
    if sample is not None and not isinstance(sample, bool) and "action" not in kw:
        kw.setdefault("type", type(sample))
    p.add_argument(name, default=default, help=text, **kw)


class _Help(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Help that keeps the docstring's layout and shows defaults other than None and False."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        """The help text, with the default appended when it says something."""
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def parser(prog: str, doc: str | None) -> argparse.ArgumentParser:
    """An argument parser that shows the module docstring verbatim and the defaults."""
    return argparse.ArgumentParser(prog=prog, description=doc, formatter_class=_Help)
