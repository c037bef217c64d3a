"""Calendar inputs from timestamps: sin/cos pairs of where each step falls in its cycles.

Training and the service both call calendar_features on the local wall-clock time of each
timestamp: the clock of the timestamp's own UTC offset (a naive timestamp is its own
clock), in whole seconds since 1970-01-01T00:00 on that clock. A timestamp therefore gives
the same inputs wherever it is computed, and 09:00 is 09:00 on either side of a
daylight-saving change. Only torch and the standard library are used.
"""

import datetime as dt
import functools
import math

import torch
from torch import Tensor

DAY = 86400
EPOCH = dt.datetime(1970, 1, 1)
# Each cycle, what one turn of it is, and the sin/cos names it gives.
CYCLES = (
    "hour_of_day",  # seconds into the day / 86400
    "day_of_week",  # Monday 0 ... Sunday 6, / 7
    "day_of_year",  # days since 1 January / days in that year (365 or 366)
    "week_of_year",  # whole weeks since 1 January / 52
    "month_of_year",  # January 0 ... December 11, / 12
    "quarter_of_year",  # first quarter 0 ... fourth 3, / 4
)
NAMES = tuple(f"{cycle}_{part}" for cycle in CYCLES for part in ("sin", "cos"))
# The cycles that fit each kind of frequency (see scripts.pipeline.features).
RECIPES: dict[str, tuple[str, ...]] = {
    "sub_daily": ("hour_of_day", "day_of_week"),
    "daily": ("day_of_week", "day_of_year"),
    "weekly": ("week_of_year",),
    "monthly": ("month_of_year",),
    "quarterly": ("quarter_of_year",),
    "yearly": (),
}


def recipe(kind: str) -> list[str]:
    """The calendar input names for a kind of frequency (a RECIPES key), sin before cos."""
    if kind not in RECIPES:
        raise ValueError(f"kind must be one of {', '.join(RECIPES)}, not {kind!r}")
    return [f"{cycle}_{part}" for cycle in RECIPES[kind] for part in ("sin", "cos")]


def wall_seconds(t: dt.datetime) -> int:
    """Seconds since 1970-01-01T00:00 on the timestamp's own clock (its offset dropped)."""
    return (t.replace(tzinfo=None) - EPOCH) // dt.timedelta(seconds=1)


def _fdiv(a: Tensor, b: int) -> Tensor:
    """Integer division rounding down, also for negative a."""
    return torch.div(a, b, rounding_mode="floor")


def civil_from_days(days: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Year, month (1-12) and day (1-31) of each day count since 1970-01-01 (int64)."""
    # H. Hinnant's civil_from_days: 400-year eras of 146097 days, years starting in March.
    z = days + 719468
    era = _fdiv(z, 146097)
    doe = z - era * 146097  # day of era, 0 ... 146096
    yoe = _fdiv(doe - _fdiv(doe, 1460) + _fdiv(doe, 36524) - _fdiv(doe, 146096), 365)
    doy = doe - (365 * yoe + _fdiv(yoe, 4) - _fdiv(yoe, 100))  # day of the March year
    mp = _fdiv(5 * doy + 2, 153)
    day = doy - _fdiv(153 * mp + 2, 5) + 1
    month = torch.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2).long()
    return year, month, day


def days_from_civil(year: Tensor, month: Tensor, day: Tensor) -> Tensor:
    """Day count since 1970-01-01 of each (year, month 1-12, day 1-31), int64."""
    year = year - (month <= 2).long()
    era = _fdiv(year, 400)
    yoe = year - era * 400
    mp = torch.where(month > 2, month - 3, month + 9)
    doy = _fdiv(153 * mp + 2, 5) + day - 1
    doe = yoe * 365 + _fdiv(yoe, 4) - _fdiv(yoe, 100) + doy
    return era * 146097 + doe - 719468


# Days before each month of a common year (January first).
MONTH_STARTS = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)
# The cycles a day's date alone places, in the rows of day_positions.
DAY_CYCLES = ("day_of_week", "day_of_year", "week_of_year", "month_of_year", "quarter_of_year")
# The days 1900-01-01 ... 2199-12-31 are looked up in a table built once by the same
# arithmetic (the same float64 values): on the request path each tensor operation costs
# microseconds, and the arithmetic takes some forty of them.
TABLE_FIRST = -25567  # 1900-01-01
TABLE_DAYS = 109573  # to 2200-01-01
_table: list[Tensor] = []


def day_positions(days: Tensor) -> Tensor:
    """Where each day count (N,) int64 falls in each of DAY_CYCLES, in [0, 1): (5, N)
    float64, by calendar arithmetic."""
    year, month, day = civil_from_days(days)
    leap = (torch.remainder(year, 4) == 0) & (
        (torch.remainder(year, 100) != 0) | (torch.remainder(year, 400) == 0)
    )
    starts = torch.tensor(MONTH_STARTS, dtype=torch.long)
    doy = starts[month - 1] + day - 1 + (leap & (month > 2)).long()  # 0 on 1 January
    return torch.stack(
        [
            torch.remainder(days + 3, 7).double() / 7,  # 1970-01-01 was a Thursday
            doy.double() / (365 + leap.long()).double(),
            _fdiv(doy, 7).double() / 52,
            (month - 1).double() / 12,
            _fdiv(month - 1, 3).double() / 4,
        ]
    )


def day_positions_fast(days: Tensor) -> Tensor:
    """day_positions, looked up in the table when every day lies in it."""
    if not _table:
        _table.append(day_positions(torch.arange(TABLE_FIRST, TABLE_FIRST + TABLE_DAYS)))
    index = days - TABLE_FIRST
    if days.numel():
        low, high = torch.aminmax(index)
        if int(low) < 0 or int(high) >= TABLE_DAYS:
            return day_positions(days)
    return _table[0].index_select(1, index)  # (5, N)


def cycle_positions(wall: Tensor, cycles: list[str]) -> Tensor:
    """Where each wall-clock second count (N,) int64 falls in each of `cycles` (in CYCLES
    order), in [0, 1): (len(cycles), N) float64."""
    days = _fdiv(wall, DAY)
    rows = []
    if "hour_of_day" in cycles:
        rows.append(((wall - days * DAY).double() / DAY).unsqueeze(0))
    picked = [DAY_CYCLES.index(c) for c in cycles if c in DAY_CYCLES]
    if picked:
        rows.append(day_positions_fast(days).index_select(0, torch.tensor(picked)))
    return torch.cat(rows)


# The inputs of the cycles a day alone places, for every day of the table, computed once
# by calendar_arithmetic: on the request path a lookup costs a few tensor operations where
# the arithmetic costs a dozen.
DAY_NAMES = tuple(f"{cycle}_{part}" for cycle in DAY_CYCLES for part in ("sin", "cos"))
_day_features: list[Tensor] = []


@functools.lru_cache(maxsize=64)
def _day_columns(names: tuple[str, ...]) -> Tensor | None:
    """The columns of DAY_NAMES that give `names`; None when one needs the time of day."""
    if not all(n in DAY_NAMES for n in names):
        return None
    return torch.tensor([DAY_NAMES.index(n) for n in names])


def calendar_features(wall: Tensor, names: list[str]) -> Tensor:
    """The calendar inputs `names` (NAMES entries) of wall-clock seconds (N,) int64:
    (N, len(names)) float32. Inputs of whole days come from a table of calendar_arithmetic's
    values for 1900-2199, the rest from calendar_arithmetic itself: training and the
    service call this one function, so they get the same values for the same times."""
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise ValueError(f"unknown calendar input {unknown[0]!r}")
    columns = _day_columns(tuple(names)) if names else None
    if columns is not None and wall.numel():
        index = _fdiv(wall.long(), DAY) - TABLE_FIRST  # (N,) rows of the table
        low, high = torch.aminmax(index)
        if int(low) >= 0 and int(high) < TABLE_DAYS:
            if not _day_features:
                days = torch.arange(TABLE_FIRST, TABLE_FIRST + TABLE_DAYS) * DAY
                _day_features.append(calendar_arithmetic(days, list(DAY_NAMES)))
            return _day_features[0].index_select(0, index).index_select(1, columns)  # (N, F)
    return calendar_arithmetic(wall, names)


def calendar_arithmetic(wall: Tensor, names: list[str]) -> Tensor:
    """calendar_features by calendar arithmetic, for any time: computed in float64 and
    rounded to float32 once."""
    if not names:
        return torch.zeros(wall.size(0), 0)
    cycles = sorted({n.rsplit("_", 1)[0] for n in names}, key=CYCLES.index)
    parts = [n.rsplit("_", 1) for n in names]
    rows = torch.tensor([cycles.index(cycle) for cycle, _ in parts])
    phase = torch.tensor([math.pi / 2 if part == "cos" else 0.0 for _, part in parts])
    angle = cycle_positions(wall.long(), cycles).index_select(0, rows) * (2 * math.pi)  # (F, N)
    return torch.sin(angle + phase.unsqueeze(1)).t().float()  # cos x = sin(x + pi/2): (N, F)
