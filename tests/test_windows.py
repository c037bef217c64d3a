"""Tests for scripts.pipeline.windows: the time split and window gathering."""

import logging

import numpy as np
import pytest

from scripts.pipeline.csv_series import DataError, Series
from scripts.pipeline.windows import split_windows, train_part, windows_at


def series(values: list[float] | np.ndarray, name: str = "s") -> Series:
    """A Series without timestamps, for window tests."""
    return Series(name, np.asarray(values, dtype=np.float64), None, None, 0, "mem")


def test_split_windows_exact() -> None:
    split = split_windows([series(np.arange(10.0))], window=3, horizon=1, val_fraction=0.2)
    assert split.train.x.dtype == np.float32 and split.train.y.dtype == np.float32
    assert split.train.series.dtype == np.int64 and split.train.origin.dtype == np.int64
    assert split.train.origin.tolist() == [3, 4, 5, 6, 7]  # cut = 8: targets 3..7
    assert split.train.x[0].tolist() == [0.0, 1.0, 2.0]
    assert split.train.y[:, 0].tolist() == [3.0, 4.0, 5.0, 6.0, 7.0]
    assert split.val.origin.tolist() == [8, 9]
    assert split.val.x.tolist() == [[5.0, 6.0, 7.0], [6.0, 7.0, 8.0]]  # inputs may reach back
    assert split.val.y.tolist() == [[8.0], [9.0]]
    assert split.skipped == []


def test_straddling_windows_are_in_neither_set() -> None:
    split = split_windows([series(np.arange(10.0))], window=3, horizon=2, val_fraction=0.3)
    assert split.train.origin.tolist() == [3, 4, 5]  # cut = 7: last targets 5, 6
    assert split.val.origin.tolist() == [7, 8]
    assert split.val.y.tolist() == [[7.0, 8.0], [8.0, 9.0]]
    assert split.train.y.shape == (3, 2) and split.train.x.shape == (3, 3)


def test_stride() -> None:
    split = split_windows([series(np.arange(20.0))], window=2, val_fraction=0.25, stride=3)
    assert split.train.origin.tolist() == [2, 5, 8, 11, 14]
    assert split.val.origin.tolist() == [15, 18]


@pytest.mark.parametrize("seed", range(6))
def test_split_property_no_train_target_reaches_the_cut(seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = [series(rng.normal(size=int(rng.integers(3, 90))), f"s{i}") for i in range(5)]
    window, horizon = int(rng.integers(1, 8)), int(rng.integers(1, 5))
    val_fraction, stride = float(rng.choice([0.1, 0.2, 0.35, 0.5])), int(rng.integers(1, 4))
    split = split_windows(data, window, horizon, val_fraction, stride)
    assert len(split.train.x) > 0 and len(split.val.x) > 0
    seen: dict[bool, set[tuple[int, int]]] = {True: set(), False: set()}
    for part, is_train in ((split.train, True), (split.val, False)):
        for x, y, i, o in zip(part.x, part.y, part.series, part.origin, strict=True):
            values, n = data[i].values, len(data[i].values)
            cut = len(train_part(data[i], val_fraction))
            assert cut == min(n - round(n * val_fraction), n - 1)
            assert o + horizon - 1 < cut if is_train else o >= cut
            assert o - window >= 0 and o + horizon <= n
            np.testing.assert_array_equal(x, values[o - window : o].astype(np.float32))
            np.testing.assert_array_equal(y, values[o : o + horizon].astype(np.float32))
            seen[is_train].add((int(i), int(o)))
    assert not seen[True] & seen[False]
    for i, s in enumerate(data):  # every eligible origin is used, given the stride
        n, cut = len(s.values), len(train_part(s, val_fraction))
        if n >= window + horizon:
            train = set(range(window, cut - horizon + 1, stride))
            val = set(range(max(cut, window), n - horizon + 1, stride))
            assert {o for j, o in seen[True] if j == i} == train
            assert {o for j, o in seen[False] if j == i} == val
        else:
            assert s.name in split.skipped


def test_short_series_are_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    data = [series([1.0, 2.0], "tiny"), series(np.arange(10.0), "long")]
    with caplog.at_level(logging.WARNING, logger="scripts.pipeline.windows"):
        split = split_windows(data, window=3)
    assert split.skipped == ["tiny"]
    assert "'tiny'" in caplog.text and "skipped" in caplog.text
    assert set(split.train.series.tolist()) == {1}  # indices point into the full list
    assert split.val.series.tolist() == [1, 1]


def test_all_series_too_short_is_an_error() -> None:
    data = [series(np.arange(5.0), "a"), series(np.arange(7.0), "b")]
    with pytest.raises(DataError) as info:
        split_windows(data, window=10, horizon=2)
    assert str(info.value) == (
        "no series has at least window + horizon = 12 points; longest is 'b' with 7"
    )


def test_val_fraction_zero_gives_empty_val() -> None:
    split = split_windows([series(np.arange(6.0))], window=2, horizon=3, val_fraction=0)
    assert split.train.origin.tolist() == [2, 3]
    assert split.val.x.shape == (0, 2) and split.val.y.shape == (0, 3)
    assert split.val.series.shape == (0,) and split.val.origin.dtype == np.int64


def test_at_least_one_validation_point() -> None:
    split = split_windows([series(np.arange(10.0))], window=3, val_fraction=0.01)
    assert split.val.origin.tolist() == [9]
    assert train_part(series(np.arange(10.0)), 0.01).tolist() == list(range(9))


def test_no_validation_windows_is_an_error() -> None:
    with pytest.raises(DataError, match=r"no validation windows.*--val-fraction"):
        split_windows([series(np.arange(10.0))], window=3, horizon=3, val_fraction=0.1)


def test_series_without_val_window_is_fine_when_another_has_one() -> None:
    data = [series(np.arange(10.0), "a"), series(np.arange(40.0), "b")]
    split = split_windows(data, window=3, horizon=3, val_fraction=0.1)
    assert set(split.val.series.tolist()) == {1}
    assert set(split.train.series.tolist()) == {0, 1}


def test_no_training_windows_is_an_error() -> None:
    with pytest.raises(DataError, match="no training windows"):
        split_windows([series(np.arange(5.0))], window=4, horizon=1, val_fraction=0.2)


@pytest.mark.parametrize(
    ("window", "horizon", "val_fraction", "stride"),
    [(0, 1, 0.2, 1), (3, 0, 0.2, 1), (3, 1, -0.1, 1), (3, 1, 1.0, 1), (3, 1, 0.2, 0)],
)
def test_bad_split_arguments(window: int, horizon: int, val_fraction: float, stride: int) -> None:
    with pytest.raises(DataError, match="need ints >= 1"):
        split_windows([series(np.arange(50.0))], window, horizon, val_fraction, stride)


def test_no_series_is_an_error() -> None:
    with pytest.raises(DataError, match="no series"):
        split_windows([], window=3)


def test_train_part() -> None:
    s = series(np.arange(10.0))
    assert train_part(s, 0.2).tolist() == list(range(8))
    assert train_part(s, 0.0).tolist() == list(range(10))
    assert train_part(s, 0.25).tolist() == list(range(8))  # round(2.5) == 2


def test_windows_at_gathers_given_origins() -> None:
    data = [series(np.arange(10.0), "a"), series(np.arange(100.0, 106.0), "b")]
    w = windows_at(data, [np.array([3, 8]), np.array([2], dtype=np.int32)], window=2, horizon=2)
    assert w.x.tolist() == [[1.0, 2.0], [6.0, 7.0], [100.0, 101.0]]
    assert w.y.tolist() == [[3.0, 4.0], [8.0, 9.0], [102.0, 103.0]]
    assert (w.series.tolist(), w.origin.tolist()) == ([0, 0, 1], [3, 8, 2])
    assert w.x.dtype == np.float32 and w.origin.dtype == np.int64 and w.series.dtype == np.int64


@pytest.mark.parametrize("origin", [1, 9])
def test_windows_at_rejects_origins_out_of_range(origin: int) -> None:
    with pytest.raises(DataError, match=r"origins for 'a' must lie in \[2, n - 2\]"):
        windows_at([series(np.arange(10.0), "a")], [np.array([origin])], window=2, horizon=2)
