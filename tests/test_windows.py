"""Tests for scripts.pipeline.windows: the time split into three parts and window gathering."""

import logging

import numpy as np
import pytest

from scripts.pipeline.csv_series import DataError, Series
from scripts.pipeline.windows import cuts, split_windows, train_part, windows_at


def series(values: list[float] | np.ndarray, name: str = "s") -> Series:
    """A Series without timestamps, for window tests."""
    return Series(name, np.asarray(values, dtype=np.float64), None, None, 0, "mem")


def known(y: np.ndarray) -> list[list[float | None]]:
    """Targets as lists, None where a target lies outside the window's part."""
    return [[None if np.isnan(v) else float(v) for v in row] for row in y]


def test_cuts() -> None:
    assert cuts(10, 0.2) == (8, 9)  # tail 8..9: early stopping 8, calibration 9
    assert cuts(100, 0.2) == (80, 90)
    assert cuts(10, 0.01) == (8, 9)  # at least one point for each half
    assert cuts(10, 0.0) == (10, 10)


def test_split_windows_exact() -> None:
    split = split_windows([series(np.arange(12.0))], history=3, horizon=2, val_fraction=0.34)
    # 12 points, tail of 4: training targets 0..7, early stopping 8..9, calibration 10..11.
    assert split.train.x.dtype == np.float32 and split.train.y.dtype == np.float32
    assert split.train.origin.tolist() == [3, 4, 5, 6, 7]
    assert split.train.x[0].tolist() == [0.0, 1.0, 2.0]
    assert known(split.train.y)[-2:] == [[6.0, 7.0], [7.0, None]]
    assert split.val.origin.tolist() == [7, 8, 9]
    assert known(split.val.y) == [[None, 8.0], [8.0, 9.0], [9.0, None]]
    assert split.calib.origin.tolist() == [9, 10, 11]
    assert known(split.calib.y) == [[None, 10.0], [10.0, 11.0], [11.0, None]]
    assert split.calib.x[0].tolist() == [6.0, 7.0, 8.0]  # inputs may reach back
    assert split.skipped == []


def test_stride_thins_training_windows_only() -> None:
    split = split_windows([series(np.arange(20.0))], history=2, val_fraction=0.25, stride=3)
    assert split.train.origin.tolist() == [2, 5, 8, 11, 14]
    assert split.val.origin.tolist() == [15, 16]  # tail of 5: stopping 15..16
    assert split.calib.origin.tolist() == [17, 18, 19]


@pytest.mark.parametrize("seed", range(6))
def test_property_each_part_knows_only_its_own_targets(seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = [series(rng.normal(size=int(rng.integers(20, 90))), f"s{i}") for i in range(5)]
    history, horizon = int(rng.integers(1, 8)), int(rng.integers(1, 5))
    val_fraction, stride = float(rng.choice([0.1, 0.2, 0.35, 0.5])), int(rng.integers(1, 4))
    split = split_windows(data, history, horizon, val_fraction, stride)
    for name, part in (("train", split.train), ("val", split.val), ("calib", split.calib)):
        assert len(part.x) > 0
        for x, y, i, o in zip(part.x, part.y, part.series, part.origin, strict=True):
            values, n = data[i].values, len(data[i].values)
            cut, cal = cuts(n, val_fraction)
            lo, hi = {"train": (0, cut), "val": (cut, cal), "calib": (cal, n)}[name]
            np.testing.assert_array_equal(x, values[o - history : o].astype(np.float32))
            at = o + np.arange(horizon)
            inside = (at >= lo) & (at < hi)
            assert inside.any()  # every window has at least one target in its part
            np.testing.assert_array_equal(y[inside], values[at[inside]].astype(np.float32))
            assert np.isnan(y[~inside]).all()


def test_short_series_are_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    data = [series([1.0, 2.0, 3.0], "tiny"), series(np.arange(20.0), "long")]
    with caplog.at_level(logging.WARNING, logger="scripts.pipeline.windows"):
        split = split_windows(data, history=3)
    assert split.skipped == ["tiny"]
    assert "'tiny'" in caplog.text and "skipped" in caplog.text
    assert set(split.train.series.tolist()) == {1}  # indices point into the full list
    assert set(split.calib.series.tolist()) == {1}


def test_all_series_too_short_is_an_error() -> None:
    data = [series(np.arange(5.0), "a"), series(np.arange(7.0), "b")]
    with pytest.raises(DataError, match="no series is long enough for a history of 10"):
        split_windows(data, history=10, horizon=2)


def test_val_fraction_zero_gives_empty_held_out_parts() -> None:
    split = split_windows([series(np.arange(6.0))], history=2, horizon=3, val_fraction=0)
    assert split.train.origin.tolist() == [2, 3, 4, 5]
    assert split.val.x.shape == (0, 2) and split.calib.y.shape == (0, 3)
    assert split.val.series.shape == (0,) and split.calib.origin.dtype == np.int64


@pytest.mark.parametrize(
    ("history", "horizon", "val_fraction", "stride"),
    [(0, 1, 0.2, 1), (3, 0, 0.2, 1), (3, 1, -0.1, 1), (3, 1, 1.0, 1), (3, 1, 0.2, 0)],
)
def test_bad_split_arguments(history: int, horizon: int, val_fraction: float, stride: int) -> None:
    with pytest.raises(DataError, match="need ints >= 1"):
        split_windows([series(np.arange(50.0))], history, horizon, val_fraction, stride)


def test_no_series_is_an_error() -> None:
    with pytest.raises(DataError, match="no series"):
        split_windows([], history=3)


def test_train_part() -> None:
    s = series(np.arange(10.0))
    assert train_part(s, 0.2).tolist() == list(range(8))
    assert train_part(s, 0.0).tolist() == list(range(10))


def test_windows_at_gathers_given_origins() -> None:
    data = [series(np.arange(10.0), "a"), series(np.arange(100.0, 106.0), "b")]
    w = windows_at(data, [np.array([3, 9]), np.array([2], dtype=np.int32)], history=2, horizon=2)
    assert w.x.tolist() == [[1.0, 2.0], [7.0, 8.0], [100.0, 101.0]]
    assert known(w.y) == [[3.0, 4.0], [9.0, None], [102.0, 103.0]]
    assert (w.series.tolist(), w.origin.tolist()) == ([0, 0, 1], [3, 9, 2])
    assert w.x.dtype == np.float32 and w.origin.dtype == np.int64 and w.series.dtype == np.int64


@pytest.mark.parametrize("origin", [1, 10])
def test_windows_at_rejects_origins_out_of_range(origin: int) -> None:
    with pytest.raises(DataError, match=r"origins for 'a' must lie in \[2, 9\]"):
        windows_at([series(np.arange(10.0), "a")], [np.array([origin])], history=2, horizon=2)
