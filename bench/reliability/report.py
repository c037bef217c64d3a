"""The figures table of `python -m bench.reliability`: one row per figure, with its pass
criterion."""

from dataclasses import dataclass

from bench.reliability.faults import Broken
from bench.reliability.kill import Killed
from bench.reliability.killed_training import KilledTraining
from bench.reliability.load import Figures
from bench.reliability.slow import Slowed
from bench.reliability.sustained import Sustained
from bench.reliability.swap import Swapped


@dataclass(frozen=True)
class Row:
    """One figure: where it comes from, its value, what it must be, and whether it is."""

    scenario: str
    figure: str
    value: str
    criterion: str = ""
    ok: bool | None = None  # None: reported, not judged


def mib(kib: int) -> str:
    """KiB as MiB with one decimal."""
    return f"{kib / 1024:.1f}"


def load_line(f: Figures) -> str:
    """Rate and latency of a run."""
    return f"{f.rps:.0f} req/s, p50 {f.p50_ms:.1f} ms, p99 {f.p99_ms:.1f} ms, max {f.max_ms:.0f} ms"


def sustained_rows(r: Sustained, concurrency: int) -> list[Row]:
    """Sustained mixed load."""
    s = f"sustained load (c={concurrency}, {r.kinds} request types)"
    mem = "; ".join(
        f"pid {p}: {mib(r.rss_warm_kib[p])} -> {mib(r.rss_after_kib[p])} MiB RSS "
        f"({mib(r.pss_warm_kib[p])} -> {mib(r.pss_after_kib[p])} PSS)"
        for p in r.rss_warm_kib
    )
    return [
        Row(
            s,
            "requests / errors",
            f"{r.load.requests} / {r.load.errors}",
            "0 errors",
            r.load.errors == 0,
        ),
        Row(s, "throughput and latency", load_line(r.load)),
        Row(s, f"worker memory after {r.warmup} warm-up requests -> after the run", mem),
        Row(
            s,
            "largest RSS growth of a worker",
            f"{100 * r.growth:+.2f}%",
            "<= +10%",
            r.growth <= 0.10,
        ),
        Row(
            s,
            "workers unchanged (none died)",
            str(r.workers_unchanged),
            "True",
            r.workers_unchanged,
        ),
    ]


def killed_rows(runs: list[Killed], label: str, strict: bool) -> list[Row]:
    """Workers SIGKILLed mid-run, one row set per configuration (several runs each).

    strict: failed requests must stay within the killed worker's connections in every run;
    otherwise they must only stay on its connections (reconnects may be reset too).
    """
    s = f"worker SIGKILL: {label}"
    per_run = ", ".join(f"{r.failed}/{r.held}" for r in runs)
    over = sum(r.failed > r.held for r in runs)
    retried = runs[0].retries if runs else 0
    rows = [
        Row(s, "requests / runs", f"{sum(r.load.requests for r in runs)} / {len(runs)}"),
        Row(
            s,
            "failed / connections held by the killed worker, per run",
            per_run,
            "failed <= held in every run" if strict else "reported",
            over == 0 if strict else None,
        ),
        Row(
            s,
            "requests in flight on the killed worker at the kill, per run",
            ", ".join(str(r.in_flight) for r in runs),
        ),
        Row(s, "runs with failed > held (reconnects reset by the dying socket)", str(over)),
        Row(
            s,
            "failed on the surviving worker's connections",
            str(sum(r.outside for r in runs)),
            "0",
            all(r.outside == 0 for r in runs),
        ),
        Row(
            s,
            "client connections open at the kill / mapped to a worker",
            ", ".join(f"{r.connections}/{r.mapped}" for r in runs),
        ),
        Row(s, "first errors", ", ".join(sorted({e for r in runs for e in r.errors})) or "none"),
        Row(
            s,
            "replacement worker listed after (s)",
            ", ".join(f"{r.replaced_s:.2f}" for r in runs),
            "a new pid each time",
            all(r.replacement for r in runs),
        ),
        Row(
            s,
            "200s after the kill, per run",
            ", ".join(str(r.ok_after) for r in runs),
            "> 0",
            all(r.ok_after > 0 for r in runs),
        ),
        Row(s, "throughput and latency (last run)", load_line(runs[-1].load) if runs else ""),
    ]
    if retried:
        total = sum(r.failed for r in runs)
        rows.append(Row(s, "failed after retrying", str(total), "0", total == 0))
    return rows


def swapped_rows(r: Swapped) -> list[Row]:
    """A new version trained during load."""
    s = f"new version under load (poll {r.poll_seconds:g} s)"
    delays = ", ".join(
        f"pid {p}: {'never' if d is None else f'{d:.2f} s'}" for p, d in r.per_worker_s.items()
    )
    limit = r.poll_seconds + 2.0
    return [
        Row(
            s,
            "requests / failed",
            f"{r.load.requests} / {r.load.errors}",
            "0 failed",
            r.load.errors == 0,
        ),
        Row(s, "training run (python -m scripts.train)", f"{r.train_s:.1f} s"),
        Row(
            s,
            "rename -> first response with the new version, per worker",
            delays,
            f"<= poll + 2 s load allowance = {limit:g} s",
            r.slowest_s <= limit,
        ),
        Row(
            s,
            "client connections per worker",
            str(r.owners),
            "every worker >= 1",
            all(r.owners.values()),
        ),
        Row(s, "throughput and latency", load_line(r.load)),
    ]


def broken_rows(r: Broken) -> list[Row]:
    """Broken checkpoints in the model folder."""
    s = "broken checkpoints"
    rows = []
    for name, phrase in r.expected.items():
        reason = r.listed.get(name, "")
        rows.append(
            Row(
                s,
                f"{name} on /models",
                reason[:90] or "not listed",
                f"failed, reason has {phrase!r}",
                phrase in reason,
            )
        )
    logged = sum(name in r.logged for name in r.expected)
    before = {status for status, _ in r.ready_before}
    after = {status for status, _ in r.ready_after}
    first = r.ready_before[0][1] if r.ready_before else {}
    reason = str(first.get("error", {}).get("message", first)) if isinstance(first, dict) else ""
    ok_good = set(r.served) == {r.good} and sum(r.served.values()) == r.asked
    return [
        *rows,
        Row(
            s,
            "temporary file / unexpected names listed",
            ", ".join(r.unexpected) or "none",
            "none",
            not r.unexpected,
        ),
        Row(
            s,
            "broken models in the JSON log (level ERROR)",
            f"{logged} of {len(r.expected)}",
            "all",
            logged == len(r.expected),
        ),
        Row(
            s,
            "/readyz with only broken models",
            f"{sorted(before)} {reason[:160]}",
            "503",
            before == {503},
        ),
        Row(
            s,
            "/readyz once a good model is published",
            f"{sorted(after)} after {r.ready_after_s:.1f} s",
            "200",
            after == {200},
        ),
        Row(
            s,
            "good model with a newer truncated version: 200s / asked",
            f"{sum(r.served.values())} / {r.asked}, versions {sorted(r.served)}",
            "all 200, the older version",
            ok_good,
        ),
    ]


def killed_training_rows(r: KilledTraining) -> list[Row]:
    """Training runs SIGKILLed while the service polls."""
    s = "training SIGKILLed"
    ok_status = all(st in ("loaded", "not_kept") for st in r.statuses)
    return [
        Row(s, "full run / killed at (s)", f"{r.full_run_s:.1f} / {r.kills_at_s}"),
        Row(s, "outcomes", ", ".join(r.outcomes)),
        Row(
            s,
            "/models polls during the kills / failures seen",
            f"{r.polls} / {len(r.failures_seen)}",
            "0 failures",
            not r.failures_seen,
        ),
        Row(
            s,
            "versions listed / whole files that load",
            f"{len(r.listed)} / {r.loadable}",
            "equal, none failed",
            ok_status and r.loadable == len(r.listed),
        ),
        Row(s, "temporary files left by killed runs (ignored)", str(r.temp_left)),
    ]


def slow_rows(r: Slowed, expect: int) -> list[Row]:
    """Slow clients: each should end with `expect` (200 within the read deadline, 408 past it)."""
    s = f"slow clients: {r.slow_clients} sending 1 byte/s for {r.dribble_s:.0f} s"
    worst = max(r.healthz_ms, default=float("inf"))
    return [
        Row(s, "slow connections per worker", str(r.held)),
        Row(
            s,
            "slow clients' answers",
            ", ".join(f"{n} x {status or 'none'}" for status, n in sorted(r.statuses.items())),
            f"all {expect}",
            r.statuses == {expect: r.slow_clients},
        ),
        Row(
            s,
            "/healthz while they send (one at a time)",
            f"{len(r.healthz_ms)} probes, max {worst:.1f} ms",
            "< 1000 ms",
            bool(r.healthz_ms) and worst < 1000,
        ),
        Row(s, "other clients before", load_line(r.baseline)),
        Row(
            s,
            "other clients during",
            f"{r.during.requests} sent, {r.during.errors} failed; {load_line(r.during)}",
            "0 failed, done before the slow ones",
            r.during.errors == 0 and r.probes_first,
        ),
        Row(s, "other clients after", load_line(r.after)),
    ]


def markdown(rows: list[Row]) -> str:
    """The rows as a markdown table."""
    out = ["| scenario | figure | value | criterion | result |", "|---|---|---|---|---|"]
    for r in rows:
        verdict = "" if r.ok is None else ("PASS" if r.ok else "FAIL")
        value = r.value.replace("|", "/")
        out.append(f"| {r.scenario} | {r.figure} | {value} | {r.criterion} | {verdict} |")
    return "\n".join(out) + "\n"
