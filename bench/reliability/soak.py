"""The soak: a long mixed load while new versions arrive and workers are SIGKILLed.

    python -m bench.reliability.soak            # 30 minutes; writes bench/results/soak.md
    python -m bench.reliability.soak --quick    # the CI version: 2 minutes, prints only

The real gunicorn (`gunicorn -c gunicorn.conf.py` with its defaults, 2 workers, a short
poll) serves the realistic `airline` model, trained here and published as a few versions so
that older ones are there to pin; the load, the trainings and the kills are soak_run.py's,
the report soak_report.py's.

Targets (exit status 1 when one fails): no failed request other than those on a killed
worker's own connections at its kill; every worker's RSS grows at most 10% from its value
after --warmup seconds of serving to its end; every killed worker replaced and no other
worker lost; every training writes a version and every version trained is served.
"""

import argparse
import datetime as dt
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

from bench.checkpoints import publish
from bench.common import AIRLINE, REPO, run_train, train_command
from bench.reliability.runner import SERVED, step, train_args
from bench.reliability.soak_report import met, render
from bench.reliability.soak_run import Plan, Soak, soak
from bench.server import gunicorn
from model.export import list_checkpoints
from service.config import ServiceConfig


def build_parser() -> argparse.ArgumentParser:
    """The command line, every flag documented."""
    p = argparse.ArgumentParser(
        prog="python -m bench.reliability.soak",
        description="Mixed load for a long while, with new versions trained and workers "
        "SIGKILLed on a schedule, against the real gunicorn. Exit status 1 when a target fails.",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="the CI version: 2 minutes, a new version every 40 s, a kill every 60 s, 20 s "
        "warm-up, 1 s poll, 5 epochs; prints only, unless --out is given (flags given win)",
    )
    p.add_argument("--minutes", type=float, help="how long the load runs (default 30; quick 2)")
    p.add_argument(
        "--concurrency", type=int, default=16, help="keep-alive client connections (default 16)"
    )
    p.add_argument(
        "--train-every",
        type=float,
        help="seconds between new versions trained into the folder (default 120; quick 40)",
    )
    p.add_argument(
        "--kill-every",
        type=float,
        help="seconds between SIGKILLs of the busiest worker (default 300; quick 60)",
    )
    p.add_argument(
        "--reconnect-every",
        type=int,
        default=50,
        help="requests a client sends on one keep-alive connection before it opens a new one, "
        "so that connections spread over the workers, a replacement's included; 0: never "
        "(default 50)",
    )
    p.add_argument(
        "--rss-every",
        type=float,
        default=10.0,
        help="seconds between readings of every worker's RSS; the pinned versions are taken "
        "from /models again at each (default 10)",
    )
    p.add_argument(
        "--warmup",
        type=float,
        help="seconds a worker serves before its RSS baseline is read (default 60; quick 20)",
    )
    p.add_argument(
        "--poll", type=float, help="GATECAST_POLL_SECONDS of the service (default 5; quick 1)"
    )
    p.add_argument(
        "--epochs",
        type=int,
        help="epochs of the first version of the served model (default 20; quick 5); the "
        "others are trained with a fifth of them, at least 1, so that each takes seconds",
    )
    kept = ServiceConfig().keep_versions
    p.add_argument(
        "--versions",
        type=int,
        default=kept,
        help="versions trained before the load begins, so that older ones can be pinned and "
        "the memory baseline already holds as many versions as the service keeps "
        f"(default {kept}: GATECAST_KEEP_VERSIONS's default)",
    )
    p.add_argument(
        "--out",
        type=Path,
        help="markdown report to write (default: bench/results/soak.md; a quick run only "
        "prints unless this is given)",
    )
    p.add_argument("--log", type=Path, help="copy gunicorn's log here at the end (default: none)")
    return p


def sizes(args: argparse.Namespace) -> None:
    """Fill in the defaults that depend on --quick."""
    for name, full, small in (
        ("minutes", 30.0, 2.0),
        ("train_every", 120.0, 40.0),
        ("kill_every", 300.0, 60.0),
        ("warmup", 60.0, 20.0),
        ("poll", 5.0, 1.0),
        ("epochs", 20, 5),
    ):
        if getattr(args, name) is None:
            setattr(args, name, small if args.quick else full)


def checked(args: argparse.Namespace) -> str:
    """What is wrong with the flags, in one line ("" when nothing is)."""
    positive = ("minutes", "concurrency", "train_every", "kill_every", "rss_every", "poll")
    for name in positive:
        if not getattr(args, name) > 0:
            return f"--{name.replace('_', '-')} must be above 0"
    if args.warmup < 0 or args.reconnect_every < 0:
        return "--warmup and --reconnect-every must be 0 or more"
    if args.epochs < 1 or args.versions < 2:
        return "--epochs must be 1 or more and --versions 2 or more"
    return ""


def prepare(root: Path, epochs: int, versions: int) -> list[str]:
    """Train the served model into root and publish it again as `versions` versions in all
    (copies: older versions to pin, without a training run each); the command for more."""
    run_train(train_command(AIRLINE, SERVED, root, train_args(epochs)), timeout=900)
    first = list_checkpoints(root)[SERVED][-1]
    for _ in range(versions - 1):
        publish(first)
    return train_command(AIRLINE, SERVED, root, train_args(max(1, epochs // 5)))


def header(args: argparse.Namespace, argv: list[str]) -> str:
    """What ran where, with which plan."""
    command = " ".join(["python -m bench.reliability.soak", *argv])
    return (
        f"# Soak: mixed load, new versions and killed workers (`{command}`)\n\n"
        f"- date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}\n"
        f"- machine: {os.cpu_count()} CPUs (shared), Python {platform.python_version()}, "
        f"load average at the end {os.getloadavg()[0]:.2f}\n"
        "- server: gunicorn -c gunicorn.conf.py with its defaults (the buffering gthread "
        "worker, 4 threads), "
        f"2 workers, loopback, GATECAST_POLL_SECONDS={args.poll:g}\n"
        f"- model: {SERVED} (2 layers x 64 units, window 24): {args.versions} versions at the "
        f"start ({args.epochs} epochs, published again as each)\n"
        f"- plan: {args.minutes:g} min at concurrency {args.concurrency}; a new version every "
        f"{args.train_every:g} s, a worker SIGKILLed every {args.kill_every:g} s; a new "
        f"connection every {args.reconnect_every} requests per client; RSS read every "
        f"{args.rss_every:g} s, baseline after {args.warmup:g} s of serving\n\n"
    )


def settings(argv: list[str]) -> argparse.Namespace:
    """The flags, with the defaults that depend on --quick filled in."""
    args = build_parser().parse_args(argv)
    sizes(args)
    return args


def plan_of(args: argparse.Namespace) -> Plan:
    """The soak's plan from the flags."""
    return Plan(
        seconds=60 * args.minutes,
        concurrency=args.concurrency,
        train_every=args.train_every,
        kill_every=args.kill_every,
        rss_every=args.rss_every,
        warmup=args.warmup,
        poll=args.poll,
        reconnect_every=args.reconnect_every,
    )


def measure(args: argparse.Namespace) -> Soak:
    """Train the versions into a temporary folder, start gunicorn on it and soak it."""
    with tempfile.TemporaryDirectory(prefix="gatecast-soak-") as name:
        root, log = Path(name) / "models", Path(name) / "gunicorn.log"
        step(f"training {args.versions} versions of {SERVED}")
        train = prepare(root, args.epochs, args.versions)
        # newest: each version trained during the soak is served as it lands, unpromoted.
        env = {"GATECAST_POLL_SECONDS": f"{args.poll:g}", "GATECAST_SERVE": "newest"}
        try:
            with gunicorn(root, log, env=env, ready_path="/readyz") as srv:
                step(f"soak: {args.minutes:g} min at concurrency {args.concurrency}")
                return soak(srv, root, SERVED, train, plan_of(args))
        finally:
            if args.log is not None and log.exists():
                shutil.copyfile(log, args.log)


def main(argv: list[str] | None = None) -> int:
    """Soak the service, print the report and write it; 1 if a target fails, 2 on bad flags."""
    given = sys.argv[1:] if argv is None else argv
    args = settings(given)
    if problem := checked(args):
        print(f"python -m bench.reliability.soak: error: {problem}", file=sys.stderr)
        return 2
    result = measure(args)
    text = header(args, given) + render(result)
    print(text)
    out = args.out or (None if args.quick else REPO / "bench" / "results" / "soak.md")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return 0 if met(result) else 1


if __name__ == "__main__":
    sys.exit(main())
