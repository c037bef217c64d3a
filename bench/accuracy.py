"""One-step forecast accuracy of gatecast on real series, against naive and seasonal naive.

.venv/bin/python -m bench.accuracy            # full run (all datasets, seeds 0 1 2, ~3-5 min)
.venv/bin/python -m bench.accuracy --quick    # smoke run: 2 epochs, one seed, nothing in bench/
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import common as c
from bench import datasets
from scripts.pipeline.csv_series import DataConfig, load_series
from scripts.pipeline.windows import split_windows

RESULTS = c.REPO / "bench" / "results" / "accuracy.md"
NAMES = ["airline_passengers", *datasets.BUILDERS]
METHODS = ("model", "naive", "seasonal_naive")
VARIANTS = ("shared", "strict")


@dataclass
class Result:
    """One trained model's one-step backtest over the held-out tail."""

    dataset: str
    variant: str
    seed: int
    points: int
    freq: str
    season: int
    window: int
    epochs_run: int
    best_epoch: int
    train_windows: int
    val_windows: int
    first_origin: int
    origins: int
    metrics: dict[str, dict[str, float]]
    seconds: float

    def beats(self, baseline: str = "seasonal_naive") -> bool:
        """Whether gatecast's MASE is below the baseline's."""
        return self.metrics["model"]["mase"] < self.metrics[baseline]["mase"]


def geo_mean(results: list[Result]) -> float:
    """Geometric mean of gatecast's MASE over runs."""
    return float(np.exp(np.mean([np.log(r.metrics["model"]["mase"]) for r in results])))


HELP = {
    "results": "markdown file (default: bench/results/accuracy.md, OUT/accuracy.md with --quick)",
    "variants": "shared: the test tail is also the early-stopping validation part; strict: "
    "training (with its own validation split) sees only the points before the test tail",
    "sweep": "also run the strict variant with one recipe change at a time (window, lr, size, "
    "normalization, patience; ~10 min more)",
}


def build_parser() -> argparse.ArgumentParser:
    """The command line, every flag documented."""
    p = c.parser("python -m bench.accuracy", __doc__)
    c.option(p, "--out", None, "work folder (default: a fresh temporary folder)", type=Path)
    c.option(p, "--results", None, HELP["results"], type=Path)
    c.option(p, "--quick", False, "smoke run: 2 epochs, first seed only", action="store_true")
    c.option(p, "--datasets", NAMES, "datasets to run", nargs="+", choices=NAMES, metavar="NAME")
    c.option(p, "--variants", list(VARIANTS), HELP["variants"], nargs="+", choices=VARIANTS)
    c.option(p, "--seeds", [0, 1, 2], "training seeds; tables use the first", nargs="+")
    c.option(p, "--val-fraction", 0.2, "test tail = validation part = backtest --tail")
    c.option(p, "--window", 24, "input steps per window")
    c.option(p, "--hidden", 64, "LSTM units per layer")
    c.option(p, "--layers", 2, "stacked LSTM layers")
    c.option(p, "--epochs", 300, "maximum epochs")
    c.option(p, "--patience", 30, "early-stopping patience (epochs)")
    c.option(p, "--lr", 3e-3, "Adam learning rate")
    c.option(p, "--batch-size", 32, "windows per batch")
    c.option(p, "--normalization", "window", "input scaling", choices=("none", "global", "window"))
    c.option(p, "--threads", 1, "torch intra-op threads (1: robust on a shared CPU)")
    c.option(p, "--sweep", False, HELP["sweep"], action="store_true")
    return p


def recipe(args: argparse.Namespace) -> list[str]:
    """The training flags every dataset gets (all but data, name, seed and split)."""
    keys = ("window", "hidden", "layers", "epochs", "patience", "lr", "batch_size")
    return c.flags(**{k: getattr(args, k) for k in keys}, normalization=args.normalization)


def build_data(folder: Path, names: list[str]) -> dict[str, Path]:
    """The bundled airline CSV and the statsmodels series, written into folder."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = [n for n in names if n in datasets.BUILDERS]
    if wanted:
        datasets.main(["--out", str(folder), "--only", *wanted])
    return {n: c.AIRLINE if n == "airline_passengers" else folder / f"{n}.csv" for n in names}


def check_split(
    train_csv: Path, meta: dict[str, Any], window: int, frac: float, cut: int, variant: str
) -> None:
    """Recut the training CSV as training did; fail unless no trained target reaches the cut."""
    series = load_series(DataConfig(paths=[str(train_csv)]))
    split = split_windows(series, window, 1, frac)
    counts = meta["training"]["windows"]
    if (len(split.train.x), len(split.val.x)) != (counts["train"], counts["val"]):
        raise AssertionError(f"{train_csv}: recut windows differ from meta.json {counts}")
    if split.train.origin.max() >= cut:
        raise AssertionError(f"{train_csv}: a training target at or after the cut {cut}")
    if variant == "strict" and split.val.origin.max() >= cut:
        raise AssertionError(f"{train_csv}: a validation target at or after the cut {cut}")
    if variant == "shared" and split.val.origin.min() != cut:
        raise AssertionError(f"{train_csv}: validation does not start at the cut {cut}")


def one_run(
    name: str, csv: Path, variant: str, seed: int, args: argparse.Namespace, work: Path
) -> Result:
    """Train one model and backtest it one step ahead over the last val_fraction."""
    frac = args.val_fraction
    n = len(pd.read_csv(csv))
    cut = n - round(
        n * frac
    )  # first backtest origin; scripts.pipeline.windows cuts training here too
    train_csv = csv
    if variant == "strict":  # training and its early stopping see only the rows before the cut
        train_csv = work / "strict" / f"{name}.csv"
        train_csv.parent.mkdir(parents=True, exist_ok=True)
        pd.read_csv(csv).iloc[:cut].to_csv(train_csv, index=False)
    start = time.perf_counter()
    model_dir = work / "models"
    tag = f"{name}.{variant}.s{seed}"
    opts = c.flags(data=train_csv, name=tag, model_dir=model_dir, val_fraction=frac, seed=seed)
    ckpt, meta, _ = c.train([*opts, *recipe(args)])
    seconds = time.perf_counter() - start
    check_split(train_csv, meta, args.window, frac, cut, variant)
    out = work / "reports" / tag
    c.run_backtest(c.flags(checkpoint=ckpt, data=csv, tail=n - cut, out=out))
    report = json.loads((out / "report.json").read_text())
    one = report["one_step"]
    if one["first_origin"] != cut or one["origins"] != n - cut:
        raise AssertionError(f"{tag}: backtest starts at {one['first_origin']}, cut is {cut}")
    t = meta["training"]
    w, scores = t["windows"], {m: one["metrics"][m] for m in METHODS}
    return Result(name, variant, seed, n, report["frequency"], int(report["season"]),
                  int(report["window"]), int(t["epochs_run"]), int(t["best_epoch"]),
                  int(w["train"]), int(w["val"]), cut, n - cut, scores, seconds)  # fmt: skip


METRICS = ("MASE", "MAE", "sMAPE%")
LABELS = ("gatecast", "naive", "s-naive")
FACTS = ["dataset", "points", "freq", "season", "window", "epochs (best)", "train/val windows"]
MAIN = [*FACTS, "test origins", *(f"{m} {k}" for m in METRICS for k in LABELS), "beats s-naive"]


def main_table(results: list[Result]) -> str:
    """Per dataset: data, training facts and the one-step scores of the three methods."""
    rows = []
    for r in results:
        m = r.metrics
        done = f"{r.epochs_run} ({r.best_epoch})"
        facts = [r.dataset, r.points, r.freq, r.season, r.window, done]
        facts += [f"{r.train_windows}/{r.val_windows}", f"{r.origins} from #{r.first_origin}"]
        scores = [m[k][metric] for metric in ("mase", "mae", "smape") for k in METHODS]
        rows.append([*facts, *scores, "yes" if r.beats() else "**no**"])
    return c.table(MAIN, rows)


def spread_table(results: list[Result]) -> str:
    """Per dataset and variant: gatecast MASE over the seeds against seasonal naive."""
    header = ["dataset", "variant", "MASE gatecast mean", "sd", "min", "max", "MASE naive"]
    header += ["MASE s-naive", "beats naive", "beats s-naive"]
    rows: list[list[object]] = []
    for dataset, variant in dict.fromkeys((r.dataset, r.variant) for r in results):
        group = [r for r in results if (r.dataset, r.variant) == (dataset, variant)]
        mase = [r.metrics["model"]["mase"] for r in group]
        sd = statistics.stdev(mase) if len(mase) > 1 else float("nan")
        base = [group[0].metrics[k]["mase"] for k in METHODS[1:]]
        wins = [f"{sum(r.beats(k) for r in group)}/{len(group)}" for k in METHODS[1:]]
        spread = [statistics.mean(mase), sd, min(mase), max(mase)]
        rows.append([dataset, variant, *spread, *base, *wins])
    variants = dict.fromkeys(r.variant for r in results)
    footer = "; ".join(
        f"{v}: {geo_mean([r for r in results if r.variant == v]):.3f}" for v in variants
    )
    return c.table(header, rows) + f"\n\nGeometric mean of gatecast MASE over all runs: {footer}."


SWEEP: tuple[str, ...] = ("--window 12", "--window 48", "--lr 0.001", "--hidden 32 --layers 1")
SWEEP += ("--normalization global", "--patience 60")


def sweep_table(base: list[Result], argv: list[str], csvs: dict[str, Path], work: Path) -> str:
    """Strict-variant runs of the recipe with one change each, summarised per change."""
    names = list(dict.fromkeys(r.dataset for r in base))
    header = ["change to the recipe", "geo-mean MASE", *names, "runs beating s-naive"]
    rows = []
    for extra in ("", *SWEEP):
        args = parse([*argv, *extra.split()])
        runs = [r for r in base if r.variant == "strict"] if not extra else []
        for name in [] if runs else names:
            folder = work / "sweep" / extra.replace("--", "").replace(" ", "_")
            runs += [one_run(name, csvs[name], "strict", s, args, folder) for s in args.seeds]
        mase = [[r.metrics["model"]["mase"] for r in runs if r.dataset == n] for n in names]
        means = [statistics.mean(m) for m in mase]
        wins = f"{sum(r.beats() for r in runs)}/{len(runs)}"
        label = f"`{extra}`" if extra else "none (recipe above)"
        rows.append([label, geo_mean(runs), *means, wins])
        print(f"sweep {label}: geo-mean MASE {geo_mean(runs):.3f}, {wins}", flush=True)
    return c.table(header, rows)


def render(results: list[Result], args: argparse.Namespace, intro: str) -> str:
    """The results file."""
    first = args.seeds[0]
    parts = [
        "# gatecast one-step accuracy on real series",
        intro,
        f"Recipe, the same for every dataset: `{' '.join(recipe(args))}`, val fraction "
        f"{args.val_fraction}, torch threads {args.threads}; Adam, gradient clip 1.0, the "
        "best-validation weights restored. Window 24 = two seasons of the monthly series, six "
        "of the quarterly one, two sunspot cycles.",
        "Protocol: the last `round(n * val_fraction)` points are the test tail, each forecast "
        "one step ahead from the true preceding window (`scripts.backtest --tail COUNT`); MASE "
        "scales by the seasonal-naive in-sample MAE before the tail; seasonal naive = naive "
        "when season is 1. Checked on every run: no training target lies in the tail (windows "
        "recut and matched to meta.json) and the backtest's first origin is the cut.",
        "* **shared**: trained on the whole series with `--val-fraction`, so the test tail is "
        "also the validation part that early stopping and best-weights restore look at: the "
        "`gatecast-train` default, slightly optimistic.",
        "* **strict**: trained on a CSV cut before the tail, with its own validation part (the "
        "last `val_fraction` of that); the tail is untouched by training and early stopping.",
    ]
    for variant in dict.fromkeys(r.variant for r in results):
        picked = [r for r in results if r.variant == variant and r.seed == first]
        parts += [f"## {variant} (seed {first})", main_table(picked)]
    parts += [
        f"## Spread over seeds {' '.join(map(str, args.seeds))}",
        spread_table(results),
    ]
    return "\n\n".join(parts) + "\n"


def parse(argv: list[str]) -> argparse.Namespace:
    """Parsed flags, with --quick applied."""
    args = build_parser().parse_args(argv)
    if args.quick:
        args.epochs, args.patience, args.seeds = 2, 1000, args.seeds[:1]
    return args


def main(argv: list[str] | None = None) -> int:
    """Run every dataset, variant and seed; print and write the tables."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    cmd, host = c.command("bench.accuracy", argv), c.machine()
    c.quiet()
    c.set_threads(args.threads)
    work = args.out or Path(tempfile.mkdtemp(prefix="gatecast-accuracy-"))
    results_path = args.results or (work / "accuracy.md" if args.quick else RESULTS)
    print(f"work folder: {work}", flush=True)
    csvs = build_data(work / "data", args.datasets)
    start = time.perf_counter()
    results = []
    for name in args.datasets:
        for variant in args.variants:
            for seed in args.seeds:
                r = one_run(name, csvs[name], variant, seed, args, work)
                results.append(r)
                mase = ", ".join(f"{k} {v['mase']:.3f}" for k, v in r.metrics.items())
                print(f"{name} {variant} seed {seed}: MASE {mase}", flush=True)
    sweep = sweep_table(results, argv, csvs, work) if args.sweep else ""
    minutes = (time.perf_counter() - start) / 60
    intro = f"```sh\n{cmd}\n```\n\nMachine: {host}. Wall time {minutes:.1f} min."
    text = render(results, args, intro)
    if sweep:
        text += f"\n## One change at a time (strict, seeds {' '.join(map(str, args.seeds))})\n\n"
        text += f"Mean gatecast MASE per dataset over the seeds.\n\n{sweep}\n"
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(text)
    (work / "accuracy.json").write_text(json.dumps([r.__dict__ for r in results], indent=1))
    print(text)
    print(f"wrote {results_path} and {work / 'accuracy.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
