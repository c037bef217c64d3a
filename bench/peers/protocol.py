"""The peer benchmark's protocol: splits, horizons, seasons, gap filling, scores, leakage check.

Pure numpy and pandas, the same for every method, so that it is tested without any peer.
"""

import hashlib
import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from scripts.pipeline.scores import mae, mase_scale, smape

TEST_FRACTION = 0.2
MAX_ORIGINS = 500  # long series: the test span is the last 500 points, not 20% of them
CHECK_ORIGINS = 3  # one-step forecasts recomputed from truncated histories per method
CHECK_RTOL = 1e-4
LEVELS = (0.8, 0.95)


class LeakageError(AssertionError):
    """A method's rolling one-step forecast differs from the one made without the future."""


def _code(freq: str) -> tuple[str, pd.Timedelta | None]:
    """The offset's base code (MS -> M, QS-DEC -> Q, W-SAT -> W) and its length if fixed."""
    off = to_offset(freq)
    if isinstance(off, pd.offsets.Tick):
        return "tick", pd.Timedelta(off)
    code = off.rule_code.split("-")[0].rstrip("S").rstrip("E") or off.rule_code
    return {"A": "Y", "BM": "M", "BQ": "Q"}.get(code, code), None


def horizon_for(freq: str) -> int:
    """H-step horizon: monthly 12, quarterly 8, yearly 6, weekly 52, daily 14, sub-daily 48."""
    code, step = _code(freq)
    if step is not None:
        return 14 if step >= pd.Timedelta(days=1) else 48
    table = {"M": 12, "Q": 8, "Y": 6, "W": 52, "D": 14, "B": 14, "C": 14}
    if code not in table:
        raise ValueError(f"no horizon for frequency {freq!r}")
    return table[code]


def seasons_for(freq: str) -> tuple[int, ...]:
    """Seasonal periods, main one first: sub-daily data has a daily and a weekly season."""
    code, step = _code(freq)
    if step is not None:
        if step >= pd.Timedelta(days=1):
            return (7,) if step == pd.Timedelta(days=1) else (1,)
        per_day = int(pd.Timedelta(days=1) / step)
        return (per_day, 7 * per_day)
    table = {"M": 12, "Q": 4, "Y": 1, "W": 52, "D": 7, "B": 5, "C": 5}
    if code not in table:
        raise ValueError(f"no season for frequency {freq!r}")
    return (table[code],)


def holdout_size(n: int, horizon: int) -> int:
    """Test points: the last max(horizon, 20% of n), at most MAX_ORIGINS."""
    size = min(max(horizon, round(TEST_FRACTION * n)), MAX_ORIGINS)
    if size >= n - 2 * horizon:
        raise ValueError(f"{n} points are too few for a test span of {size}")
    return size


def fill_history(values: np.ndarray, cut: int) -> np.ndarray:
    """Gap-free inputs: linear interpolation inside the training span, carried forward after.

    The test span is only carried forward so that no filled input looks at a later value.
    """
    raw = np.asarray(values, dtype=np.float64)
    train = pd.Series(raw[:cut]).interpolate(limit_direction="both").to_numpy()
    whole = pd.Series(np.concatenate([train, raw[cut:]])).ffill().to_numpy()
    if np.isnan(whole).any():
        raise ValueError("the training span has no values at all")
    return whole


@dataclass(frozen=True)
class Split:
    """One series cut into a training span and a test span, identical for every method."""

    name: str
    freq: str
    timestamps: list[str]
    values: np.ndarray  # raw, NaN where missing: the actuals
    inputs: np.ndarray  # gap-filled: what every method sees
    cut: int  # first test index; training is inputs[:cut]
    horizon: int
    seasons: tuple[int, ...]
    # Covariate columns, gap-filled like `inputs`: past ones are known up to each origin,
    # future ones also at the forecast steps.
    covariates: dict[str, np.ndarray] = field(default_factory=dict)
    past: tuple[str, ...] = ()
    future: tuple[str, ...] = ()

    @property
    def season(self) -> int:
        """The main season: seasonal naive, MASE scale, statsforecast's season_length."""
        return self.seasons[0]

    @property
    def origins(self) -> np.ndarray:
        """Indices of the one-step targets: cut .. n-1."""
        return np.arange(self.cut, len(self.values))

    @property
    def check_origins(self) -> list[int]:
        """The test origins whose forecasts are recomputed from truncated histories."""
        picks = np.linspace(self.cut, len(self.values) - 1, CHECK_ORIGINS)
        return sorted({round(float(p)) for p in picks})

    @property
    def train(self) -> np.ndarray:
        """The gap-filled training span."""
        return self.inputs[: self.cut]

    def digest(self) -> str:
        """sha256 of everything a method's result depends on in the data."""
        h = hashlib.sha256()
        head = [self.name, self.freq, self.cut, self.horizon, list(self.seasons), self.timestamps]
        h.update(json.dumps(head).encode())
        h.update(np.asarray(self.values, dtype="<f8").tobytes())
        h.update(np.asarray(self.inputs, dtype="<f8").tobytes())
        if self.covariates:  # series without covariates keep the digests they always had
            h.update(json.dumps([list(self.past), list(self.future)]).encode())
            for name in (*self.past, *self.future):
                h.update(np.asarray(self.covariates[name], dtype="<f8").tobytes())
        return h.hexdigest()

    def future_timestamps(self) -> list[str]:
        """The series' timestamps and the `horizon` steps after its end, in the same format."""
        index = pd.DatetimeIndex(pd.to_datetime(self.timestamps))
        more = pd.date_range(index[-1], periods=self.horizon + 1, freq=self.freq)[1:]
        daily = bool((index == index.normalize()).all())
        return self.timestamps + list(more.strftime(stamp_format(daily)))


def stamp_format(daily: bool) -> str:
    """strftime format of a split's timestamps: dates, or dates and times."""
    return "%Y-%m-%d" if daily else "%Y-%m-%d %H:%M:%S"


def make_split(
    name: str,
    data: pd.Series | pd.DataFrame,
    freq: str,
    past: tuple[str, ...] = (),
    future: tuple[str, ...] = (),
) -> Split:
    """The split of one raw series (NaN for missing values) on its regular grid; a frame holds
    the target in `value` and the named past and future covariate columns."""
    frame = data.to_frame("value") if isinstance(data, pd.Series) else data
    values = frame["value"].to_numpy(dtype=np.float64)
    horizon = horizon_for(freq)
    cut = len(values) - holdout_size(len(values), horizon)
    index = pd.DatetimeIndex(frame.index)
    daily = bool((index == index.normalize()).all())
    stamps = list(index.strftime(stamp_format(daily)))
    covariates = {c: fill_history(frame[c].to_numpy(dtype=np.float64), cut) for c in past + future}
    return Split(
        name,
        freq,
        stamps,
        values,
        fill_history(values, cut),
        cut,
        horizon,
        seasons_for(freq),
        covariates,
        past,
        future,
    )


def naive_onestep(split: Split, history: np.ndarray, season: int = 1) -> np.ndarray:
    """One-step (seasonal) naive forecasts at every test origin: history[t - season]."""
    return np.asarray([history[t - season] for t in split.origins], dtype=np.float64)


def naive_hstep(split: Split, season: int = 1) -> np.ndarray:
    """H-step (seasonal) naive forecast from the end of the training span."""
    h = np.arange(split.horizon)
    last = split.train[-season:]
    return last[h % season].astype(np.float64)


def _scored(actual: np.ndarray, forecast: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Actual and forecast where the actual is present."""
    keep = ~np.isnan(actual)
    return actual[keep], np.asarray(forecast, dtype=np.float64)[keep]


def scores(split: Split, onestep: np.ndarray, hstep: np.ndarray) -> dict[str, float]:
    """One-step MASE and sMAPE over the test span, H-step MASE from the training end."""
    scale = mase_scale(split.train, split.season)
    one_y, one_f = _scored(split.values[split.cut :], onestep)
    h_y, h_f = _scored(split.values[split.cut : split.cut + split.horizon], hstep)
    if np.isnan(one_f).any() or np.isnan(h_f).any():
        return {"mase1": math.nan, "smape1": math.nan, "maseh": math.nan}
    return {
        "mase1": mae(one_y, one_f) / scale,
        "smape1": smape(one_y, one_f),
        "maseh": mae(h_y, h_f) / scale,
    }


def coverage(split: Split, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of present one-step actuals inside [lower, upper]."""
    actual = split.values[split.cut :]
    keep = ~np.isnan(actual)
    y = actual[keep]
    inside = (np.asarray(lower)[keep] <= y) & (y <= np.asarray(upper)[keep])
    return float(inside.mean())


def check_leakage(
    split: Split, method: str, rolling: np.ndarray, recomputed: dict[int, float]
) -> list[dict[str, float]]:
    """Raise LeakageError unless each truncated-history forecast equals the rolling one."""
    if sorted(recomputed) != split.check_origins:
        raise LeakageError(
            f"{split.name}/{method}: checked origins {sorted(recomputed)}, "
            f"expected {split.check_origins}"
        )
    rows = []
    for origin, again in sorted(recomputed.items()):
        rolled = float(rolling[origin - split.cut])
        gap = abs(rolled - again)
        if not gap <= CHECK_RTOL * max(abs(rolled), abs(again), 1e-12):
            raise LeakageError(
                f"{split.name}/{method}: the one-step forecast at origin {origin} is {rolled!r} "
                f"in the rolling run but {again!r} from the history truncated there: "
                "the rolling forecast saw something after its origin"
            )
        rows.append({"origin": origin, "rolling": rolled, "truncated": again})
    return rows
