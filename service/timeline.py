"""Request time: ISO 8601 timestamps, or a start, checked against the model's frequency and
continued over the horizon.

Standard library, numpy and torch only (the service does not load pandas): the frequency
is a pandas offset alias, of which the regular kinds are understood here. A timestamp's
clock is its own UTC offset's (model.calendar); fixed steps (seconds, minutes, hours) are
checked in absolute time, so a daylight-saving change inside the data is no gap, and day,
week, business-day, month, quarter and year steps on the wall clock. Forecast steps keep
the offset of the last timestamp given: an offset is not a time zone, and its rules for
the months ahead are not known.
"""

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import torch

from model.calendar import DAY, EPOCH, civil_from_days, days_from_civil, wall_seconds
from service.errors import ApiError

ALIAS = re.compile(r"^(\d*)([A-Za-z]+)(?:-([A-Za-z]{3}))?$")
FIXED = {"s": 1, "S": 1, "min": 60, "T": 60, "h": 3600, "H": 3600}
MONTHS = {"MS": (1, False), "ME": (1, True), "M": (1, True), "QS": (3, False), "QE": (3, True)}
MONTHS |= {"Q": (3, True), "YS": (12, False), "AS": (12, False), "YE": (12, True)}
MONTHS |= {"Y": (12, True), "A": (12, True)}


@dataclass(frozen=True)
class Step:
    """One step of a frequency: `n` seconds (fixed), days, business days or months."""

    kind: str  # "fixed", "days", "business" or "months"
    n: int
    month_end: bool = False  # months: the last day of each month


@dataclass(frozen=True)
class Timeline:
    """A sequence's time: the wall-clock seconds of its observed steps and the horizon's
    (T + horizon,), and the horizon's ISO 8601 timestamps."""

    wall: np.ndarray
    ahead: list[str]


def parse_frequency(freq: str | None) -> Step | None:
    """The step of a pandas offset alias (h, 30min, D, W-SUN, B, MS, ME, QS-JAN, YE-DEC,
    ...); None for no frequency or one of irregular kinds."""
    found = ALIAS.match(freq or "")
    if found is None:
        return None
    count, unit = int(found.group(1) or 1), found.group(2)
    if count < 1:
        return None
    if unit in FIXED:
        return Step("fixed", count * FIXED[unit])
    if unit == "D":
        return Step("days", count)
    if unit == "W":
        return Step("days", 7 * count)
    if unit == "B":
        return Step("business", count)
    if unit in MONTHS:
        months, end = MONTHS[unit]
        return Step("months", months * count, end)
    return None


def _business(days: np.ndarray) -> np.ndarray:
    """Business-day numbers of weekdays (Monday 1969-12-29 is 0); -1 for weekend days."""
    weeks, weekday = np.divmod(days + 3, 7)
    return np.where(weekday < 5, 5 * weeks + weekday, -1)


def _month_days(year: torch.Tensor, month: torch.Tensor) -> torch.Tensor:
    """Days in each (year, month)."""
    one = torch.ones_like(year)
    nxt = torch.where(month == 12, year + 1, year), torch.where(month == 12, one, month + 1)
    return days_from_civil(nxt[0], nxt[1], one) - days_from_civil(year, month, one)


def grid(first: int, step: Step, count: int) -> np.ndarray:
    """Wall-clock seconds of `count` steps from the wall-clock second `first`: (count,)."""
    k = np.arange(count, dtype=np.int64)
    day, clock = divmod(first, DAY)
    if step.kind == "fixed":
        return first + k * step.n
    if step.kind == "days":
        return first + k * step.n * DAY
    if step.kind == "business":
        number = _business(np.array([day]))[0]
        weeks, weekday = np.divmod(number + k * step.n, 5)
        return (7 * weeks + weekday - 3) * DAY + clock
    year, month, dom = civil_from_days(torch.tensor([day]))
    index = (year * 12 + month - 1) + torch.from_numpy(k) * step.n  # (count,) months
    years, months = torch.div(index, 12, rounding_mode="floor"), torch.remainder(index, 12) + 1
    length = _month_days(years, months)
    doms = length if step.month_end else torch.minimum(dom.expand_as(length), length)
    days = days_from_civil(years, months, doms).numpy()
    return days * DAY + clock


def parse_times(texts: list[str], field: str) -> list[dt.datetime]:
    """ISO 8601 texts as datetimes, all with a UTC offset or all without; 400 on others."""
    out = []
    for i, text in enumerate(texts):
        try:
            out.append(dt.datetime.fromisoformat(text))
        except ValueError:
            raise ApiError(
                400, "invalid_request", f"{field}: {text!r} (index {i}) is not ISO 8601", field
            ) from None
    aware = [t.utcoffset() is not None for t in out]
    if any(aware) and not all(aware):
        raise ApiError(
            400,
            "invalid_request",
            f"{field}: give every time with a UTC offset or none (index {aware.index(False)})",
            field,
        )
    return out


def _offset(t: dt.datetime) -> int:
    """A time's UTC offset in seconds; 0 without one."""
    off = t.utcoffset()
    return 0 if off is None else off // dt.timedelta(seconds=1)


def _show(wall: int, like: dt.datetime, date_only: bool) -> str:
    """Wall-clock seconds as ISO 8601 with the offset of `like`, or a date alone."""
    t = EPOCH + dt.timedelta(seconds=int(wall))
    return t.date().isoformat() if date_only else t.replace(tzinfo=like.tzinfo).isoformat()


def check_regular(
    times: list[dt.datetime], step: Step | None, freq: str | None, field: str
) -> tuple[Step, np.ndarray]:
    """The step the times follow (the model's, or without one their common fixed step) and
    their wall-clock seconds; 400 naming the field on a duplicate or a time off the grid."""
    wall = np.array([wall_seconds(t) for t in times], dtype=np.int64)
    absolute = wall - np.array([_offset(t) for t in times], dtype=np.int64)
    seen, first_at = np.unique(absolute, return_index=True)
    if len(seen) < len(times):
        dup = sorted(set(range(len(times))) - set(first_at.tolist()))[0]
        raise ApiError(
            400,
            "invalid_request",
            f"{field}: duplicate time {times[dup].isoformat()} (index {dup})",
            field,
        )
    grid_name = f"the model's {freq!r} grid" if step is not None else "the step of the first two"
    if step is None:
        if len(times) < 2:
            raise ApiError(
                400,
                "invalid_request",
                f"{field}: give at least two times (the model has no frequency to count in)",
                field,
            )
        step = Step("fixed", int(absolute[1] - absolute[0]))
        if step.n <= 0:
            raise ApiError(400, "invalid_request", f"{field}: times must increase", field)
    if step.kind == "fixed":
        expected, got = absolute[0] + np.arange(len(times)) * step.n, absolute
    else:
        expected, got = grid(int(wall[0]), step, len(times)), wall
    if (off := expected != got).any():
        i = int(off.argmax())
        raise ApiError(
            400,
            "invalid_request",
            f"{field}: time {times[i].isoformat()} (index {i}) is off {grid_name}: "
            f"irregular, unsorted or a gap",
            field,
        )
    return step, wall


def timeline(
    texts: list[str] | None,
    start: str | None,
    length: int,
    horizon: int,
    freq: str | None,
    field: str,
) -> Timeline:
    """A sequence's Timeline from its timestamps (one per value) or its start."""
    step = parse_frequency(freq)
    if texts is not None:
        if len(texts) != length:
            raise ApiError(
                400,
                "invalid_request",
                f"{field}: {len(texts)} times for {length} values; give one per value",
                field,
            )
        times = parse_times(texts, field)
        step, observed = check_regular(times, step, freq, field)
        date_only = all(len(t) == 10 for t in texts)
    else:
        assert start is not None
        if step is None:
            raise ApiError(
                400,
                "invalid_request",
                f"{field}: this model has no regular frequency to count from a start; send "
                "timestamps",
                field,
            )
        times = parse_times([start], field)
        if step.kind == "business" and times[0].weekday() >= 5:
            raise ApiError(
                400, "invalid_request", f"{field}: business days start on a weekday", field
            )
        observed = grid(wall_seconds(times[0]), step, length)
        date_only = len(start) == 10
    ahead = grid(int(observed[-1]), step, horizon + 1)[1:]  # (horizon,) in the last offset
    try:
        shown = [_show(int(w), times[-1], date_only) for w in ahead]
    except (OverflowError, ValueError):
        raise ApiError(
            400, "invalid_request", f"{field}: the forecast's times pass the year 9999", field
        ) from None
    return Timeline(np.concatenate([observed, ahead]), shown)
