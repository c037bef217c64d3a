"""Forecast latency with time and covariates next to the same model without them, under
real gunicorn (2 workers).

    python -m bench.serve.covariates                 # writes bench/results/serve-covariates.md
    python -m bench.serve.covariates --requests 300  # a quicker, noisier run

Two models of one shape (window, units, layers) are trained on one synthetic daily series
with a price plan (future covariate) and a temperature (past covariate): `plain` reads the
values alone (--no-calendar); `covariates` reads calendar inputs (day of week and of year),
the temperature and the price. Cases, one 64-step sequence per request, the model's trained
horizon: `plain` without times; `plain` with `timestamps` (dates out, nothing more in);
`covariates` with the same `timestamps` and covariates every request (its timeline and
calendar rows are cached); `covariates` with other timestamps every request (each parsed
and its calendar computed anew), and `plain` with such timestamps, which splits that cost
between times and covariates. Each at concurrency 1 and 8, internals none and all.
Target: every `covariates` case within 1.3x of `plain` (p50, concurrency 1).

The fixed-body cases use ApacheBench when it is installed; the varying-body case, and its
`plain` baseline, use one Python client, so the pair compares like with like.
"""

import argparse
import datetime as dt
import json
import math
import random
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.common import REPO, command, flags, machine, run_train, table, train_command
from bench.serve.load import Result, Runner, have_ab, run_ab, run_python, run_python_bodies
from bench.server import gunicorn
from model.export import list_checkpoints, load

DAY0 = dt.date(2020, 1, 1)
TARGET = 1.3


@dataclass(frozen=True)
class Row:
    """One case's median run, and its p50 over the `plain` case of the same client."""

    internals: str
    concurrency: int
    model: str
    inputs: str
    result: Result
    ratio: float

    def cells(self) -> tuple[object, ...]:
        """The report's cells."""
        r = self.result
        return (
            self.internals,
            self.concurrency,
            self.model,
            self.inputs,
            r.rps,
            r.p50_ms,
            r.p99_ms,
            self.ratio,
            r.failed,
        )


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="python -m bench.serve.covariates",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model-dir", type=Path, help="where to train (default: a temporary folder)")
    p.add_argument("--window", type=int, default=64, help="sequence length and training window")
    p.add_argument("--hidden", type=int, default=64, help="LSTM units per layer")
    p.add_argument("--layers", type=int, default=2, help="LSTM layers")
    p.add_argument("--requests", type=int, default=1000, help="requests per case and run")
    p.add_argument("--warmup", type=int, default=50, help="unmeasured requests before each case")
    p.add_argument("--repeat", type=int, default=3, help="runs per case; the median is shown")
    p.add_argument(
        "--output",
        type=Path,
        default=REPO / "bench" / "results" / "serve-covariates.md",
        help="report to write",
    )
    p.add_argument("--dry-run", action="store_true", help="tiny models and 100 requests per case")
    return p


def synthetic_csv(path: Path, points: int = 1500, seed: int = 0) -> Path:
    """Daily sales driven by a price plan and a temperature, with a weekly cycle."""
    rng = random.Random(seed)
    lines = ["date,value,price,temp"]
    for k in range(points):
        day = DAY0 + dt.timedelta(days=k)
        price = 8.0 if (k // 14) % 3 == 0 else 10.0
        temp = 12 + 9 * math.sin(2 * math.pi * k / 365.25) + rng.gauss(0, 1)
        value = 100 + 15 * (10 - price) + 0.8 * temp + 8 * (day.weekday() >= 5) + rng.gauss(0, 2)
        lines.append(f"{day.isoformat()},{value:.3f},{price},{temp:.3f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def train_models(folder: Path, args: argparse.Namespace) -> None:
    """`plain` and `covariates`, one shape, in subprocesses (no Lightning here)."""
    folder.mkdir(parents=True, exist_ok=True)
    csv = synthetic_csv(folder / "_sales.csv")
    steps = 30 if args.dry_run else 300
    shape = flags(window=args.window, hidden=args.hidden, layers=args.layers, max_steps=steps)
    for name, extra in (
        ("plain", ["--no-calendar"]),
        ("covariates", ["--past-covariates", "temp", "--future-covariates", "price"]),
    ):
        print(f"training {name!r}", file=sys.stderr)
        run_train(train_command(csv, name, folder, [*shape, *extra]), timeout=3600)


def body(model: str, start: int, window: int, horizon: int, internals: str, **more: bool) -> bytes:
    """One request: `window` values from day `start`; times and covariates as asked."""
    days = [DAY0 + dt.timedelta(days=start + k) for k in range(window + horizon)]
    fields: dict[str, object] = {
        "model": model,
        "sequence": [round(100 + 10 * math.sin(k / 3), 3) for k in range(window)],
        "horizon": horizon,
        "internals": internals,
    }
    if more.get("times"):
        fields["timestamps"] = [d.isoformat() for d in days[:window]]
    if more.get("covariates"):
        fields["covariates"] = {
            "temp": [round(12 + 9 * math.sin(k / 58), 3) for k in range(window)],
            "price": [8.0 if (k // 14) % 3 == 0 else 10.0 for k in range(window + horizon)],
        }
    return json.dumps(fields).encode()


def median_run(run: Callable[[int], Result], args: argparse.Namespace) -> Result:
    """The median (by p50) of --repeat runs, after a warm-up."""
    run(args.warmup)
    runs = sorted((run(args.requests) for _ in range(args.repeat)), key=lambda r: r.p50_ms)
    return runs[len(runs) // 2]


def measure(
    url: str, internals: str, c: int, horizon: int, fixed: Runner, args: argparse.Namespace
) -> list[Row]:
    """Every case at one internals mode and concurrency."""

    def fixed_case(model: str, **more: bool) -> Result:
        payload = body(model, 100, args.window, horizon, internals, **more)
        return median_run(lambda n: fixed(url, n, c, payload), args)

    def varying(model: str, **more: bool) -> Result:
        bodies = [body(model, s, args.window, horizon, internals, **more) for s in range(1000)]
        return median_run(lambda n: run_python_bodies(url, n, c, bodies), args)

    plain = fixed_case("plain")
    plain_py = varying("plain")
    cases = [
        ("plain", "none", plain, plain),
        ("plain", "timestamps", fixed_case("plain", times=True), plain),
        (
            "covariates",
            "the same timestamps and covariates every request",
            fixed_case("covariates", times=True, covariates=True),
            plain,
        ),
        ("plain", "none (Python client)", plain_py, plain_py),
        (
            "plain",
            "new timestamps every request (Python client)",
            varying("plain", times=True),
            plain_py,
        ),
        (
            "covariates",
            "new timestamps every request (Python client)",
            varying("covariates", times=True, covariates=True),
            plain_py,
        ),
    ]
    return [
        Row(internals, c, model, inputs, got, got.p50_ms / base.p50_ms)
        for model, inputs, got, base in cases
    ]


def main(argv: list[str] | None = None) -> int:
    """Train, serve, measure, report."""
    args = build_parser().parse_args(argv)
    if args.dry_run:
        args.hidden, args.layers, args.requests, args.warmup, args.repeat = 8, 1, 100, 10, 1
    fixed = run_ab if have_ab() else run_python
    with tempfile.TemporaryDirectory(prefix="gatecast-cov-bench-") as tmp:
        folder = args.model_dir or Path(tmp)
        train_models(folder, args)
        _, meta = load(list_checkpoints(folder)["covariates"][-1])
        horizon = int(meta.get("horizon") or 1)  # the trained horizon, as clients ask
        rows: list[Row] = []
        log = Path(tmp) / "gunicorn.log"
        with gunicorn(folder, log, env={"GATECAST_WORKERS": "2"}, ready_path="/readyz") as srv:
            url = f"{srv.url}/forecast"
            for internals in ("none", "all"):
                for c in (1, 8):
                    rows += measure(url, internals, c, horizon, fixed, args)
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
    write_report(args, rows, horizon, "ab" if fixed is run_ab else "Python client")
    return 0


def write_report(args: argparse.Namespace, rows: list[Row], horizon: int, tool: str) -> None:
    """bench/results/serve-covariates.md, and the table on stdout."""
    header = [
        "internals",
        "c",
        "model",
        "inputs sent",
        "req/s",
        "p50 ms",
        "p99 ms",
        "p50 / plain",
        "failed",
    ]
    verdicts = [
        f"* internals {r.internals}, {r.inputs}: {r.ratio:.2f}x plain (target <= {TARGET}x): "
        + ("met" if r.ratio <= TARGET else "**not met**")
        for r in rows
        if r.model == "covariates" and r.concurrency == 1
    ]
    text = "\n".join(
        [
            "# Forecast latency with time and covariates",
            "",
            f"`{command('bench.serve.covariates', sys.argv[1:])}`",
            "",
            f"{machine()}; {dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M} UTC; gunicorn 2 workers; "
            f"window {args.window}, {args.hidden} units x {args.layers} layers, horizon "
            f"{horizon}; fixed bodies sent with {tool}; median of {args.repeat} runs of "
            f"{args.requests} requests.",
            "",
            table(header, [r.cells() for r in rows]),
            "",
            *verdicts,
            "",
        ]
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    sys.exit(main())
