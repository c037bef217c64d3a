"""Calendar inputs from timestamps: sin/cos pairs of where each step falls in its cycles.

Training and the service both call calendar_features on the local wall-clock time of each
timestamp: the clock of the timestamp's own UTC offset (a naive timestamp is its own
clock), in whole seconds since 1970-01-01T00:00 on that clock. A timestamp therefore gives
the same inputs wherever it is computed, and 09:00 is 09:00 on either side of a
daylight-saving change. Only torch and the standard library are used.
"""

import datetime as dt
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


def cycle_positions(wall: Tensor) -> dict[str, Tensor]:
    """Where each wall-clock second count (N,) int64 falls in every cycle, in [0, 1)."""
    days = _fdiv(wall, DAY)
    year, month, _ = civil_from_days(days)
    one = torch.ones_like(year)
    jan1 = days_from_civil(year, one, one)
    doy = days - jan1  # 0 on 1 January
    year_days = days_from_civil(year + 1, one, one) - jan1  # 365 or 366
    return {
        "hour_of_day": (wall - days * DAY).double() / DAY,
        "day_of_week": torch.remainder(days + 3, 7).double() / 7,  # 1970-01-01 was a Thursday
        "day_of_year": doy.double() / year_days.double(),
        "week_of_year": _fdiv(doy, 7).double() / 52,
        "month_of_year": (month - 1).double() / 12,
        "quarter_of_year": _fdiv(month - 1, 3).double() / 4,
    }


def calendar_features(wall: Tensor, names: list[str]) -> Tensor:
    """The calendar inputs `names` (NAMES entries) of wall-clock seconds (N,) int64:
    (N, len(names)) float32, computed in float64 and rounded once."""
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise ValueError(f"unknown calendar input {unknown[0]!r}")
    if not names:
        return torch.zeros(wall.size(0), 0)
    where = cycle_positions(wall.long())
    columns = []
    for name in names:
        cycle, part = name.rsplit("_", 1)
        angle = where[cycle] * (2 * math.pi)  # (N,)
        columns.append(torch.sin(angle) if part == "sin" else torch.cos(angle))
    return torch.stack(columns, dim=1).float()  # (N, F)
