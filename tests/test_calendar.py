"""Calendar inputs: training and the service compute the same ones for the same times."""

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch

from model.calendar import DAY_NAMES, calendar_arithmetic, calendar_features, recipe
from model.network import NetworkConfig
from scripts.pipeline.csv_series import DataConfig, load_series
from scripts.pipeline.features import calendar_kind, exog_matrix
from service.errors import ApiError
from service.timeline import timeline

# Europe/London around the spring change: 01:00 local does not exist on 2026-03-29.
LONDON = [
    "2026-03-28T22:00:00+00:00",
    "2026-03-28T23:00:00+00:00",
    "2026-03-29T00:00:00+00:00",
    "2026-03-29T02:00:00+01:00",
    "2026-03-29T03:00:00+01:00",
    "2026-03-29T04:00:00+01:00",
]
LEAP = ["2024-02-27", "2024-02-28", "2024-02-29", "2024-03-01", "2024-03-02"]


def training_side(write_csv: Callable[[str, str], str], times: list[str], names: list[str]):
    """The calendar inputs training computes for a CSV of these times, and its frequency."""
    path = write_csv("cal.csv", "time,value\n" + "".join(f"{t},{k}\n" for k, t in enumerate(times)))
    (series,) = load_series(DataConfig(paths=[path]))
    net = NetworkConfig(calendar=names)
    return exog_matrix(series, net), series.freq


def service_side(times: list[str], names: list[str], freq: str) -> np.ndarray:
    """The calendar inputs the service computes for a request with these timestamps."""
    line = timeline(times, None, len(times), 0, freq, "timestamps")
    return calendar_features(torch.from_numpy(line.wall), names).numpy()


def test_training_and_service_agree_across_a_daylight_saving_change(write_csv) -> None:
    names = recipe("sub_daily")
    trained, freq = training_side(write_csv, LONDON, names)
    assert freq == "h" and calendar_kind(freq) == "sub_daily"
    served = service_side(LONDON, names, freq)
    assert np.array_equal(trained, served)
    # Local wall-clock hours: 22, 23, 0, 2, 3, 4 (the clock jumps past 1).
    hours = np.array([22, 23, 0, 2, 3, 4])
    np.testing.assert_allclose(served[:, 0], np.sin(2 * np.pi * hours / 24), atol=1e-6)
    np.testing.assert_allclose(served[:, 1], np.cos(2 * np.pi * hours / 24), atol=1e-6)


def test_training_and_service_agree_across_a_leap_day(write_csv) -> None:
    names = recipe("daily")
    trained, freq = training_side(write_csv, LEAP, names)
    assert freq == "D"
    served = service_side(LEAP, names, freq)
    assert np.array_equal(trained, served)
    # 29 February 2024 is day 59 (from 0) of 366, a Thursday (Monday 0).
    leap_day = served[2]
    assert leap_day[0] == pytest.approx(math.sin(2 * math.pi * 3 / 7), abs=1e-6)
    assert leap_day[2] == pytest.approx(math.sin(2 * math.pi * 59 / 366), abs=1e-6)


def test_the_forecast_steps_continue_in_the_last_offset() -> None:
    line = timeline(LONDON, None, len(LONDON), 2, "h", "timestamps")
    assert line.ahead == ["2026-03-29T05:00:00+01:00", "2026-03-29T06:00:00+01:00"]


@pytest.mark.parametrize(
    ("freq", "start", "ahead"),
    [
        ("MS", "2023-11-01", ["2024-02-01", "2024-03-01"]),
        ("ME", "2023-11-30", ["2024-02-29", "2024-03-31"]),
        ("QS-JAN", "2023-01-01", ["2023-10-01", "2024-01-01"]),
        ("B", "2024-02-28", ["2024-03-04", "2024-03-05"]),  # Wed, Thu, Fri, then Monday
        ("W-SUN", "2024-01-07", ["2024-01-28", "2024-02-04"]),
        ("30min", "2024-01-01T23:00:00", ["2024-01-02T00:30:00", "2024-01-02T01:00:00"]),
    ],
)
def test_a_start_counts_steps_of_the_frequency(freq: str, start: str, ahead: list[str]) -> None:
    assert timeline(None, start, 3, 2, freq, "start").ahead == ahead


def test_a_model_without_frequency_follows_the_step_it_is_given() -> None:
    line = timeline(["2024-01-01T00:00:00", "2024-01-01T00:10:00"], None, 2, 1, None, "timestamps")
    assert line.ahead == ["2024-01-01T00:20:00"]
    with pytest.raises(ApiError) as info:
        timeline(None, "2024-01-01", 2, 1, None, "start")
    assert info.value.field == "start"


def test_mixed_offsets_and_naive_times_are_refused() -> None:
    with pytest.raises(ApiError) as info:
        timeline(
            ["2024-01-01T00:00:00", "2024-01-01T01:00:00+00:00"], None, 2, 1, "h", "timestamps"
        )
    assert info.value.status == 400 and "UTC offset" in str(info.value)


def test_the_day_table_gives_the_arithmetics_values_and_stops_at_its_ends() -> None:
    first, last = -25567, 109573 - 25567 - 1  # 1900-01-01 and 2199-12-31, in days
    inside = torch.cat([torch.arange(first, first + 400), torch.arange(last - 400, last + 1)])
    spans = [inside, torch.arange(first - 3, first + 3), torch.arange(last - 3, last + 3)]
    for days in spans:
        wall = days * 86400 + 3600  # 01:00 on each day
        for names in (list(DAY_NAMES), recipe("daily"), recipe("monthly"), recipe("sub_daily")):
            assert torch.equal(calendar_features(wall, names), calendar_arithmetic(wall, names))
    monday = torch.tensor([4 * 86400])  # 1970-01-05
    assert calendar_features(monday, ["day_of_week_sin", "day_of_week_cos"]).tolist() == [
        [0.0, 1.0]
    ]
