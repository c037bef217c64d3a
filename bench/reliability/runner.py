"""Reliability under load and faults: real gunicorn (2 workers) on loopback, bounded runs.

    python -m bench.reliability            # the full sizes (20,000 requests, ...); writes
                                           # bench/results/reliability-load.md
    python -m bench.reliability --quick    # CI-size runs of the same scenarios

Scenarios: sustained mixed load with worker memory; a worker SIGKILLed mid-run (reuse_port
on and off, with and without a client retry); a new version trained into the served folder
during load; broken checkpoints; training SIGKILLed while the service polls; slow clients.
Exit status 1 when a pass criterion fails.
"""

import argparse
import contextlib
import datetime as dt
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

from bench.common import AIRLINE, REPO, run_train, train_command
from bench.http_client import request
from bench.reliability.faults import broken_checkpoints, drop_file_caps, write_broken
from bench.reliability.kill import in_private_netns, kill_runs, netns_usable
from bench.reliability.killed_training import killed_training
from bench.reliability.load import Kind, mixed_kinds
from bench.reliability.report import (
    Row,
    broken_rows,
    killed_rows,
    killed_training_rows,
    markdown,
    slow_rows,
    sustained_rows,
    swapped_rows,
)
from bench.reliability.slow import slow_clients
from bench.reliability.sustained import sustained
from bench.reliability.swap import swap
from bench.server import gunicorn
from model.export import list_checkpoints

SERVED = "airline"  # the realistic model: 2 layers of 64 units, window 24
KILL_AT = (0.3, 0.5, 0.7, 0.85, 0.9, 0.95, 0.97, 0.99)  # the checkpoint is written at the end


def build_parser() -> argparse.ArgumentParser:
    """The command line, every flag documented."""
    p = argparse.ArgumentParser(
        prog="python -m bench.reliability",
        description="Load and fault scenarios against the real gunicorn service.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--quick", action="store_true", help="CI sizes: fewer requests, short runs")
    p.add_argument("--requests", type=int, help="sustained run size (default 20000; quick 2000)")
    p.add_argument("--warmup", type=int, help="warm-up requests (default 2000; quick 500)")
    p.add_argument("--concurrency", type=int, default=32, help="client connections")
    p.add_argument("--threads", type=int, default=4, help="GATECAST_THREADS per worker")
    p.add_argument(
        "--kill-requests", type=int, help="requests per worker-kill run (default 3000; quick 1500)"
    )
    p.add_argument(
        "--kill-runs", type=int, help="worker-kill runs per configuration (default 10; quick 2)"
    )
    p.add_argument(
        "--poll", type=float, help="GATECAST_POLL_SECONDS for the swap (default 5; quick 1)"
    )
    p.add_argument("--epochs", type=int, help="epochs of the served model (default 20; quick 5)")
    p.add_argument(
        "--kills",
        type=int,
        help="training runs SIGKILLed at spread-out moments (default 6; quick 3), plus one "
        "killed while it writes its checkpoint",
    )
    p.add_argument("--slow-clients", type=int, default=64, help="slow clients connected at once")
    p.add_argument(
        "--slow-bytes",
        type=int,
        help="body bytes each slow client sends at 1 byte/s, within the read deadline "
        "(default 15; quick 8)",
    )
    p.add_argument(
        "--stall-bytes",
        type=int,
        default=30,
        help="body bytes each stalling client sends at 1 byte/s: more seconds than "
        "GATECAST_READ_TIMEOUT (20 s), so each gets 408",
    )
    p.add_argument(
        "--out",
        type=Path,
        help="markdown report to write (default: bench/results/reliability-load.md for a full "
        "run; a quick run only prints unless this is given)",
    )
    return p


def sizes(args: argparse.Namespace) -> None:
    """Fill in the defaults that depend on --quick."""
    quick = args.quick
    for name, full, small in (
        ("requests", 20000, 2000),
        ("warmup", 2000, 500),
        ("kill_requests", 3000, 1500),
        ("kill_runs", 10, 2),
        ("poll", 5.0, 1.0),
        ("epochs", 20, 5),
        ("kills", 6, 3),
        ("slow_bytes", 15, 8),
    ):
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)


def train_args(epochs: int) -> list[str]:
    """The served model's training flags."""
    return ["--window", "24", "--hidden", "64", "--layers", "2", "--epochs", str(epochs)]


def prepare(root: Path, epochs: int) -> None:
    """Train the realistic model and write the article cell into root."""
    run_train(train_command(AIRLINE, SERVED, root, train_args(epochs)), timeout=900)
    from scripts import article_cell

    with contextlib.redirect_stdout(sys.stderr):  # it prints the path written
        assert article_cell.main(["--model-dir", str(root)]) == 0


def serving(args: argparse.Namespace, root: Path, logs: Path) -> list[Row]:
    """Sustained load, slow clients, worker kills and the version swap."""
    rows: list[Row] = []
    env = {"GATECAST_THREADS": str(args.threads), "GATECAST_POLL_SECONDS": "5"}
    with gunicorn(root, logs / "sustained.log", env=env, ready_path="/readyz") as srv:
        kinds = mixed_kinds(request(srv.port, "GET", "/models").json()["models"])
        step("sustained load")
        rows += sustained_rows(
            sustained(srv, kinds, args.requests, args.concurrency, args.warmup), args.concurrency
        )
        for dribble, expect in ((args.slow_bytes, 200), (args.stall_bytes, 408)):
            step(f"{args.slow_clients} slow clients, {dribble} bytes at 1 byte/s")
            r = slow_clients(
                srv,
                kinds,
                SERVED,
                count=args.slow_clients,
                dribble=dribble,
                probes=400,
                probe_concurrency=8,
            )
            rows += slow_rows(r, expect)
    rows += kills(args, root, logs, env, kinds)
    # newest: the version trained under load is served as it lands, unpromoted.
    env_s = {**env, "GATECAST_POLL_SECONDS": str(args.poll), "GATECAST_SERVE": "newest"}
    with gunicorn(root, logs / "swap.log", env=env_s, ready_path="/readyz") as srv:
        step("new version under load")
        train = train_command(AIRLINE, SERVED, root, train_args(max(1, args.epochs // 5)))
        cap = 5 * args.requests  # an upper bound: the run stops once every worker switched
        rows += swapped_rows(
            swap(srv, kinds, root, train, SERVED, args.poll, cap, args.concurrency)
        )
    return rows


def kills(
    args: argparse.Namespace, root: Path, logs: Path, env: dict[str, str], kinds: list[Kind]
) -> list[Row]:
    """A worker SIGKILLed mid-run: reuse_port off (the default), on (no retry, client retry),
    on with tcp_migrate_req."""
    rows: list[Row] = []
    n, c, runs = args.kill_requests, args.concurrency, args.kill_runs
    off = {**env, "GATECAST_REUSE_PORT": "0"}
    with gunicorn(root, logs / "kill-off.log", env=off, ready_path="/readyz") as srv:
        step("worker kills, reuse_port off (default)")
        rows += killed_rows(kill_runs(srv, kinds, n, c, 0, runs), "reuse_port off (default)", True)
    on = {**env, "GATECAST_REUSE_PORT": "1"}
    with gunicorn(root, logs / "kill-on.log", env=on, ready_path="/readyz") as srv:
        step("worker kills, reuse_port on")
        rows += killed_rows(kill_runs(srv, kinds, n, c, 0, runs), "reuse_port on", False)
        step("worker kills, reuse_port on, clients retry")
        rows += killed_rows(
            kill_runs(srv, kinds, n, c, 2, runs), "reuse_port on, client retries 2 x 0.2 s", False
        )
    if netns_usable():
        step("worker kills, reuse_port on, tcp_migrate_req=1 (private netns)")
        label = "reuse_port on, net.ipv4.tcp_migrate_req=1"
        rows += killed_rows(in_private_netns(root, n, c, runs, on), label, True)
    else:
        rows.append(Row("worker SIGKILL", "tcp_migrate_req runs", "skipped: no private netns"))
    return rows


def faults(args: argparse.Namespace, root: Path, tmp: Path, logs: Path) -> list[Row]:
    """Broken checkpoints and killed training runs."""
    rows: list[Row] = []
    prefix = drop_file_caps()
    broken = Path(tempfile.mkdtemp(prefix="gatecast-broken-", dir=tmp))
    broken.chmod(0o755)
    good = list_checkpoints(root)[SERVED][-1]
    expected = write_broken(broken, good, permissions=prefix is not None)
    env = {"GATECAST_POLL_SECONDS": "1"}
    step("broken checkpoints" + ("" if prefix is not None else " (no setpriv: no permissions)"))
    with gunicorn(broken, logs / "broken.log", env=env, prefix=prefix or ()) as srv:
        rows += broken_rows(broken_checkpoints(srv, broken, good, expected))
    if prefix is None:
        rows.append(Row("broken checkpoints", "permission cases", "skipped: setpriv unusable"))
    step("training SIGKILLed")
    polled = tmp / "polled"
    shutil.copytree(root, polled, ignore=shutil.ignore_patterns("_*"))
    env = {"GATECAST_POLL_SECONDS": "0.5"}
    fractions = spread(args.kills)
    small = ["--window", "12", "--hidden", "8", "--layers", "1", "--epochs", "10"]
    train = train_command(AIRLINE, "killed", polled, [*small, "--patience", "100"])
    with gunicorn(polled, logs / "killed.log", env=env, ready_path="/readyz") as srv:
        rows += killed_training_rows(killed_training(srv, polled, train, "killed", fractions, 0.5))
    return rows


def spread(kills: int) -> list[float]:
    """Moments of a training run to kill it at, as fractions of a full run: early to the end."""
    if kills <= 1:
        return list(KILL_AT[-kills:]) if kills else []
    last = len(KILL_AT) - 1
    return [KILL_AT[round(i * last / (kills - 1))] for i in range(kills)]


def step(what: str) -> None:
    """Progress on stderr."""
    print(f"[{dt.datetime.now().strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


def header(args: argparse.Namespace) -> str:
    """What ran where."""
    load = os.getloadavg()[0]
    command = "python -m bench.reliability" + (" --quick" if args.quick else "")
    return (
        f"# Reliability: load and faults ({command})"
        f"\n\n- date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}\n"
        f"- machine: {os.cpu_count()} CPUs (shared), Python {platform.python_version()}, "
        f"load average at the end {load:.2f}\n"
        "- server: gunicorn, the buffering gthread worker, "
        f"2 workers x {args.threads} threads, loopback\n"
        f"- models: {SERVED} (2 layers x 64 units, window 24, {args.epochs} epochs on the "
        "airline series) and article-cell (1 unit)\n"
        f"- sizes: {args.requests} sustained requests after {args.warmup} warm-up, "
        f"concurrency {args.concurrency}; {args.kill_runs} kill runs of {args.kill_requests} "
        f"requests per configuration; swap poll "
        f"{args.poll:g} s; {args.kills} + 1 training kills\n\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Run every scenario, print the table, write the report; 1 if a criterion fails."""
    args = build_parser().parse_args(argv)
    sizes(args)
    with tempfile.TemporaryDirectory(prefix="gatecast-reliability-") as name:
        tmp = Path(name)
        tmp.chmod(0o755)  # the broken-checkpoint server runs without root's file override
        root, logs = tmp / "models", tmp / "logs"
        logs.mkdir()
        step(f"training {SERVED} ({args.epochs} epochs) and the article cell")
        prepare(root, args.epochs)
        rows = serving(args, root, logs) + faults(args, root, tmp, logs)
    text = header(args) + markdown(rows)
    print(text)
    out = args.out or (None if args.quick else REPO / "bench" / "results" / "reliability-load.md")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return 1 if any(r.ok is False for r in rows) else 0
