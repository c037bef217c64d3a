"""Training throughput of gatecast: windows per second on the bundled series and on a
generated long CSV, as the number of series and the batch size grow.

.venv/bin/python -m bench.training            # full run (~3-5 min on 2 cores)
.venv/bin/python -m bench.training --quick    # smoke run: 1 epoch, 1 and 10 series, batch 32
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench import common as c

RESULTS = c.REPO / "bench" / "results" / "training.md"


@dataclass
class Row:
    """One timed training run."""

    data: str
    series: int
    batch: int
    threads: int
    windows: int  # training windows per epoch
    val_windows: int
    epochs: int
    seconds: float  # Lightning fit time: training, validation each epoch, sanity check
    load: float  # 1-minute load average right after the run

    @property
    def total(self) -> int:
        """Training windows processed over all epochs."""
        return self.windows * self.epochs

    @property
    def per_second(self) -> float:
        """Training windows per second of fit time (what the training summary prints)."""
        return self.total / self.seconds


def build_parser() -> argparse.ArgumentParser:
    """The command line, every flag documented."""
    p = c.parser("python -m bench.training", __doc__)
    c.option(p, "--out", None, "work folder (default: a fresh temporary folder)", type=Path)
    c.option(
        p,
        "--results",
        None,
        "markdown file (default: bench/results/training.md, or OUT/training.md with --quick)",
        type=Path,
    )
    c.option(
        p,
        "--quick",
        False,
        "smoke run: 1 epoch, 1 and 10 series, first batch size",
        action="store_true",
    )
    c.option(p, "--series", 200, "series in the generated long CSV")
    c.option(p, "--counts", [1, 10, 50, 100, 200], "series counts (the first K)", nargs="+")
    c.option(p, "--min-length", 240, "shortest generated series")
    c.option(p, "--max-length", 480, "longest generated series")
    c.option(p, "--batch-sizes", [32, 256], "windows per batch to time", nargs="+")
    c.option(p, "--epochs", 3, "epochs per run (no early stopping)")
    c.option(p, "--window", 24, "input steps per window")
    c.option(p, "--hidden", 64, "LSTM units per layer")
    c.option(p, "--layers", 2, "stacked LSTM layers")
    c.option(p, "--seed", 0, "seed of the generated data and of training")
    c.option(p, "--threads", 1, "torch intra-op threads of the sweep")
    c.option(
        p,
        "--compare-threads",
        [1, 2],
        "thread counts of the extra comparison (none: skip it)",
        nargs="*",
        type=int,
    )
    c.option(p, "--compare-series", 20, "series count of the thread comparison")
    c.option(p, "--compare-epochs", 1, "epochs of the thread comparison")
    c.option(p, "--compare-rounds", 3, "interleaved rounds of the thread comparison")
    return p


def generate(count: int, min_len: int, max_len: int, seed: int) -> pd.DataFrame:
    """A long frame of monthly series: varied level, trend, seasonality, AR(1) noise, length."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(count):
        n = int(rng.integers(min_len, max_len + 1))
        t = np.arange(n, dtype=np.float64)
        level = 10 ** rng.uniform(0, 4)  # 1 .. 10,000
        trend = level * rng.uniform(-0.002, 0.006) * t
        season = level * rng.uniform(0, 0.3) * np.sin(2 * np.pi * t / 12 + rng.uniform(0, 6.3))
        shocks = rng.normal(0, level * rng.uniform(0.01, 0.1), n)
        noise = np.zeros(n)
        phi = rng.uniform(0, 0.8)
        for k in range(1, n):
            noise[k] = phi * noise[k - 1] + shocks[k]
        start = pd.Timestamp("2000-01-01") - pd.DateOffset(months=n)
        stamps = pd.date_range(start, periods=n, freq="MS").strftime("%Y-%m-%d")
        values = np.round(level + trend + season + noise, 4)
        frames.append(
            pd.DataFrame({"series_id": f"s{i:03d}", "timestamp": stamps, "value": values})
        )
    return pd.concat(frames, ignore_index=True)


def timed_run(
    data: str,
    csv: Path,
    series: int,
    batch: int,
    threads: int,
    epochs: int,
    args: argparse.Namespace,
    work: Path,
) -> Row:
    """Train for a fixed number of epochs and read the timing back from meta.json."""
    c.set_threads(threads)
    name = f"{data}.k{series}.b{batch}.t{threads}.e{epochs}"
    shape = c.flags(window=args.window, hidden=args.hidden, layers=args.layers, seed=args.seed)
    opts = c.flags(data=csv, name=name, model_dir=work / "models", epochs=epochs)
    _, meta, summary = c.train([*opts, *shape, "--patience", "1000000", "--batch-size", str(batch)])
    t = meta["training"]
    if t["epochs_run"] != epochs or "windows/s" not in summary:
        raise RuntimeError(f"{data}: ran {t['epochs_run']} epochs, expected {epochs}")
    counts = int(t["windows"]["train"]), int(t["windows"]["val"])
    load = os.getloadavg()[0]
    return Row(data, series, batch, threads, *counts, epochs, float(t["seconds"]), load)


def runs_table(rows: list[Row]) -> str:
    """One line per timed run."""
    header = ["data", "series", "batch", "threads", "train windows/epoch", "val windows"]
    header += ["epochs", "total windows", "fit s", "s/epoch", "windows/s", "load (1 min)"]
    body = [
        [
            r.data,
            r.series,
            r.batch,
            r.threads,
            r.windows,
            r.val_windows,
            r.epochs,
            r.total,
            f"{r.seconds:.2f}",
            f"{r.seconds / r.epochs:.2f}",
            f"{r.per_second:,.0f}",
            f"{r.load:.1f}",
        ]
        for r in rows
    ]
    return c.table(header, body)


def scaling_table(rows: list[Row], batches: list[int]) -> str:
    """Generated-data throughput per batch size against series count."""
    counts = list(dict.fromkeys(r.series for r in rows if r.data == "generated"))
    lines = []
    for batch in batches:
        picked = [r for r in rows if r.data == "generated" and r.batch == batch]
        base = picked[0].per_second
        lines.append(
            [batch, *(f"{r.per_second:,.0f} ({r.per_second / base:.1f}x)" for r in picked)]
        )
    return c.table(["batch", *map(str, counts)], lines)


def render(
    rows: list[Row],
    compare: list[Row],
    args: argparse.Namespace,
    cmd: str,
    host: str,
    seconds: float,
) -> str:
    """The results file: settings, the run table and the scaling with series count."""
    parts = [
        "# gatecast training throughput",
        f"```sh\n{cmd}\n```",
        f"Machine: {host}. Wall time {seconds / 60:.1f} min.",
        f"Settings: window {args.window}, hidden {args.hidden}, layers {args.layers}, "
        f"`--epochs {args.epochs} --patience 1000000` (no early stopping), lr 3e-3, "
        f"seed {args.seed}, val fraction 0.2, one global model, CPU, one process, "
        f"torch threads {args.threads} unless the table says otherwise.",
        "windows/s = training windows per epoch x epochs / Lightning fit seconds, as the "
        "training summary prints it; fit seconds also cover the validation pass each epoch "
        "and Lightning's start-up (sanity check), which dominate for small inputs; one "
        "untimed warm-up run comes first. "
        "Other jobs share this machine: the load column says how busy it was.",
        f"Generated data: {args.series} monthly series in one long CSV "
        f"(`series_id,timestamp,value`), {args.min_length}..{args.max_length} points each, "
        "levels 1..10,000, trends, seasonal amplitude 0..30% of level, AR(1) noise; numpy "
        f"seed {args.seed}. K series = the first K of that file.",
        "## Runs",
        runs_table(rows),
        "## Throughput against series count (windows/s, x = relative to the first count)",
        scaling_table(rows, args.batch_sizes),
    ]
    if compare:
        medians = []
        for key in dict.fromkeys((r.batch, r.threads) for r in compare):
            rates = [r.per_second for r in compare if (r.batch, r.threads) == key]
            medians.append([*key, f"{statistics.median(rates):,.0f}", f"{min(rates):,.0f}"])
        parts += [
            f"## Torch threads ({args.compare_series} series, {args.compare_epochs} epoch(s), "
            f"{args.compare_rounds} interleaved rounds)",
            c.table(["batch", "threads", "median windows/s", "worst windows/s"], medians),
            runs_table(compare),
        ]
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Generate the data, time every run, print and write the tables."""
    args = build_parser().parse_args(argv)
    cmd, host = c.command("bench.training", argv), c.machine()
    if args.quick:
        args.epochs, args.counts, args.batch_sizes = 1, [1, 10], args.batch_sizes[:1]
        args.compare_series, args.compare_rounds = 10, 1
    if not all(1 <= k <= args.series for k in [*args.counts, args.compare_series]):
        raise SystemExit(f"--counts and --compare-series must lie in 1..{args.series}")
    c.quiet()
    work = args.out or Path(tempfile.mkdtemp(prefix="gatecast-training-"))
    results_path = args.results or (work / "training.md" if args.quick else RESULTS)
    work.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {work}", flush=True)
    frame = generate(args.series, args.min_length, args.max_length, args.seed)
    ids = list(dict.fromkeys(frame["series_id"]))
    csvs = {}
    for k in {*args.counts, args.compare_series}:
        csvs[k] = work / f"generated_{k}.csv"
        frame[frame["series_id"].isin(ids[:k])].to_csv(csvs[k], index=False)
    start = time.perf_counter()
    rows: list[Row] = []
    compare: list[Row] = []

    def timed(data: str, csv: Path, k: int, batch: int, threads: int, epochs: int) -> Row:
        """Time one run and print a progress line."""
        row = timed_run(data, csv, k, batch, threads, epochs, args, work)
        print(
            f"{data:9s} series {k:4d} batch {batch:4d} threads {threads}: {row.total:8d} "
            f"windows in {row.seconds:7.2f}s = {row.per_second:8,.0f} windows/s "
            f"(load {row.load:.1f})",
            flush=True,
        )
        return row

    timed_run("airline", c.AIRLINE, 1, 32, args.threads, 1, args, work)  # warm-up, not reported
    for batch in args.batch_sizes:
        rows.append(timed("airline", c.AIRLINE, 1, batch, args.threads, args.epochs))
        for k in args.counts:
            rows.append(timed("generated", csvs[k], k, batch, args.threads, args.epochs))
    k = args.compare_series
    for _ in range(args.compare_rounds):
        for batch in args.batch_sizes:
            for threads in args.compare_threads:
                compare.append(timed("generated", csvs[k], k, batch, threads, args.compare_epochs))
    text = render(rows, compare, args, cmd, host, time.perf_counter() - start)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(text)
    print(text)
    print(f"wrote {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
