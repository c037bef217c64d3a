"""The peer benchmark's report: per-series tables, gatecast's history and interval table, and
the issue's targets, in markdown and JSON."""

import math
import statistics
from functools import partial
from typing import Any

import numpy as np

from bench.common import table
from bench.peers.protocol import (
    CHECK_ORIGINS,
    CHECK_RTOL,
    LEVELS,
    MAX_ORIGINS,
    Split,
    coverage,
    scores,
)

Entry = dict[str, Any]
LABELS = {
    "gatecast": "gatecast (default recipe)",
    "gatecast_nocal": "gatecast, no calendar (--no-calendar)",
    "gatecast_cal": "gatecast, calendar features",
    "gatecast_cov": "gatecast, calendar + covariates",
    "nf_lstm": "NeuralForecast LSTM",
    "darts_lstm": "Darts RNNModel LSTM",
    "nf_lstm_exog": "NeuralForecast LSTM, calendar + covariates",
    "darts_lstm_exog": "Darts RNNModel LSTM, calendar + future covariates",
    "autoarima": "statsforecast AutoARIMA",
    "autoets": "statsforecast AutoETS",
    "naive": "naive",
    "snaive": "seasonal naive",
    "snaive2": "seasonal naive (2nd season)",
}
LSTM_PEERS = ("nf_lstm", "darts_lstm")
EXOG_PEERS = ("nf_lstm_exog", "darts_lstm_exog")


def run_scores(split: Split, entry: Entry) -> dict[str, float]:
    """Scores of one run, plus gatecast's last-window score and interval coverage."""
    out = scores(split, np.asarray(entry["onestep"]), np.asarray(entry["hstep"]))
    out["seconds"] = float(entry["seconds"])
    out["cpu_seconds"] = float(entry.get("cpu_seconds", math.nan))
    if "onestep_window" in entry:
        last = scores(split, np.asarray(entry["onestep_window"]), np.asarray(entry["hstep_window"]))
        out["mase1_window"], out["maseh_window"] = last["mase1"], last["maseh"]
        out["history_ratio"] = out["mase1"] / last["mase1"]
        for level in LEVELS:
            for key, suffix in (("intervals", ""), ("intervals_window", "_window")):
                band = entry[key][str(level)]
                out[f"cover{round(level * 100)}{suffix}"] = coverage(
                    split, np.asarray(band["lower"]), np.asarray(band["upper"])
                )
    return out


def progress(split: Split, entry: Entry) -> str:
    """One line per finished run."""
    seed = "" if entry.get("seed") is None else f" seed {entry['seed']}"
    head = f"{split.name} {entry.get('method')}{seed}"
    if "error" in entry:
        return f"{head}: FAILED {entry['error']}"
    s = run_scores(split, entry)
    where = "cache" if entry.get("from_cache") else "run"
    return (
        f"{head}: one-step MASE {s['mase1']:.3f}, H-step MASE {s['maseh']:.3f}, "
        f"train {s['seconds']:.1f} s ({where})"
    )


def spread(values: list[float]) -> str:
    """mean, and min-max when there is more than one value."""
    if not values:
        return "n/a"
    mean = statistics.mean(values)
    if len(values) == 1:
        return f"{mean:.3f}"
    return f"{mean:.3f} ({min(values):.3f}-{max(values):.3f})"


def mean(values: list[float]) -> float:
    """The mean, nan when empty."""
    return statistics.mean(values) if values else math.nan


class Summary:
    """Scores per (series, method) over the runs that succeeded."""

    def __init__(self, splits: list[Split], entries: list[Entry]) -> None:
        """Score every successful entry."""
        self.splits = {s.name: s for s in splits}
        self.runs: dict[tuple[str, str], list[dict[str, float]]] = {}
        self.entries: dict[tuple[str, str], list[Entry]] = {}
        for e in entries:
            key = (e["series"], e["method"])
            self.entries.setdefault(key, []).append(e)
            if "error" not in e:
                self.runs.setdefault(key, []).append(run_scores(self.splits[e["series"]], e))

    def values(self, series: str, method: str, metric: str) -> list[float]:
        """One metric over the runs (seeds) of one method on one series."""
        return [r[metric] for r in self.runs.get((series, method), []) if metric in r]

    def mean(self, series: str, method: str, metric: str) -> float:
        """The seed mean of one metric."""
        return mean(self.values(series, method, metric))

    def better_lstm(self, series: str) -> str | None:
        """The LSTM peer with the lower mean one-step MASE on this series."""
        have = [(self.mean(series, m, "mase1"), m) for m in LSTM_PEERS]
        have = [(v, m) for v, m in have if math.isfinite(v)]
        return min(have)[1] if have else None


def series_table(summary: Summary, split: Split, methods: list[str]) -> str:
    """One series: every method's scores over its seeds, and where the result came from."""
    header = [
        "method",
        "one-step MASE",
        "H-step MASE",
        "one-step sMAPE %",
        "train s",
        "train CPU s",
        "runs",
        "computed (UTC)",
    ]
    rows: list[list[object]] = []
    for m in methods:
        entries = summary.entries.get((split.name, m), [])
        if not entries:
            continue
        failed = [e for e in entries if "error" in e]
        ok = [e for e in entries if "error" not in e]
        cached = sum(bool(e.get("from_cache")) for e in ok)
        stamps = sorted(str(e.get("computed_at", "?"))[:16] for e in ok)
        when = f"{stamps[0]}..{stamps[-1]}" if len(set(stamps)) > 1 else (stamps or ["-"])[0]
        runs = f"{len(ok)} ({cached} cached)" + (f", {len(failed)} failed" if failed else "")
        cells = [spread(summary.values(split.name, m, k)) for k in ("mase1", "maseh", "smape1")]
        times = [spread(summary.values(split.name, m, k)) for k in ("seconds", "cpu_seconds")]
        rows.append([LABELS[m], *cells, *times, runs, when])
        for e in failed[:1]:
            rows.append([f"{LABELS[m]}: failed", str(e["error"])[:200], "", "", "", "", "", ""])
    return table(header, rows)


def gatecast_table(summary: Summary, splits: list[Split]) -> str:
    """History length (whole vs last window) and interval coverage of gatecast, per series."""
    header = [
        "series",
        "one-step MASE whole history",
        "last window",
        "ratio (target <= 1.02)",
        "H-step MASE whole",
        "H-step last window",
        "80% coverage",
        "95% coverage",
        "80% coverage, last window",
        "95% coverage, last window",
    ]
    rows = []
    for s in splits:
        keys = ["mase1", "mase1_window", "history_ratio", "maseh", "maseh_window"]
        keys += ["cover80", "cover95", "cover80_window", "cover95_window"]
        rows.append([s.name, *(spread(summary.values(s.name, "gatecast", k)) for k in keys)])
    return table(header, rows)


def verdict(ours: float, theirs: float, within: float = 0.0) -> str:
    """yes / within x% / no, by how much."""
    if not (math.isfinite(ours) and math.isfinite(theirs)):
        return "n/a"
    if ours <= theirs:
        return "yes"
    worse = 100 * (ours / theirs - 1)
    return f"within ({worse:.1f}% worse)" if worse <= within else f"**no** ({worse:.1f}% worse)"


def finite(*values: float) -> bool:
    """Whether every value is a number (a method missing from the runs gives nan)."""
    return all(math.isfinite(v) for v in values)


def targets(summary: Summary, splits: list[Split]) -> tuple[str, dict[str, Any]]:
    """The issue's targets, per series and counted over the series measured, from seed means."""
    header = [
        "series",
        "better LSTM peer (1-step)",
        "1-step vs it (<=, 5%)",
        "1-step vs AutoARIMA",
        "H-step vs s-naive",
        "H-step vs better LSTM (H-step)",
        "train CPU s vs Darts (<= 2x)",
        "vs NF (>= 5x below)",
        "coverage 80/95 within 5 pts",
        "history ratio <= 1.02",
    ]
    rows = []
    keys = ("lstm", "lstm_within", "arima", "snaive", "hlstm", "darts", "nf", "cover", "history")
    counts = {k: [0, 0] for k in keys}  # [met, measured]

    def count(key: str, measured: bool, met: bool) -> None:
        """Add one series to a target's tally when it could be measured."""
        counts[key][0] += measured and met
        counts[key][1] += measured

    for s in splits:
        m = partial(summary.mean, s.name)
        best = summary.better_lstm(s.name)
        g1, gh, gt = m("gatecast", "mase1"), m("gatecast", "maseh"), m("gatecast", "cpu_seconds")
        b1 = m(best, "mase1") if best else math.nan
        peers_h = [v for v in (m(p, "maseh") for p in LSTM_PEERS) if math.isfinite(v)]
        bh = min(peers_h) if len(peers_h) == len(LSTM_PEERS) else math.nan
        naive_h = [m("snaive", "maseh")] + ([m("snaive2", "maseh")] if len(s.seasons) > 1 else [])
        snaive = min(naive_h)
        arima = m("autoarima", "mase1")
        darts, nf = m("darts_lstm", "cpu_seconds"), m("nf_lstm", "cpu_seconds")
        covers = [m("gatecast", f"cover{round(lv * 100)}") for lv in LEVELS]
        cover_ok = all(abs(cv - lv) <= 0.05 for cv, lv in zip(covers, LEVELS, strict=True))
        ratio = m("gatecast", "history_ratio")
        both = best is not None and len(summary.values(s.name, "nf_lstm", "mase1")) > 0
        both = both and len(summary.values(s.name, "darts_lstm", "mase1")) > 0
        count("lstm", both and finite(g1, b1), g1 <= b1)
        count("lstm_within", both and finite(g1, b1), g1 <= 1.05 * b1)
        count("arima", finite(g1, arima), g1 <= arima)
        count("snaive", finite(gh, snaive), gh < snaive)
        count("hlstm", finite(gh, bh), gh <= bh)
        count("darts", finite(gt, darts), gt <= 2 * darts)
        count("nf", finite(gt, nf), nf >= 5 * gt)
        count("cover", finite(*covers), cover_ok)
        count("history", finite(ratio), ratio <= 1.02)
        cover = "n/a"
        if finite(*covers):
            cover = "/".join(f"{100 * cv:.1f}" for cv in covers) + (
                " yes" if cover_ok else " **no**"
            )
        rows.append(
            [
                s.name,
                LABELS[best] if both and best else "n/a (a peer is missing)",
                verdict(g1, b1, 5.0) if both else "n/a",
                verdict(g1, arima),
                verdict(gh, snaive) if gh != snaive else "**no** (equal)",
                verdict(gh, bh),
                f"{gt / darts:.2f}x" if finite(gt, darts) and darts > 0 else "n/a",
                f"{nf / gt:.1f}x below" if finite(gt, nf) and gt > 0 else "n/a",
                cover,
                f"{ratio:.3f}" if finite(ratio) else "n/a",
            ]
        )

    def of(key: str) -> str:
        """met/measured, and how many series are not measured yet."""
        met, measured = counts[key]
        missing = len(splits) - measured
        return f"{met}/{measured}" + (f" ({missing} series not measured yet)" if missing else "")

    lines = [
        f"* one-step MASE at or below the better LSTM peer: {of('lstm')} (target: at least 6 "
        f"of 8, the rest within 5%; within 5% or better: {of('lstm_within')})",
        f"* one-step MASE at or below AutoARIMA: {of('arima')} (target: at least half)",
        f"* H-step MASE below seasonal naive: {of('snaive')} (target: all); at or below the "
        f"better LSTM peer's H-step MASE: {of('hlstm')} (target: at least 6 of 8)",
        f"* training CPU time at most 2x Darts': {of('darts')}; at least 5x below "
        f"NeuralForecast's: {of('nf')} (target: all, one thread)",
        f"* 80% and 95% coverage within 5 points: {of('cover')} (target: all)",
        f"* history ratio (whole / last window) <= 1.02: {of('history')} (target: all)",
    ]
    data = {k: {"met": v[0], "measured": v[1]} for k, v in counts.items()}
    return table(header, rows) + "\n\n" + "\n".join(lines), {"counts": data, "series": len(splits)}


def calendar_targets(summary: Summary, splits: list[Split]) -> tuple[str, dict[str, Any]]:
    """Issue 11's targets on the calendar series: calendar features lower gatecast's one-step
    and H-step MASE, and gatecast with every input beats both LSTM peers given the same."""
    header = [
        "series",
        "1-step MASE: no calendar / calendar / + covariates",
        "H-step MASE: no calendar / calendar / + covariates",
        "NF LSTM exog 1-step / H-step",
        "Darts LSTM exog 1-step / H-step",
        "calendar lowers 1-step",
        "calendar lowers H-step",
        "gatecast vs both peers, 1-step",
        "gatecast vs both peers, H-step",
    ]
    rows = []
    keys = ("cal1", "calh", "peers1", "peersh")
    counts = {k: [0, 0] for k in keys}  # [met, measured]

    def count(key: str, ours: float, theirs: float) -> None:
        """Add one series to a target's tally when both sides were measured."""
        if finite(ours, theirs):
            counts[key][0] += ours < theirs
            counts[key][1] += 1

    def cells(method: str, metric: str) -> str:
        """The seed mean of one metric, n/a when the method did not run."""
        value = summary.mean(split.name, method, metric)
        return f"{value:.3f}" if math.isfinite(value) else "n/a"

    for split in splits:
        m = partial(summary.mean, split.name)
        ours = "gatecast_cov" if split.covariates else "gatecast_cal"
        nocal1, nocalh = m("gatecast_nocal", "mase1"), m("gatecast_nocal", "maseh")
        cal1, calh = m("gatecast_cal", "mase1"), m("gatecast_cal", "maseh")
        best1 = min((m(p, "mase1") for p in EXOG_PEERS), default=math.nan)
        besth = min((m(p, "maseh") for p in EXOG_PEERS), default=math.nan)
        both = all(math.isfinite(m(p, "mase1")) for p in EXOG_PEERS)
        best1, besth = (best1, besth) if both else (math.nan, math.nan)
        count("cal1", cal1, nocal1)
        count("calh", calh, nocalh)
        count("peers1", m(ours, "mase1"), best1)
        count("peersh", m(ours, "maseh"), besth)
        variants = ("gatecast_nocal", "gatecast_cal", "gatecast_cov")
        rows.append(
            [
                split.name,
                " / ".join(cells(v, "mase1") for v in variants),
                " / ".join(cells(v, "maseh") for v in variants),
                *(f"{cells(p, 'mase1')} / {cells(p, 'maseh')}" for p in EXOG_PEERS),
                strict_verdict(cal1, nocal1),
                strict_verdict(calh, nocalh),
                strict_verdict(m(ours, "mase1"), best1),
                strict_verdict(m(ours, "maseh"), besth),
            ]
        )

    def of(key: str) -> str:
        """met/measured."""
        return f"{counts[key][0]}/{counts[key][1]} of {len(splits)}"

    lines = [
        f"* calendar features lower gatecast's one-step MASE: {of('cal1')}; H-step MASE: "
        f"{of('calh')} (target: all)",
        "* gatecast (calendar, and the covariates where the series has some) below both LSTM "
        f"peers given the same inputs, one-step: {of('peers1')}; H-step: {of('peersh')} "
        "(target: all)",
    ]
    data = {k: {"met": v[0], "measured": v[1]} for k, v in counts.items()}
    return table(header, rows) + "\n\n" + "\n".join(lines), {"counts": data}


def strict_verdict(ours: float, theirs: float) -> str:
    """yes when strictly lower, else no and by how much."""
    if not finite(ours, theirs):
        return "n/a"
    if ours < theirs:
        return f"yes ({100 * (1 - ours / theirs):.1f}% lower)"
    return f"**no** ({100 * (ours / theirs - 1):.1f}% higher)"


CALENDAR_PROTOCOL = """\
Calendar and covariates (issue 11), on the series with calendar effects: gatecast trains three
times per seed on the same split, `--no-calendar`, the default recipe (calendar features on,
since the CSV has timestamps), and the default recipe with the series' covariate columns
(`--past-covariates`, `--future-covariates`). The LSTM peers' `_exog` runs get the same
inputs: gatecast's calendar features (computed by gatecast's own calendar function for every
timestamp, H steps past the end included) and the future covariates as NeuralForecast's
`futr_exog_list` and Darts' `future_covariates` (scaled by a MinMax `Scaler` fitted on the
training span), the past covariates as NeuralForecast's `hist_exog_list`; Darts' `RNNModel`
takes no past covariates, so it runs without them. gatecast's verdict uses its run with
covariates on a series that has some, its calendar run elsewhere. Fit budgets: on
taylor_half_hourly the LSTM peers (plain and `_exog`) train shorter than their defaults
(NeuralForecast max_steps 300 instead of 1000, Darts 15 epochs instead of 100), so that each
fit takes a few CPU minutes on the shared machine; peers.json lists every run's settings."""


PROTOCOL = f"""\
Protocol, identical for every method: each series is split by time; the test span is the last
max(H, 20% of n) points, at most {MAX_ORIGINS} (long series: the last {MAX_ORIGINS}). Every method
trains on the span before it, once. One-step forecasts are made at every test origin from the
true history, with no refit; one H-step forecast is made from the end of the training span
(H: monthly 12, quarterly 8, yearly 6, weekly 52, business daily 14, half-hourly 48). Missing
values: the training span is filled by linear interpolation and every method trains on the same
filled data; test inputs are carried forward (never interpolated, which would look ahead) and
test points whose actual is missing are not scored. MASE divides by the training span's
in-sample seasonal-naive MAE (main season); sMAPE is in percent. Training seconds, one thread
each: wall seconds of the fit alone (statsforecast's, NeuralForecast's and Darts' fit; gatecast's
from meta.json) and CPU seconds (the peers' fit; gatecast's training CLI main(), data loading
and checkpoint writing included, imports not). The machine is shared, so the time targets use
CPU seconds; gatecast's whole CLI process wall time is in the JSON. Spread: mean (min-max) over the
seeds; statsforecast and the naive methods are deterministic (one run).

Leakage check: for every method and series, the one-step forecasts at {CHECK_ORIGINS} test origins
(first, middle, last) were recomputed from the history truncated at the origin, nothing after it
given, and matched the rolling forecasts within a relative {CHECK_RTOL:g}; every run shown passed
(a mismatch stops the benchmark).

Method settings: NeuralForecast `LSTM(h=H, random_seed=SEED)` with every other default
(input_size 3H, max_steps 1000, robust scaler), one-step forecasts = step 1 of a `predict` from
each origin's history. Darts `RNNModel(model="LSTM", input_chunk_length=2 seasons clamped to
12..96, training_length=2x that, random_state=SEED)`, other defaults (100 epochs), a MinMax
`Scaler` fitted on the training span, `historical_forecasts(retrain=False, forecast_horizon=1,
last_points_only=True)`. statsforecast `AutoARIMA(season_length, approximation=n > 150 or season
> 12)` (R's auto.arima rule) and `AutoETS(season_length)` (non-seasonal above a season of 24,
which AutoETS cannot hold), one-step forecasts from `forward(y, h=1, fitted=True)` with the fitted
parameters. Naive and seasonal naive in numpy; the second season's naive (336, a week of
half-hours) only where a series has two seasons. gatecast: `gatecast-train --data TRAIN.csv
--seed SEED` (the CLI of this repository, no per-series flags), then `forward` from each
origin's whole history (as a client of POST /forecast sends it), with 80% and 95% intervals
from the checkpoint's residual quantiles."""


def render(
    splits: list[Split],
    entries: list[Entry],
    cmd: str,
    host: str,
    target_series: tuple[str, ...] = (),
    calendar_series: tuple[str, ...] = (),
) -> tuple[str, dict[str, Any]]:
    """The markdown report and its JSON twin: issue 10's targets over `target_series` (every
    split when empty), issue 11's over the splits in `calendar_series`."""
    summary = Summary(splits, entries)
    methods = list(LABELS)
    loads = [float(e["load_average"]) for e in entries if "load_average" in e]
    busy = f" 1-minute load average after each run: {min(loads):.1f}..{max(loads):.1f}."
    cached = sum(bool(e.get("from_cache")) for e in entries)
    where = (
        f"{cached} of {len(entries)} runs were taken from the cache (computed earlier by "
        "`bench.peers` runs with the same split; each table says when), the rest computed now."
    )
    parts = [
        "# gatecast side by side with the peers",
        f"```sh\n{cmd}\n```",
        f"Machine: {host}.{busy if loads else ''} {where}",
        PROTOCOL,
    ]
    chosen = [s for s in splits if not target_series or s.name in target_series]
    target_md, counts = targets(summary, chosen)
    parts += ["## Targets (issue 10), from the seed means", target_md]
    calendar = [s for s in splits if s.name in calendar_series]
    if calendar:
        calendar_md, calendar_counts = calendar_targets(summary, calendar)
        counts["calendar"] = calendar_counts
        parts += [
            "## Calendar features and covariates (issue 11), from the seed means",
            CALENDAR_PROTOCOL,
            calendar_md,
        ]
    parts += [
        "## gatecast: history length and interval coverage (one-step test span)",
        gatecast_table(summary, chosen),
    ]
    for s in splits:
        facts = (
            f"{len(s.values)} points, freq {s.freq}, seasons {', '.join(map(str, s.seasons))}, "
            f"H {s.horizon}, training {s.cut} points, test {len(s.values) - s.cut} origins "
            f"({int(np.isnan(s.values).sum())} missing values in the series, "
            f"{int(np.isnan(s.values[s.cut :]).sum())} unscored)"
        )
        if s.covariates:
            facts += (
                f"; past covariates: {', '.join(s.past) or 'none'}; "
                f"future covariates: {', '.join(s.future) or 'none'}"
            )
        parts += [f"## {s.name}", facts, series_table(summary, s, methods)]
    runs = [
        {
            k: v
            for k, v in e.items()
            if k
            in (
                "series",
                "method",
                "seed",
                "computed_at",
                "from_cache",
                "error",
                "settings",
                "versions",
                "wall_seconds",
                "quick",
                "load_average",
            )
        }
        | ({} if "error" in e else {"scores": run_scores(summary.splits[e["series"]], e)})
        for e in entries
    ]
    data = {"command": cmd, "machine": host, "targets": counts, "runs": runs}
    return "\n\n".join(parts) + "\n", data
