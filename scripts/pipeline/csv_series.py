"""Read time-series CSVs with pandas into regular, gap-filled series: the one pandas module."""

import contextlib
import csv
import functools
import glob
import hashlib
import io
import logging
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

log = logging.getLogger(__name__)

TIME_NAMES = ("timestamp", "time", "date", "datetime", "ds", "month", "period", "year")
VALUE_NAMES = ("value", "y", "target")
SERIES_NAMES = ("series_id", "series", "id", "unique_id")
NA_TOKENS = ("", "na", "n/a", "nan", "null", "none", "#n/a", "-nan", "<na>")
LAYOUTS = ("auto", "single", "wide", "long")
MISSING = ("error", "interpolate", "ffill")
DAY = pd.Timedelta(days=1)
TimeUnit = Literal["s", "ms", "us", "ns"]


class DataError(Exception):
    """A bad input the user must fix; str(err) is one clear line."""


@dataclass
class DataConfig:
    """Where the CSVs are and how to read them; None means detect."""

    paths: list[str] = field(
        metadata={
            "flag": "--data",
            "nargs": "+",
            "metavar": "PATH",
            "help": "CSV files, directories of CSVs or glob patterns",
        }
    )
    time_col: str | None = field(
        default=None, metadata={"help": "timestamp column (default: detected)"}
    )
    value_col: str | None = field(
        default=None, metadata={"help": "value column (default: detected)"}
    )
    series_col: str | None = field(
        default=None, metadata={"help": "series id column of a long CSV (default: detected)"}
    )
    layout: str = field(
        default="auto",
        metadata={
            "choices": LAYOUTS,
            "help": "one series, one column per series, or series_id rows",
        },
    )
    missing: str = field(
        default="interpolate",
        metadata={
            "choices": MISSING,
            "help": "what to do with missing values and gaps in the time grid",
        },
    )
    sep: str | None = field(default=None, metadata={"help": "field separator (default: sniffed)"})
    past_covariates: list[str] = field(
        default_factory=list,
        metadata={
            "sep": ",",
            "metavar": "COL[,COL...]",
            "help": "covariate columns known only up to the last value (e.g. a measured "
            "temperature); missing values follow --missing",
        },
    )
    future_covariates: list[str] = field(
        default_factory=list,
        metadata={
            "sep": ",",
            "metavar": "COL[,COL...]",
            "help": "covariate columns known ahead over the horizon too (a price plan, a "
            "holiday flag); missing values follow --missing",
        },
    )

    @property
    def covariates(self) -> list[str]:
        """Every covariate column: the past ones, then the future ones."""
        return [*self.past_covariates, *self.future_covariates]


@dataclass
class Series:
    """One series on a regular time grid (or in file order), with no missing values left.

    wall: each step's local wall-clock time, in seconds since 1970-01-01T00:00 on the clock
    of its own UTC offset (model.calendar); covariates: each covariate column, filled;
    ahead: each future covariate's values in the rows after the last value, when loaded
    for forecasting (load_series' `ahead`), else empty.
    """

    name: str
    values: np.ndarray
    timestamps: pd.DatetimeIndex | None
    freq: str | None
    filled: int
    source: str
    wall: np.ndarray | None = None
    covariates: dict[str, np.ndarray] = field(default_factory=dict)
    ahead: dict[str, np.ndarray] = field(default_factory=dict)


def _expand(paths: list[str]) -> list[Path]:
    """Files as named, every *.csv of a directory (sorted), glob matches (sorted); no repeats."""
    if not paths:
        raise DataError("no input paths given")
    out: list[Path] = []
    for p in paths:
        if Path(p).is_dir():
            found, why = sorted(Path(p).glob("*.csv")), f"directory {p} has no *.csv files"
        elif glob.has_magic(p):
            found, why = sorted(map(Path, glob.glob(p))), f"no files match {p!r}"
        else:
            found, why = [Path(p)] if Path(p).is_file() else [], f"file not found: {p}"
        if not found:
            raise DataError(why)
        out += [f for f in found if f.resolve() not in {o.resolve() for o in out}]
    return out


def _read_table(path: Path, sep: str | None) -> tuple[pd.DataFrame, np.ndarray, str]:
    """All cells as stripped strings without blank rows, each row's line number, the separator."""
    try:
        raw = path.read_bytes()
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16/32 BOM (its text holds NULs)
            raise DataError(f"{path}: UTF-16 or UTF-32 text, not UTF-8; save it as UTF-8")
        if b"\x00" in raw:
            raise DataError(f"{path}: looks like a binary file, not a CSV")
        text = raw.decode("utf-8-sig")  # -sig: strip a BOM
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (bad byte at offset {e.start})") from None
    if not text.strip():
        raise DataError(f"{path}: file is empty")
    if sep is None:  # the separator the header uses most, ',' on a tie
        counts = {s: text.splitlines()[0].count(s) for s in (",", ";", "\t")}
        sep = max(counts, key=counts.__getitem__) if any(counts.values()) else ","
    try:
        # Strings only, no NA guessing: we parse numbers ourselves to report bad cells by line.
        df = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            index_col=False,
        )
    except (pd.errors.ParserError, ValueError) as e:
        raise DataError(f"{path}: cannot parse as CSV: {' '.join(str(e).split())}") from None
    df.columns = pd.Index([str(c).strip() for c in df.columns])
    df = df.apply(lambda c: c.str.strip())
    lines = np.arange(len(df)) + 2  # blank lines stay rows, so row i is line i + 2 (no quoted \n)
    keep = (df != "").any(axis=1).to_numpy()
    df, lines = df[keep].reset_index(drop=True), lines[keep]
    if df.empty:
        raise DataError(f"{path}: no data rows below the header")
    # pandas silently pads a short row (a file cut off mid-row) with empty cells: say so.
    fields = [len(r) for r in csv.reader(io.StringIO(text), delimiter=sep)]
    if short := [(no, k) for no, k in enumerate(fields[1:], 2) if 0 < k < len(df.columns)]:
        msg = "%s: line %d has %d fields, expected %d; the missing fields are missing values"
        log.warning(msg, path, *short[0], len(df.columns))
    return df, lines, sep


def _numbers(col: pd.Series, sep: str) -> tuple[np.ndarray, np.ndarray]:
    """Floats (NaN for empty/NA cells) and a mask of cells that are neither numbers nor missing."""
    missing = col.str.lower().isin(NA_TOKENS).to_numpy()
    text = col.str.replace(",", ".", regex=False) if sep == ";" else col  # ';' files: decimal ','
    vals = pd.to_numeric(text.where(~missing), errors="coerce").to_numpy(float, na_value=np.nan)
    return vals, (np.isnan(vals) & ~missing) | np.isinf(vals)


def _find(df: pd.DataFrame, names: tuple[str, ...], skip: tuple[str | None, ...]) -> str | None:
    """The first of `names` that is a column, case-insensitively."""
    lower = {c.lower(): c for c in df.columns if c not in skip}
    return next((lower[n] for n in names if n in lower), None)


def _parse_times(
    cells: pd.Series, lines: np.ndarray, path: Path
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """The time column as datetimes and each cell's UTC offset in seconds (0 without one);
    an empty or unparseable cell is an error naming its line."""
    cells, col = cells.where(~cells.str.lower().isin(NA_TOKENS)), cells
    mixed = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format": every cell is checked below
        try:
            ts = pd.to_datetime(cells, errors="coerce")
        except ValueError:  # mixed UTC offsets, as around a DST change: go to UTC
            ts = pd.to_datetime(cells, errors="coerce", utc=True)
            mixed = True
    if (bad := ts.isna().to_numpy()).any():
        i = int(bad.argmax())
        raise DataError(f"{path}: line {lines[i]}: {col.iloc[i]!r} in {col.name!r} is not a date")
    index = pd.DatetimeIndex(ts)
    if mixed:  # each cell's own offset, which going to UTC dropped
        offsets = np.array([_offset_seconds(pd.Timestamp(c)) for c in cells], dtype=np.int64)
    elif index.tz is not None:
        offsets = index.tz_localize(None).as_unit("s").asi8 - index.as_unit("s").asi8
    else:
        offsets = np.zeros(len(index), dtype=np.int64)
    return index, offsets


def _offset_seconds(t: pd.Timestamp) -> int:
    """A timestamp's UTC offset in seconds; 0 for a naive one."""
    off = t.utcoffset()
    return 0 if off is None else int(off.total_seconds())


def _fmt(t: pd.Timestamp) -> str:
    """A timestamp as the user likely wrote it: the date alone when it is midnight."""
    return t.strftime("%Y-%m-%d") if t == t.normalize() else str(t)


# Timestamps -> their frequency: the series of one file often share their timestamps, and
# inferring costs milliseconds per series. Cleared when full, so it stays small.
_FREQS: dict[tuple[str, bytes], str] = {}
MAX_FREQS = 1024


def _infer_freq(ts: pd.DatetimeIndex) -> str:
    """pandas' alias for the grid of 2+ sorted unique timestamps, tolerating gaps (once per
    distinct set of timestamps)."""
    key = (str(ts.dtype), ts.asi8.tobytes())
    if (freq := _FREQS.get(key)) is None:
        if len(_FREQS) >= MAX_FREQS:
            _FREQS.clear()
        freq = _FREQS[key] = _infer_grid_freq(ts)
    return freq


@functools.lru_cache(maxsize=1024)
def _date_grid(
    first: pd.Timestamp, last: pd.Timestamp, freq: str, unit: TimeUnit
) -> pd.DatetimeIndex:
    """pd.date_range(first, last, freq), once per distinct span: pandas builds calendar grids
    such as months one step at a time in Python, milliseconds per series."""
    return pd.date_range(first, last, freq=freq, unit=unit)


def _infer_grid_freq(ts: pd.DatetimeIndex) -> str:
    """pandas' alias for the grid of 2+ sorted unique timestamps, tolerating gaps."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3.1 warns that infer_freq will return an offset
        if (found := pd.infer_freq(ts) if len(ts) >= 3 else None) is not None:
            return to_offset(found).freqstr
        # Gaps: take the most common step (smallest on a tie), in calendar units where it fits.
        steps, counts = np.unique(np.diff(ts.as_unit("ns").asi8), return_counts=True)
        step = pd.Timedelta(int(steps[counts.argmax()]), unit="ns")
        starts, ends = bool(ts.is_month_start.all()), bool(ts.is_month_end.all())
        if (ts == ts.normalize()).all() and step >= 28 * DAY and (starts or ends):
            months, counts = np.unique(np.diff(ts.year * 12 + ts.month), return_counts=True)
            off = f"{months[counts.argmax()]}{'MS' if starts else 'ME'}"
        elif step == DAY and (ts.dayofweek < 5).all() and ts[-1] - ts[0] >= 7 * DAY:
            off = "B"  # weekdays only, over more than a week: business days with holidays out
        else:
            off = f"{step // DAY}D" if step % DAY == pd.Timedelta(0) else to_offset(step).freqstr
        # Let pandas name it (3MS -> QS-FEB, 7D -> W-MON) from a clean grid past a weekend.
        return pd.infer_freq(pd.date_range(ts[0], periods=10, freq=off)) or off


def _fill(vals: np.ndarray, policy: str, what: str, first: str) -> np.ndarray:
    """Missing values (NaN) filled by the policy; the ends take the nearest valid value."""
    missing = np.isnan(vals)
    if missing.all():
        raise DataError(f"{what} has no values: every cell is missing")
    if not missing.any():
        return vals
    if policy == "error":
        msg = f"{what} has {missing.sum()} missing values (first at {first})"
        raise DataError(f"{msg}; fix them or set missing to 'interpolate' or 'ffill'")
    filled = pd.Series(vals)
    filled = filled.interpolate() if policy == "interpolate" else filled.ffill()
    return filled.ffill().bfill().to_numpy(float)


def _build(
    name: str,
    ts: pd.DatetimeIndex | None,
    offsets: np.ndarray | None,
    vals: np.ndarray,
    covs: dict[str, np.ndarray],
    lines: np.ndarray,
    path: Path,
    policy: str,
    ahead: Sequence[str] = (),
) -> Series:
    """Sort, check, regularise and fill one series and its covariates; rows after its last
    value are cut off and give the `ahead` covariates' horizon values (Series.ahead)."""
    where, freq, wall = f"series {name!r} (file {path})", None, None
    if ts is not None and offsets is not None:
        order = np.argsort(ts.asi8, kind="stable")  # an unsorted file is fine
        ts, vals, lines, offsets = ts[order], vals[order], lines[order], offsets[order]
        covs = {c: v[order] for c, v in covs.items()}
        if (dup := ts.duplicated()).any():
            raise DataError(f"duplicate timestamp {_fmt(ts[int(dup.argmax())])} in {where}")
        if len(ts) > 1 and (freq := _infer_freq(ts)):
            grid = _date_grid(ts[0], ts[-1], freq, ts.unit)
            if (off := ~ts.isin(grid)).any():
                bad = _fmt(ts[int(off.argmax())])
                raise DataError(f"timestamp {bad} in {where} is off its regular {freq!r} grid")

            def regrid(v: np.ndarray) -> np.ndarray:
                return pd.Series(v, index=ts).reindex(grid).to_numpy(float)  # gaps: NaN

            vals, covs = regrid(vals), {c: regrid(v) for c, v in covs.items()}
            # A gap's clock keeps the offset of the step before it.
            offsets = pd.Series(regrid(offsets.astype(float))).ffill().to_numpy(np.int64)
            ts = grid
        wall = ts.as_unit("s").asi8 + offsets  # ts is naive (wall-clock) or UTC-based
    end = len(vals)  # one past the last observed row
    if ahead and (seen := ~np.isnan(vals)).any():
        # Rows after the last value are the horizon's, not missing values; the rest of the
        # series is as without them.
        end -= int(seen[::-1].argmax())
        vals, lines = vals[:end], lines[:end]
        if ts is not None and wall is not None:
            ts, wall = ts[:end], wall[:end]
    missing = np.isnan(vals)
    first = ""
    if missing.any():
        i = int(missing.argmax())
        first = _fmt(ts[i]) if ts is not None else f"line {lines[i]}"
    vals = _fill(vals, policy, where, first)
    later: dict[str, np.ndarray] = {}
    for c, v in covs.items():
        # A future covariate is filled over the horizon's rows too, so that a gap at the
        # boundary interpolates; the others end with the last value.
        whole = v if c in ahead else v[:end]
        gap = np.isnan(whole)
        at = int(gap.argmax())
        if not gap.any():
            spot = ""
        elif at >= end:
            spot = f"horizon row {at - end + 1}, after the last value"
        else:
            spot = _fmt(ts[at]) if ts is not None else f"line {lines[at]}"
        filled = _fill(whole, policy, f"covariate {c!r} of {where}", spot).astype(np.float64)
        covs[c] = filled[:end]
        if c in ahead:
            later[c] = filled[end:]  # (rows after the last value,)
    log.info("%s: %d points, freq %s, filled %d", where, len(vals), freq, missing.sum())
    return Series(
        name, vals.astype(np.float64), ts, freq, int(missing.sum()), str(path), wall, covs, later
    )


def _load_file(path: Path, cfg: DataConfig, ahead: bool) -> list[Series]:
    """All series in one CSV, in its own layout."""
    df, lines, sep = _read_table(path, cfg.sep)
    named = {"series_col": cfg.series_col, "time_col": cfg.time_col, "value_col": cfg.value_col}
    for what, col in named.items():
        if col is not None and col not in df.columns:
            raise DataError(f"{path}: no column {col!r} ({what}); columns: {', '.join(df.columns)}")
    covs = cfg.covariates
    if len(set(covs)) != len(covs):
        raise DataError("a covariate column is named twice in --past/--future-covariates")
    for col in covs:
        if col not in df.columns:
            listed = ", ".join(df.columns)
            raise DataError(f"{path}: no covariate column {col!r}; columns: {listed}")
    scol = cfg.series_col or _find(df, SERIES_NAMES, ())  # an id is never a value, in any layout
    nums = {c: _numbers(df[c], sep) for c in df.columns if c != scol}
    # Mostly numbers: a few bad cells still make a value column (and an error naming them).
    numeric = [c for c, (v, bad) in nums.items() if (~np.isnan(v) & ~bad).sum() > bad.sum()]
    tcol = cfg.time_col or _find(df, TIME_NAMES, (scol,))
    text_cols = [] if tcol else [c for c in nums if c not in numeric]
    for c in text_cols:  # no time-like name: take the first column that parses as dates
        with contextlib.suppress(DataError):
            _parse_times(df[c], lines, path)
            tcol = c
            break
    # A column with an empty header is a saved index (pandas names it "Unnamed: N"), not data.
    numeric = [c for c in numeric if c != tcol and not c.startswith("Unnamed:") and c not in covs]
    if tcol in covs or scol in covs or cfg.value_col in covs:
        raise DataError(f"{path}: a covariate column is also the time, id or value column")
    layout, vcol = cfg.layout, cfg.value_col
    if layout == "auto":
        layout = "long" if scol else "single" if vcol or len(numeric) < 2 else "wide"
    if layout == "long" and scol is None:
        raise DataError(f"{path}: layout 'long' needs a series id column; set series_col")
    if layout != "wide" and vcol is None:
        vcol = _find(df, VALUE_NAMES, (tcol, scol)) or (numeric[0] if len(numeric) == 1 else None)
    if not (cols := [vcol] if vcol else numeric if layout == "wide" else []):
        what = f"several numeric columns ({', '.join(numeric)})" if numeric else "no numeric column"
        raise DataError(f"{path}: {what} to take values from; set value_col or the layout")
    for c in [*cols, *covs]:
        if (bad := nums[c][1]).any():
            cell, no = df[c].iloc[int(bad.argmax())], lines[int(bad.argmax())]
            raise DataError(f"{path}: line {no}: column {c!r} has {cell!r}, not a finite number")
    ts, offsets = _parse_times(df[tcol], lines, path) if tcol else (None, None)
    if layout == "long":
        assert scol is not None and vcol is not None
        if (empty := (df[scol] == "").to_numpy()).any():
            raise DataError(f"{path}: line {lines[empty.argmax()]}: empty series id in {scol!r}")
        parts = [(str(k), vcol, ix) for k, ix in df.groupby(scol, sort=False).indices.items()]
    else:
        names = [path.stem] if layout == "single" and numeric in ([], [vcol]) else cols
        parts = [(n, c, np.arange(len(df))) for n, c in zip(names, cols, strict=True)]
    return [
        _build(
            n,
            None if ts is None else ts[ix],
            None if offsets is None else offsets[ix],
            nums[c][0][ix],
            {k: nums[k][0][ix] for k in covs},
            lines[ix],
            path,
            cfg.missing,
            cfg.future_covariates if ahead else (),
        )
        for n, c, ix in parts
    ]


def load_series(cfg: DataConfig, ahead: bool = False) -> list[Series]:
    """Every series in the configured CSVs: regular, filled and uniquely named. With
    `ahead` (forecasting), rows after a series' last value are not missing values: they
    hold its future covariates over the horizon (Series.ahead)."""
    for what, value, ok in (("layout", cfg.layout, LAYOUTS), ("missing", cfg.missing, MISSING)):
        if value not in ok:
            raise DataError(f"{what} must be one of {', '.join(ok)}, not {value!r}")
    out = [s for path in _expand(cfg.paths) for s in _load_file(path, cfg, ahead)]
    clash = Counter(s.name for s in out)
    for s in out:
        s.name = f"{Path(s.source).stem}/{s.name}" if clash[s.name] > 1 else s.name
    if dup := [n for n, k in Counter(s.name for s in out).items() if k > 1]:
        raise DataError(f"series name {dup[0]!r} occurs twice even with the file-name prefix")
    return out


def fingerprint(series: list[Series]) -> str:
    """sha256 hex of names, timestamps, float64 values and covariates (canonical, not CSV
    formatting)."""
    # Covers series order, names, timestamps (UTC nanoseconds) and values; not freq, source or
    # fill counts. Each field is length-prefixed so bytes cannot shift from one to the next.
    h = hashlib.sha256()
    for s in series:
        ts = b"-" if s.timestamps is None else s.timestamps.as_unit("ns").asi8.astype("<i8")
        vals = np.asarray(s.values, dtype="<f8") + 0.0  # + 0.0 folds -0.0 into 0.0
        parts = [s.name.encode(), bytes(ts), vals.tobytes()]
        for name, column in s.covariates.items():  # none: the hash is as without covariates
            parts += [name.encode(), (np.asarray(column, dtype="<f8") + 0.0).tobytes()]
        for part in parts:
            h.update(len(part).to_bytes(8, "little") + part)
    return h.hexdigest()


def season_length(freq: str | None) -> int:
    """Seasonal period for a pandas frequency alias; 1 when unknown."""
    try:
        off = to_offset(freq) if freq else None
    except ValueError:
        return 1
    if off is None or off.n < 1:
        return 1
    if isinstance(off, pd.offsets.Tick):
        # Samples per day when that is a short cycle (h 24, 30min 48), else per hour (min 60).
        secs = pd.Timedelta(off).total_seconds()
        cycles = [c / secs for c in (86400, 3600, 60) if c % secs == 0 and c / secs <= 288]
        return int(cycles[0]) if cycles else 1
    code = off.rule_code.split("-")[0]
    per = {"B": 5, "C": 5, "D": 7, "W": 52}.get(code)
    per = per or {"M": 12, "Q": 4}.get(code.lstrip("BC")[:1])  # MS, ME, BMS, QS-JAN, ...
    return per // off.n if per and per % off.n == 0 else 1


def seasons_of(freq: str | None) -> list[int]:
    """Seasonal periods worth modelling: sub-daily data has a daily and a weekly one."""
    season = season_length(freq)
    if season <= 1:
        return []
    off = to_offset(freq)
    if isinstance(off, pd.offsets.Tick) and pd.Timedelta(off) * season == DAY:
        return [season, 7 * season]
    return [season]


def default_horizon(freq: str | None) -> int:
    """Steps worth forecasting by default: a year of months, two years of quarters, a year
    of weeks, two weeks of days, two days of hours or one of half-hours; 1 when unknown."""
    try:
        off = to_offset(freq) if freq else None
    except ValueError:
        return 1
    if off is None:
        return 1
    if isinstance(off, pd.offsets.Tick):
        return 48 if pd.Timedelta(off) <= pd.Timedelta(hours=1) else 2 * season_length(freq)
    code = off.rule_code.split("-")[0]
    if code in ("B", "C"):
        return 14  # two weeks and more of business days, like other daily data
    return {"M": 12, "Q": 8, "W": 52, "D": 14, "Y": 6, "A": 6}.get(code.lstrip("BC")[:1], 1)


def step_times(s: Series, start: int, count: int, freq: str | None = None) -> list[str] | None:
    """ISO timestamps of positions start .. start+count-1, past the end on the series' grid
    (or on `freq` when the series has none, as a one-point series); None without timestamps,
    or past the end without a frequency.

    Grids are computed once per distinct start and length: thousands of series on one
    calendar share them, and pandas builds calendar grids one step at a time.
    """
    if s.timestamps is None:
        return None
    n, end = len(s.timestamps), start + count
    known: tuple[str, ...] = ()
    if start < n:
        if s.freq:  # a regular grid (see _build): its part from `start` is the grid from there
            known = _grid_times(s.timestamps[start], s.freq, min(end, n) - start)
        else:
            known = tuple(t.isoformat() for t in s.timestamps[start:end])
    if end <= n:
        return list(known)
    if not (step := s.freq or freq):
        return None
    return [*known, *_times_after(s.timestamps[-1], step, end - n)[max(0, start - n) :]]


@functools.lru_cache(maxsize=4096)
def _grid_times(first: pd.Timestamp, freq: str, count: int) -> tuple[str, ...]:
    """ISO timestamps of `count` steps of a grid that starts at `first`, a time on it."""
    return tuple(t.isoformat() for t in pd.date_range(first, periods=count, freq=freq))


@functools.lru_cache(maxsize=4096)
def _times_after(last: pd.Timestamp, freq: str, count: int) -> tuple[str, ...]:
    """ISO timestamps of the `count` steps of the grid after `last`."""
    return tuple(t.isoformat() for t in pd.date_range(last, periods=count + 1, freq=freq)[1:])
