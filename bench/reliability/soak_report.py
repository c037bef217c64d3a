"""The soak's report: its figures with the targets, then minute by minute, worker memory,
kills, versions and request kinds, as markdown."""

import math

from bench.common import table
from bench.reliability.report import Row, load_line, markdown, mib
from bench.reliability.soak_run import Rss, Soak

RSS_LIMIT = 0.10  # a worker's RSS may grow this much from its baseline to its end


def growths(r: Soak) -> list[tuple[Rss, float]]:
    """Every series long enough to judge, with its growth after warm-up."""
    out = []
    for series in r.rss:
        g = series.growth(r.plan.warmup)
        if g is not None:
            out.append((series, g))
    return out


def rows(r: Soak) -> list[Row]:
    """The figures, with a pass criterion where the soak has a target."""
    req, work, mem, ver = "soak: requests", "soak: workers", "soak: memory", "soak: versions"
    held = sum(k.held for k in r.kills)
    p99s = [m.load.p99_ms for m in r.minutes if m.load.requests]
    judged = growths(r)
    worst = max(judged, key=lambda sg: sg[1], default=None)
    replaced = [k for k in r.kills if k.replacement]
    written = [t for t in r.trainings if t.version]
    due = r.trained_versions_due()
    served_due = [v for v in due if v in r.served]
    errors = ", ".join(r.other_errors)
    lost = r.unasked_exits()
    return [
        Row(req, "requests sent", f"{r.load.requests:,} in {r.load.seconds / 60:.1f} min"),
        Row(
            req,
            "mix",
            f"{len(r.kinds)} kinds; {r.stateful:,} sent a state an earlier answer returned, "
            f"{r.pinned:,} pinned to an older version",
        ),
        Row(
            req,
            "failed on a killed worker's own connections, from its kill on",
            f"{r.failed_killed} (connections it held: {held} over {len(r.kills)} kills)",
            "reported",
        ),
        Row(
            req,
            "failed elsewhere",
            f"{r.failed_other}" + (f" ({errors})" if errors else ""),
            "0",
            r.failed_other == 0,
        ),
        Row(req, "throughput and latency", load_line(r.load)),
        Row(
            req,
            "p99 per minute",
            f"{min(p99s):.1f} to {max(p99s):.1f} ms" if p99s else "no requests",
        ),
        Row(
            work,
            "SIGKILLed / replaced",
            f"{len(r.kills)} / {len(replaced)}"
            + (f", listed within {max(k.replaced_s for k in replaced):.2f} s" if replaced else ""),
            "every one replaced",
            len(replaced) == len(r.kills),
        ),
        Row(
            work,
            "workers that ended unasked",
            ", ".join(map(str, lost)) or "none",
            "none",
            not lost,
        ),
        Row(
            mem,
            f"largest RSS growth of a worker after {r.plan.warmup:g} s of serving, of "
            f"{len(judged)} judged",
            f"{100 * worst[1]:+.2f}% (pid {worst[0].pid})" if worst else "no series long enough",
            f"<= {100 * RSS_LIMIT:+.0f}%",
            worst is not None and worst[1] <= RSS_LIMIT,
        ),
        Row(
            ver,
            "trainings: wrote a version / failed",
            f"{len(written)} / {len(r.trainings) - len(written)}",
            "none failed",
            len(written) == len(r.trainings),
        ),
        Row(
            ver,
            "versions trained in time to be served / served",
            f"{len(due)} / {len(served_due)}",
            "every one",
            len(served_due) == len(due),
        ),
        Row(ver, "versions that answered", f"{len(r.served)} ({len(r.initial)} at the start)"),
    ]


def met(r: Soak) -> bool:
    """Whether every target was met."""
    return all(row.ok is not False for row in rows(r))


def seconds(value: float) -> str:
    """Seconds with no decimals, or n/a."""
    return f"{value:.0f}" if math.isfinite(value) else "n/a"


def per_minute(r: Soak) -> str:
    """One row per minute: requests, failures, latency, each worker's RSS at its end."""
    body = [
        (
            m.index + 1,
            m.load.requests,
            m.failed,
            f"{m.load.rps:.0f}",
            f"{m.load.p50_ms:.1f}",
            f"{m.load.p99_ms:.1f}",
            f"{m.load.max_ms:.0f}",
            ", ".join(f"{pid}: {mib(kib)}" for pid, kib in sorted(m.rss.items())),
        )
        for m in r.minutes
    ]
    head = ("minute", "requests", "failed", "req/s", "p50 ms", "p99 ms", "max ms", "RSS MiB")
    return table(head, body)


def memory(r: Soak) -> str:
    """One row per worker: its RSS after warm-up and at its end."""
    body = []
    for s in r.rss:
        base, g = s.baseline(r.plan.warmup), s.growth(r.plan.warmup)
        end = s.points[-1] if s.points else None
        ended = "SIGKILLed" if s.killed else ("serving at the end" if s.alive else "ended unasked")
        body.append(
            (
                s.pid,
                seconds(s.born_s),
                seconds(s.serving_s) if s.serving_s is not None else "never",
                seconds(end[0]) if end else "n/a",
                len(s.points),
                f"{mib(base[1])} (at {base[0]:.0f} s)" if base else "n/a",
                mib(end[1]) if end else "n/a",
                f"{100 * g:+.2f}%" if g is not None else "not judged (too short)",
                ended,
            )
        )
    head = ("worker", "listed at s", "serving at s", "last reading at s", "readings")
    return table((*head, "after warm-up MiB", "end MiB", "growth", "end"), body)


def kills(r: Soak) -> str:
    """One row per SIGKILL."""
    body = [
        (
            seconds(k.at_s),
            k.pid,
            k.held,
            k.in_flight,
            k.failed,
            k.replacement or "none",
            f"{k.replaced_s:.2f}",
        )
        for k in r.kills
    ]
    head = ("at s", "worker", "connections held", "in flight", "failed on them", "replacement")
    return table((*head, "listed after s"), body)


def versions(r: Soak) -> str:
    """Every version that was in the folder, trained or answered, oldest first."""
    trained = {t.version: t for t in r.trainings if t.version}
    body = []
    for v in sorted(set(r.initial) | set(trained) | set(r.served)):
        t = trained.get(v)
        origin = (
            f"trained at {t.started_s:.0f} s in {t.seconds:.0f} s"
            if t
            else ("at the start" if v in r.initial else "unknown")
        )
        served = r.served.get(v)
        body.append(
            (
                v,
                origin,
                seconds(t.published_s) if t else "",
                served.answers if served else 0,
                seconds(served.first_s) if served else "never",
            )
        )
    failed = [
        f"- training at {t.started_s:.0f} s failed: {t.error}" for t in r.trainings if t.error
    ]
    head = ("version", "origin", "published at s", "answers", "first answer at s")
    return "\n".join([table(head, body), *failed])


def kinds(r: Soak) -> str:
    """Requests and failures per request kind."""
    body = [(name, n, f) for name, (n, f) in r.kinds.items()]
    return table(("kind", "requests", "failed"), body)


def render(r: Soak) -> str:
    """The whole report (after the caller's header)."""
    return (
        "\n\n".join(
            [
                markdown(rows(r)).rstrip(),
                "## Minute by minute\n\n" + per_minute(r),
                "## Worker memory (RSS, one series per worker)\n\n" + memory(r),
                "## Workers SIGKILLed\n\n"
                + (kills(r) if r.kills else "none (the run was shorter than --kill-every)"),
                "## Versions\n\n" + versions(r),
                "## Request kinds\n\n" + kinds(r),
            ]
        )
        + "\n"
    )
