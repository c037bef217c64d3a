"""Bulk forecasting throughput: series per second for 10,000 generated series of 200 points.

.venv/bin/python -m bench.bulk            # full run (a few minutes on 2 cores)
.venv/bin/python -m bench.bulk --quick    # smoke run: 500 series

Three figures: reading the long CSV (scripts.pipeline.csv_series.load_series), the model
alone in batches (scripts.pipeline.bulk.forecast_all, the service's inference path) for each
model shape and batch size, and the whole command, gatecast-forecast, from CSV to CSV.
The checkpoints are untrained, with the shapes of trained ones: what is timed is the same.
"""

import argparse
import contextlib
import io
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench import common as c
from bench.checkpoints import write_untrained
from scripts.pipeline.csv_series import DataConfig, Series, load_series
from service.schemas import InternalsMode

RESULTS = c.REPO / "bench" / "results" / "bulk.md"


@dataclass(frozen=True)
class Shape:
    """A checkpoint shape to time."""

    label: str
    decoder: str
    context: int  # observations the LSTM runs over
    seasons: tuple[int, ...]


SHAPES = (
    # The default recipe for monthly data: window 24, direct decoder reading season 12.
    Shape("window 24, direct", "direct", 24, (12,)),
    # Every one of the 200 points through the LSTM, then fed back for the horizon.
    Shape("window 200, recursive", "recursive", 200, ()),
)


@dataclass(frozen=True)
class Row:
    """One timed model run."""

    shape: str
    batch: int
    extra: str  # interval or internals asked for
    series: int
    seconds: float

    @property
    def per_second(self) -> float:
        """Series forecast per second."""
        return self.series / self.seconds


def build_parser() -> argparse.ArgumentParser:
    """The command line, every flag documented."""
    p = c.parser("python -m bench.bulk", __doc__)
    c.option(p, "--out", None, "work folder (default: a fresh temporary folder)", type=Path)
    c.option(
        p,
        "--results",
        None,
        "markdown file (default: bench/results/bulk.md, or OUT/bulk.md with --quick)",
        type=Path,
    )
    c.option(p, "--quick", False, "smoke run: 500 series, one batch size", action="store_true")
    c.option(p, "--series", 10_000, "generated series")
    c.option(p, "--length", 200, "points per series")
    c.option(p, "--batch-sizes", [64, 256, 1024], "series per model call", nargs="+")
    c.option(p, "--horizon", 12, "steps forecast")
    c.option(p, "--hidden", 64, "LSTM units per layer")
    c.option(p, "--layers", 2, "stacked LSTM layers")
    c.option(p, "--threads", 1, "torch intra-op threads")
    c.option(p, "--seed", 0, "seed of the data and the weights")
    return p


def generate(count: int, length: int, seed: int) -> pd.DataFrame:
    """A long frame of monthly series: varied level, trend, yearly cycle and AR(1) noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(length, dtype=np.float64)[None, :]  # (1, T)
    level = 10 ** rng.uniform(0, 4, (count, 1))  # (N, 1): 1 .. 10,000
    trend = level * rng.uniform(-0.002, 0.006, (count, 1)) * t
    phase = rng.uniform(0, 6.3, (count, 1))
    season = level * rng.uniform(0, 0.3, (count, 1)) * np.sin(2 * np.pi * t / 12 + phase)
    shocks = rng.normal(0, 1, (count, length)) * level * rng.uniform(0.01, 0.1, (count, 1))
    phi = rng.uniform(0, 0.8, count)
    noise = np.zeros((count, length))
    for k in range(1, length):
        noise[:, k] = phi * noise[:, k - 1] + shocks[:, k]
    values = np.round(level + trend + season + noise, 4)  # (N, T)
    stamps = pd.date_range("2000-01-01", periods=length, freq="MS").strftime("%Y-%m-%d")
    return pd.DataFrame(
        {
            "series_id": np.repeat([f"s{i:05d}" for i in range(count)], length),
            "timestamp": np.tile(stamps, count),
            "value": values.reshape(-1),
        }
    )


def checkpoint(root: Path, shape: Shape, args: argparse.Namespace) -> Path:
    """An untrained checkpoint of this shape (window scaling, monthly, with quantiles)."""
    return write_untrained(
        root,
        shape.label.replace(" ", "").replace(",", "-"),
        hidden=args.hidden,
        layers=args.layers,
        normalization="window",
        seed=args.seed,
        decoder=shape.decoder,
        context=shape.context,
        horizon=args.horizon,
        seasons=shape.seasons,
        window=shape.context,
        frequency="MS",
    )


def time_model(path: Path, series: list[Series], batch: int, extra: str, horizon: int) -> float:
    """Seconds forecast_all takes on every series (after one warm batch)."""
    from scripts.pipeline.bulk import BulkRequest, forecast_all, open_checkpoint

    model = open_checkpoint(path)
    level = 0.9 if extra == "interval 0.9" else None
    internals: InternalsMode = "last" if extra == "internals last" else "none"
    req = BulkRequest(horizon=horizon, level=level, internals=internals, batch_size=batch)
    forecast_all(model, series[:batch], req)  # TorchScript optimises on its first calls
    start = time.perf_counter()
    forecast_all(model, series, req)
    return time.perf_counter() - start


def time_command(argv: list[str]) -> float:
    """Seconds the whole command takes in this process (its output captured)."""
    from scripts.forecast import main

    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    if code != 0:
        raise RuntimeError(f"gatecast-forecast exited {code}")
    return time.perf_counter() - start


def render(
    rows: list[Row],
    load: tuple[int, float],
    command: float,
    args: argparse.Namespace,
    cmd: str,
    host: str,
) -> str:
    """The results as markdown, with the command and the machine."""
    count, load_seconds = load
    lines = [
        "# Bulk forecasting throughput",
        "",
        f"`{cmd}`",
        "",
        f"Machine: {host}.",
        "",
        f"{count:,} series of {args.length} monthly points (long CSV), hidden {args.hidden}, "
        f"{args.layers} layers, horizon {args.horizon}, {args.threads} torch thread(s).",
        "",
        f"- reading the CSV (load_series): {load_seconds:.1f} s = "
        f"**{count / load_seconds:,.0f} series/s**",
        f"- the whole command (`gatecast-forecast`, {SHAPES[0].label}, batch "
        f"{args.batch_sizes[-1]}, CSV in and out): {command:.1f} s = "
        f"**{count / command:,.0f} series/s**",
        "",
        "The model alone (forecast_all: the service's inference path, in batches):",
        "",
        c.table(
            ["checkpoint", "batch", "also", "series", "seconds", "series/s"],
            [
                [r.shape, r.batch, r.extra, r.series, r.seconds, f"{r.per_second:,.0f}"]
                for r in rows
            ],
        ),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Generate the data, time each stage, print and write the tables."""
    args = build_parser().parse_args(argv)
    cmd, host = c.command("bench.bulk", argv), c.machine()
    if args.quick:
        args.series, args.batch_sizes = 500, args.batch_sizes[-1:]
    c.quiet()
    from service.threads import configure_torch

    configure_torch(args.threads)
    work = args.out or Path(tempfile.mkdtemp(prefix="gatecast-bulk-"))
    results_path = args.results or (work / "bulk.md" if args.quick else RESULTS)
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {work}", flush=True)
    csv = work / "series.csv"
    generate(args.series, args.length, args.seed).to_csv(csv, index=False)
    start = time.perf_counter()
    series = load_series(DataConfig([str(csv)]))
    load = (len(series), time.perf_counter() - start)
    print(f"read {load[0]} series in {load[1]:.1f}s", flush=True)
    paths = {s.label: checkpoint(work / "models", s, args) for s in SHAPES}
    rows: list[Row] = []
    for shape in SHAPES:
        extras = ["", "interval 0.9", "internals last"]
        for batch in args.batch_sizes:
            for extra in extras if batch == args.batch_sizes[-1] else [""]:
                seconds = time_model(paths[shape.label], series, batch, extra, args.horizon)
                rows.append(Row(shape.label, batch, extra or "-", len(series), seconds))
                print(
                    f"{shape.label:22s} batch {batch:5d} {extra or '-':15s}: "
                    f"{rows[-1].per_second:9,.0f} series/s",
                    flush=True,
                )
    first = paths[SHAPES[0].label]
    argv_cmd = ["--data", str(csv), "--checkpoint", str(first), "--output"]
    argv_cmd += [str(work / "forecasts.csv"), "--batch-size", str(args.batch_sizes[-1])]
    command = time_command([*argv_cmd, "--quiet", "--threads", str(args.threads)])
    print(f"whole command: {len(series) / command:,.0f} series/s", flush=True)
    text = render(rows, load, command, args, cmd, host)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(text)
    print(text)
    print(f"wrote {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
