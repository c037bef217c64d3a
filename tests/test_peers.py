"""The peer benchmark's pure parts: splits, gap filling, scores, the leakage check, the cache."""

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.peers.protocol import (
    LeakageError,
    Split,
    check_leakage,
    coverage,
    fill_history,
    holdout_size,
    horizon_for,
    make_split,
    naive_hstep,
    naive_onestep,
    scores,
    seasons_for,
)
from bench.peers.report import verdict
from bench.peers.runner import cache_path, load_cached


def monthly(values: list[float]) -> pd.Series:
    """A monthly series from January 2000."""
    return pd.Series(values, index=pd.date_range("2000-01-01", periods=len(values), freq="MS"))


def seasonal(n: int = 144) -> pd.Series:
    """A monthly series with trend and a yearly cycle."""
    k = np.arange(n)
    return monthly(list(100 + 0.5 * k + 10 * np.sin(2 * np.pi * k / 12)))


@pytest.mark.parametrize(
    ("freq", "horizon", "seasons"),
    [
        ("MS", 12, (12,)),
        ("QS", 8, (4,)),
        ("YS", 6, (1,)),
        ("W-SAT", 52, (52,)),
        ("B", 14, (5,)),
        ("D", 14, (7,)),
        ("30min", 48, (48, 336)),
        ("h", 48, (24, 168)),
    ],
)
def test_horizon_and_seasons_follow_the_frequency(freq, horizon, seasons) -> None:
    assert horizon_for(freq) == horizon
    assert seasons_for(freq) == seasons


def test_test_span_is_a_fifth_at_least_h_and_capped() -> None:
    assert holdout_size(144, 12) == 29
    assert holdout_size(50, 12) == 12  # 20% is 10, below H
    assert holdout_size(4032, 48) == 500
    with pytest.raises(ValueError, match="too few"):
        holdout_size(30, 12)


def test_gaps_are_interpolated_in_training_and_carried_forward_in_the_test_span() -> None:
    values = np.array([1.0, math.nan, 3.0, 4.0, math.nan, 6.0])
    filled = fill_history(values, cut=4)
    assert filled.tolist() == [1.0, 2.0, 3.0, 4.0, 4.0, 6.0]  # 4.0, never the later 5.0


def test_split_keeps_the_actuals_and_hashes_the_data() -> None:
    series = seasonal()
    series.iloc[140] = math.nan
    split = make_split("s", series, "MS")
    assert (split.cut, split.horizon, split.season) == (115, 12, 12)
    assert math.isnan(split.values[140]) and split.inputs[140] == split.inputs[139]
    assert split.origins.tolist() == list(range(115, 144))
    assert split.check_origins == [115, 129, 143]
    changed = series.copy()
    changed.iloc[0] += 1
    assert make_split("s", changed, "MS").digest() != split.digest()
    assert make_split("s", series.copy(), "MS").digest() == split.digest()


def test_naive_forecasts_by_hand() -> None:
    split = make_split("s", seasonal(), "MS")
    assert naive_onestep(split, split.inputs)[0] == split.inputs[114]
    assert naive_onestep(split, split.inputs, 12)[1] == split.inputs[116 - 12]
    assert naive_hstep(split).tolist() == [split.inputs[114]] * 12
    assert naive_hstep(split, 12).tolist() == split.inputs[103:115].tolist()


def test_scores_skip_missing_actuals() -> None:
    series = seasonal()
    series.iloc[120] = math.nan
    split = make_split("s", series, "MS")
    actual = series.to_numpy()[115:]
    onestep = np.where(np.isnan(actual), 1e9, actual + 2.0)  # off by 2 wherever scored
    hstep = np.nan_to_num(actual[:12] - 1.0, nan=-1e9)
    scale = float(np.mean(np.abs(split.train[12:] - split.train[:-12])))
    got = scores(split, onestep, hstep)
    assert got["mase1"] == pytest.approx(2.0 / scale)
    assert got["maseh"] == pytest.approx(1.0 / scale)
    assert 0 < got["smape1"] < 5


def test_coverage_counts_present_actuals_inside_the_band() -> None:
    series = seasonal()
    series.iloc[143] = math.nan
    split = make_split("s", series, "MS")
    actual = np.nan_to_num(series.to_numpy()[115:])
    lower, upper = actual - 1, actual + 1
    upper[:7] = actual[:7] - 0.5  # 7 of the 28 scored points fall outside
    assert coverage(split, lower, upper) == pytest.approx(21 / 28)


def rolling(split: Split, method: Callable[[np.ndarray], float], leak: bool) -> np.ndarray:
    """One-step forecasts at every origin; a leaky run also hands over the target itself."""
    return np.array([method(split.inputs[: t + 1 if leak else t]) for t in split.origins])


def last_three_mean(history: np.ndarray) -> float:
    """A fake forecaster: the mean of the last three values."""
    return float(history[-3:].mean())


def recompute(split: Split, method: Callable[[np.ndarray], float]) -> dict[int, float]:
    """The leakage check's forecasts from histories truncated at each checked origin."""
    return {t: method(split.inputs[:t]) for t in split.check_origins}


def test_leakage_check_passes_an_honest_method() -> None:
    split = make_split("s", seasonal(), "MS")
    rows = check_leakage(
        split, "fake", rolling(split, last_three_mean, False), recompute(split, last_three_mean)
    )
    assert [r["origin"] for r in rows] == [115, 129, 143]
    assert all(r["rolling"] == r["truncated"] for r in rows)


def test_leakage_check_fails_a_method_that_sees_its_target() -> None:
    split = make_split("s", seasonal(), "MS")
    leaky = rolling(split, last_three_mean, True)
    with pytest.raises(LeakageError, match="saw something after its origin"):
        check_leakage(split, "fake", leaky, recompute(split, last_three_mean))


def test_leakage_check_fails_when_origins_are_missing() -> None:
    split = make_split("s", seasonal(), "MS")
    honest = rolling(split, last_three_mean, False)
    with pytest.raises(LeakageError, match="checked origins"):
        check_leakage(split, "fake", honest, {115: float(honest[0])})


def test_cache_entries_belong_to_one_split(tmp_path: Path) -> None:
    split = make_split("s", seasonal(), "MS")
    path = cache_path(tmp_path, "s", "gatecast", 1)
    assert path == tmp_path / "s" / "gatecast.s1.json"
    assert cache_path(tmp_path, "s", "naive", None).name == "naive.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"split": split.digest(), "onestep": [1.0]}))
    assert load_cached(path, split) == {"split": split.digest(), "onestep": [1.0]}
    other = make_split("s", seasonal(150), "MS")
    assert load_cached(path, other) is None
    path.write_text(json.dumps({"split": split.digest(), "quick": True}))
    assert load_cached(path, split) is None


def test_verdict_says_by_how_much() -> None:
    assert verdict(1.0, 1.0) == "yes"
    assert verdict(1.04, 1.0, 5.0) == "within (4.0% worse)"
    assert verdict(1.2, 1.0, 5.0) == "**no** (20.0% worse)"
    assert verdict(math.nan, 1.0) == "n/a"
