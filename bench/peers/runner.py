"""gatecast side by side with the forecasters users would otherwise pick, on real series.

.venv/bin/python -m bench.peers --quick                       # smoke: 1 series, 1 seed, tiny fits
.venv/bin/python -m bench.peers --seeds 0                     # every series, seed 0 (hours)
.venv/bin/python -m bench.peers --seeds 0 1 2                 # the full table (reuses the cache)
.venv/bin/python -m bench.peers --seeds 0 1 2 --only gatecast # retrain gatecast, reuse the peers
.venv/bin/python -m bench.peers --series taylor_half_hourly bikeshare_daily \
    nyse_volume_business_daily --only gatecast_nocal gatecast_cal gatecast_cov \
    nf_lstm_exog darts_lstm_exog                               # calendar and covariates

Methods: gatecast's default recipe (the training CLI with no per-series flags), NeuralForecast
LSTM, Darts RNNModel(model="LSTM"), statsforecast AutoARIMA and AutoETS, naive and seasonal
naive. On the series with calendar effects (CALENDAR_SERIES) also gatecast without and with
calendar features (and with the series' covariates where it has some), and the two LSTM peers
given the same calendar features and covariates as exogenous inputs (`_exog`).

The peers run under their own interpreter (--peers-python, see shared/peers/README.md)
through bench/peers/peer_process.py; they are never a dependency of gatecast. Every (series,
method, seed) result is cached as JSON under --cache, so a rerun recomputes only what --only names.
The cache under bench/results/peers-cache is committed: the peers take hours and a venv of
their own, and with their forecasts in git a change to gatecast is measured against exactly
the same peer forecasts (`--only gatecast`), and every number in the report can be audited.
"""

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench import common as c
from bench import datasets
from bench.peers import gatecast as gc
from bench.peers import report
from bench.peers.protocol import (
    LEVELS,
    Split,
    check_leakage,
    make_split,
    naive_hstep,
    naive_onestep,
)

ISSUE10_SERIES = (
    "airline_monthly",
    "wineind_monthly",
    "elnino_nino12_monthly",
    "us_realgdp_quarterly",
    "sunspots_yearly",
    "co2_weekly",
    "msft_business_daily",
    "taylor_half_hourly",
)
# Series with real calendar effects: sub-daily load, daily rentals, business-daily volume.
CALENDAR_SERIES = ("taylor_half_hourly", "bikeshare_daily", "nyse_volume_business_daily")
SERIES = [*ISSUE10_SERIES, *(s for s in CALENDAR_SERIES if s not in ISSUE10_SERIES)]
EXOG_PEERS = ("nf_lstm_exog", "darts_lstm_exog")
PEERS = ("nf_lstm", "darts_lstm", "autoarima", "autoets", *EXOG_PEERS)
# gatecast on the calendar series: training flags per variant (covariate flags are added
# from the series' columns for gatecast_cov).
GATECAST_VARIANTS = {"gatecast_nocal": ["--no-calendar"], "gatecast_cal": [], "gatecast_cov": []}
METHODS = ("gatecast", *GATECAST_VARIANTS, *PEERS, "naive", "snaive", "snaive2")
SEEDED = frozenset({"gatecast", *GATECAST_VARIANTS, "nf_lstm", "darts_lstm", *EXOG_PEERS})
# Fit budgets of the LSTM peers where their defaults take far longer than the few CPU minutes
# this shared machine gives one fit; the report lists every setting each run used.
PEER_BUDGETS: dict[str, dict[str, dict[str, Any]]] = {
    # Defaults: NF 1000 steps over 144-step inputs, Darts 100 epochs of 192-step sequences
    # over 3,500 points (each well over 15 CPU minutes here).
    "taylor_half_hourly": {"nf": {"max_steps": 300}, "darts": {"n_epochs": 15}},
}
RESULTS = c.REPO / "bench" / "results"
CACHE = RESULTS / "peers-cache"
PEERS_PYTHON = Path("/tmp/peers-venv/bin/python")
RUN_TIMEOUT = 3600  # one peer fit and its forecasts; a longer one is reported as failed

Entry = dict[str, Any]


def build_parser() -> argparse.ArgumentParser:
    """The command line, every flag documented."""
    p = c.parser("python -m bench.peers", __doc__)
    c.option(p, "--series", SERIES, "series to run", nargs="+", choices=SERIES, metavar="NAME")
    seeds = "seeds of the seeded methods (gatecast, NF, Darts)"
    c.option(p, "--seeds", [0, 1, 2], seeds, nargs="+")
    c.option(
        p,
        "--only",
        None,
        "recompute only these methods; the others come from the cache (or are left out)",
        nargs="+",
        choices=METHODS,
        metavar="METHOD",
    )
    c.option(
        p,
        "--quick",
        False,
        "smoke run: first series, first seed, tiny fits, results in the work folder",
        action="store_true",
    )
    c.option(
        p,
        "--report-only",
        False,
        "compute nothing: report what the cache holds",
        action="store_true",
    )
    c.option(p, "--cache", CACHE, "folder of cached per-run results (JSON)", type=Path)
    c.option(
        p, "--out", None, "work folder for CSVs and checkpoints (default: a temp folder)", type=Path
    )
    c.option(p, "--results", RESULTS, "folder for peers.md and peers.json", type=Path)
    c.option(p, "--peers-python", PEERS_PYTHON, "interpreter of the peers' venv", type=Path)
    return p


def cache_path(cache: Path, series: str, method: str, seed: int | None) -> Path:
    """Where one run's result lives: CACHE/SERIES/METHOD[.sSEED].json."""
    return cache / series / (f"{method}.s{seed}.json" if seed is not None else f"{method}.json")


def load_cached(path: Path, split: Split) -> Entry | None:
    """A cached result for this exact split, or None."""
    if not path.exists():
        return None
    entry: Entry = json.loads(path.read_text())
    return entry if entry.get("split") == split.digest() and not entry.get("quick") else None


def compact(value: Any) -> Any:
    """Floats to 7 significant digits (float32 precision, what the peers compute in)."""
    if isinstance(value, dict):
        return {k: compact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [compact(v) for v in value]
    if isinstance(value, float):
        return float(f"{value:.7g}")
    return value


def write_train_csv(split: Split, folder: Path, covariates: bool = False) -> Path:
    """The gap-filled training span as timestamp,value (and the covariate columns when asked
    for): what every method trains on."""
    folder.mkdir(parents=True, exist_ok=True)
    names = list(split.past + split.future) if covariates else []
    path = folder / f"{split.name}{'.cov' if names else ''}.csv"
    columns = [split.timestamps[: split.cut], split.train.tolist()]
    columns += [split.covariates[c][: split.cut].tolist() for c in names]
    rows = [",".join(map(str, cells)) for cells in zip(*columns, strict=True)]
    path.write_text(",".join(["timestamp", "value", *names]) + "\n" + "\n".join(rows) + "\n")
    return path


def gatecast_flags(split: Split, method: str) -> list[str]:
    """gatecast-train flags of one method: the calendar switch and the covariate columns."""
    flags = list(GATECAST_VARIANTS.get(method, []))
    if method == "gatecast_cov" and split.past:
        flags += ["--past-covariates", ",".join(split.past)]
    if method == "gatecast_cov" and split.future:
        flags += ["--future-covariates", ",".join(split.future)]
    return flags


def run_gatecast(split: Split, seed: int, quick: bool, work: Path, method: str) -> Entry:
    """Train with the CLI's defaults (plus the method's flags), then forecast every origin
    from the whole history and from the last `window` values, with 80% and 95% intervals."""
    csv = write_train_csv(split, work / "train", covariates=method == "gatecast_cov")
    extra = gatecast_flags(split, method) + (["--epochs", "2"] if quick else [])
    trained = gc.train(csv, work / "models", f"{split.name}.{method}.s{seed}", seed, extra)
    ckpt = gc.load(trained.path)
    w = gc.window(ckpt)
    exog = split_exog(split, ckpt)
    whole = [forecast_from(split, ckpt, exog, 0, t, 1, LEVELS) for t in split.origins]
    last = [forecast_from(split, ckpt, exog, t - w, t, 1, LEVELS) for t in split.origins]

    def bands(fs: list[gc.Forecast]) -> dict[str, dict[str, list[float]]]:
        """Per level, the one-step lower and upper bounds over the origins."""
        return {
            str(level): {
                "lower": [float(f.lower[level][0]) for f in fs],
                "upper": [float(f.upper[level][0]) for f in fs],
            }
            for level in LEVELS
        }

    check = {
        t: float(forecast_from(split, ckpt, exog, 0, t, 1).mean[0]) for t in split.check_origins
    }
    cut, h = split.cut, split.horizon
    return {
        "onestep": [float(f.mean[0]) for f in whole],
        "hstep": forecast_from(split, ckpt, exog, 0, cut, h).mean.tolist(),
        "onestep_window": [float(f.mean[0]) for f in last],
        "hstep_window": forecast_from(split, ckpt, exog, cut - w, cut, h).mean.tolist(),
        "intervals": bands(whole),
        "intervals_window": bands(last),
        "check": check,
        "seconds": trained.fit_seconds,
        "cpu_seconds": trained.cpu_seconds,
        "wall_seconds": trained.wall_seconds,
        "settings": {
            "cli": f"gatecast-train --data TRAIN.csv --seed {seed} {' '.join(extra)}".strip(),
            "window": w,
            "features": gc.features(ckpt[1]),
        },
        "versions": {"gatecast": git_version(), "torch": torch.__version__},
    }


def git_version() -> str:
    """The commit this benchmark runs from, marked when the tree has changes."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=c.REPO, capture_output=True, text=True)
        return done.stdout.strip()

    dirty = "+changes" if git("status", "--porcelain", "--", "model", "scripts") else ""
    return git("rev-parse", "--short", "HEAD") + dirty


def run_naive(split: Split, method: str) -> Entry:
    """Naive (season 1), seasonal naive (main season) or the second season's naive."""
    season = {"naive": 1, "snaive": split.season}.get(method) or split.seasons[-1]
    start, cpu = time.perf_counter(), time.process_time()
    onestep = naive_onestep(split, split.inputs, season)
    check = {t: float(split.inputs[:t][-season]) for t in split.check_origins}
    return {
        "onestep": onestep.tolist(),
        "hstep": naive_hstep(split, season).tolist(),
        "check": check,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
        "settings": {"season": season},
        "versions": {"numpy": np.__version__},
    }


def padded_covariates(split: Split) -> dict[str, np.ndarray]:
    """Every covariate over the series and `horizon` steps beyond it, the last value repeated
    there. No scored forecast reads those steps: gatecast's one-step and H-step forecasts end
    inside the series, and NeuralForecast's step 1 (all that is scored from the last origins)
    reads only its own step's future inputs."""
    return {c: np.pad(v, (0, split.horizon), mode="edge") for c, v in split.covariates.items()}


def split_exog(split: Split, checkpoint: gc.Checkpoint) -> np.ndarray | None:
    """A checkpoint's raw exogenous inputs over the split and `horizon` steps past it,
    (n + H, E); None for a model without any."""
    return gc.exog_matrix(checkpoint, split.future_timestamps(), padded_covariates(split))


def forecast_from(
    split: Split,
    checkpoint: gc.Checkpoint,
    exog: np.ndarray | None,
    start: int,
    end: int,
    horizon: int,
    levels: tuple[float, ...] = (),
) -> gc.Forecast:
    """gatecast's forecast from history inputs[start:end], with the exogenous rows (split_exog)
    of that history and the horizon after it."""
    rows = None if exog is None else exog[start : end + horizon]
    return gc.forecast(checkpoint, split.inputs[start:end], horizon, levels, rows)


def exog(split: Split) -> dict[str, dict[str, list[float]]]:
    """The exogenous inputs an `_exog` peer gets: the series' past covariates over the series;
    its future covariates (padded_covariates) and gatecast's calendar features over the series
    and `horizon` steps beyond it."""
    n, more = len(split.inputs), split.horizon
    padded = padded_covariates(split)
    past = {c: split.covariates[c].tolist() for c in split.past}
    future = {c: padded[c].tolist() for c in split.future}
    calendar = gc.calendar_features(split.future_timestamps(), split.freq)
    future |= {name: values.tolist() for name, values in calendar.items()}
    if any(len(v) != n + more for v in future.values()):
        raise ValueError(f"{split.name}: future inputs do not cover {n} + {more} steps")
    return {"past": past, "future": future}


def run_peer(split: Split, method: str, seed: int, quick: bool, python: Path, work: Path) -> Entry:
    """One peer in its own interpreter through bench/peers/peer_process.py, on one thread."""
    folder = work / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"{split.name}.{method}.s{seed}"
    job: dict[str, Any] = {
        "method": method,
        "seed": seed,
        "quick": quick,
        "freq": split.freq,
        "season": split.season,
        "horizon": split.horizon,
        "timestamps": split.timestamps,
        "inputs": split.inputs.tolist(),
        "cut": split.cut,
        "check_origins": split.check_origins,
        "settings": PEER_BUDGETS.get(split.name, {}),
    }
    if method in EXOG_PEERS:
        job["exog"] = exog(split)
    stem.with_suffix(".job.json").write_text(json.dumps(job))
    out = stem.with_suffix(".result.json")
    cmd = [str(python), str(c.REPO / "bench" / "peers" / "peer_process.py")]
    cmd += [str(stem.with_suffix(".job.json")), str(out)]
    env = {**os.environ, **gc.ONE_THREAD}
    env.pop("PYTHONPATH", None)  # the peers never see gatecast's modules
    log = stem.with_suffix(".log").open("w")
    try:
        subprocess.run(cmd, env=env, stdout=log, stderr=log, timeout=RUN_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {RUN_TIMEOUT} s"}
    finally:
        log.close()
    if not out.exists():
        return {"error": f"the runner wrote no result; see {stem.with_suffix('.log')}"}
    entry: Entry = json.loads(out.read_text())
    return entry


def compute(
    split: Split, method: str, seed: int | None, args: argparse.Namespace, work: Path
) -> Entry:
    """Run one method on one split; its result, with the leakage check applied."""
    try:
        if method == "gatecast" or method in GATECAST_VARIANTS:
            entry = run_gatecast(split, seed or 0, args.quick, work, method)
        elif method in PEERS:
            entry = run_peer(split, method, seed or 0, args.quick, args.peers_python, work)
        else:
            entry = run_naive(split, method)
    except Exception as err:  # one failed run is reported, the others go on
        entry = {"error": f"{type(err).__name__}: {err}"[:800]}
    if "error" not in entry:
        check = {int(k): float(v) for k, v in entry["check"].items()}
        entry["check"] = check_leakage(split, method, np.asarray(entry["onestep"]), check)
    return entry


def methods_for(split: Split) -> list[str]:
    """Every method, the second season's naive only for series with two seasons; the
    calendar variants and the `_exog` peers only on the calendar series, gatecast_cov only
    on a series with covariates."""
    calendar = split.name in CALENDAR_SERIES
    skip = set() if calendar else {*GATECAST_VARIANTS, *EXOG_PEERS}
    if len(split.seasons) < 2:
        skip.add("snaive2")
    if not split.covariates:
        skip.add("gatecast_cov")
    return [m for m in METHODS if m not in skip]


def load_split(name: str) -> Split:
    """The benchmark split of one dataset, with its covariate columns."""
    cov = datasets.COVARIATES.get(name, datasets.Covariates())
    return make_split(name, datasets.load(name), datasets.FREQUENCIES[name], cov.past, cov.future)


def main(argv: list[str] | None = None) -> int:
    """Run (or take from the cache) every series, method and seed; write the report."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    if args.quick:
        args.series, args.seeds = args.series[:1], args.seeds[:1]
    torch.set_num_threads(1)
    work = args.out or Path(tempfile.mkdtemp(prefix="gatecast-peers-"))
    cache: Path = work / "cache" if args.quick else args.cache  # quick runs stay out of it
    results: Path = work if args.quick else args.results
    cmd, host = c.command("bench.peers", argv), c.machine()
    print(f"work folder: {work}; cache: {cache}", flush=True)
    splits = [load_split(n) for n in args.series]
    computes_peers = not args.report_only and set(args.only or PEERS) & set(PEERS)
    if computes_peers and not args.peers_python.exists():
        print(f"bench.peers: error: no peers interpreter at {args.peers_python}", file=sys.stderr)
        return 2
    entries: list[Entry] = []
    for seed in args.seeds:  # seed-major: a whole seed is done before the next starts
        for split in splits:
            for method in methods_for(split):
                if method not in SEEDED and seed != args.seeds[0]:
                    continue
                run_seed = seed if method in SEEDED else None
                path = cache_path(cache, split.name, method, run_seed)
                entry = None if args.only and method in args.only else load_cached(path, split)
                if entry is not None:
                    entry["from_cache"] = True
                elif args.report_only or (args.only and method not in args.only):
                    continue
                else:
                    entry = compute(split, method, run_seed, args, work)
                    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
                    entry |= {
                        "series": split.name,
                        "method": method,
                        "seed": run_seed,
                        "quick": args.quick,
                        "split": split.digest(),
                        "computed_at": now,
                        "load_average": round(os.getloadavg()[0], 1),  # the CPU is shared
                    }
                    if "error" not in entry:  # failures are retried on the next run
                        path.parent.mkdir(parents=True, exist_ok=True)
                        path.write_text(json.dumps(compact(entry)))
                    entry["from_cache"] = False
                print(report.progress(split, entry), flush=True)
                entries.append(entry)
    text, data = report.render(splits, entries, cmd, host, ISSUE10_SERIES, CALENDAR_SERIES)
    results.mkdir(parents=True, exist_ok=True)
    (results / "peers.md").write_text(text)
    (results / "peers.json").write_text(json.dumps(data, indent=1))
    print(text)
    print(f"wrote {results / 'peers.md'} and {results / 'peers.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
