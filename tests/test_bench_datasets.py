"""The benchmark datasets built from ISLP's bundled CSVs: their shape, grid and CSV format
(skipped where the optional ISLP package is not installed)."""

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from bench import datasets

needs_islp = pytest.mark.skipif(
    importlib.util.find_spec("ISLP") is None, reason="ISLP (the bench extra) is not installed"
)


@needs_islp
def test_bikeshare_daily_is_every_day_of_2011_with_its_covariates(tmp_path: Path) -> None:
    frame = datasets.load("bikeshare_daily")
    datasets.validate("bikeshare_daily", frame)
    assert list(frame.columns) == ["value", "temp", "hum", "windspeed", "workingday"]
    assert len(frame) == 365
    assert frame.index[0] == pd.Timestamp("2011-01-01")
    assert frame.index[-1] == pd.Timestamp("2011-12-31")
    assert frame["value"].iloc[0] == 654.0  # UCI's registered count of 1 January 2011
    assert set(frame["workingday"].unique()) == {0.0, 1.0}
    weekend = pd.DatetimeIndex(frame.index).day_of_week >= 5
    assert (frame.loc[weekend, "workingday"] == 0).all()
    # The weekday effect is real: weekends well below the centred week's mean.
    ratio = frame["value"] / frame["value"].rolling(7, center=True).mean()
    assert ratio[weekend].mean() < 0.85 < 1.0 < ratio[~weekend].mean()
    path = tmp_path / "bikeshare_daily.csv"
    datasets.write_csv(frame, path)
    lines = path.read_text().splitlines()
    assert lines[0] == "timestamp,value,temp,hum,windspeed,workingday"
    assert lines[1].startswith("2011-01-01,654.0,") and lines[1].endswith(",0.0")
    assert len(lines) == 366


@needs_islp
def test_nyse_volume_keeps_its_holidays_as_gaps_in_every_column(tmp_path: Path) -> None:
    frame = datasets.load("nyse_volume_business_daily")
    datasets.validate("nyse_volume_business_daily", frame)
    assert list(frame.columns) == ["value", "dj_return", "log_volatility"]
    assert len(frame) == datasets.NYSE_DAYS
    assert frame.index[-1] == pd.Timestamp("1986-12-31")
    days = pd.bdate_range(frame.index[0], periods=len(frame))  # every business day, no gap
    assert pd.DatetimeIndex(frame.index).equals(days)
    christmas = pd.Timestamp("1986-12-25")
    assert frame.loc[christmas].isna().all()
    assert frame.notna().all(axis=1).sum() > 0.95 * len(frame)
    path = tmp_path / "nyse.csv"
    datasets.write_csv(frame, path)
    lines = path.read_text().splitlines()
    assert lines[0] == "timestamp,value,dj_return,log_volatility"
    assert "1986-12-25,,," in lines


def test_every_dataset_with_covariates_names_its_columns_once() -> None:
    for name, cov in datasets.COVARIATES.items():
        assert name in datasets.BUILDERS and name in datasets.PROVENANCE
        assert len(set(cov.names)) == len(cov.names) and "value" not in cov.names
