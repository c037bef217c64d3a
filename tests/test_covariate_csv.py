"""Covariate columns in the CSV layouts, and missing covariate values."""

import numpy as np
import pytest

from scripts.pipeline.csv_series import DataConfig, DataError, load_series

WIDE = """date,a,b,price
2024-01-01,1,10,5
2024-01-02,2,20,
2024-01-03,3,30,7
"""
LONG = """id,date,value,price,note
x,2024-01-01,1,5,p
x,2024-01-02,2,6,q
y,2024-01-01,3,8,r
y,2024-01-02,4,9,s
"""


def test_a_wide_csv_shares_its_covariates_and_fills_their_gaps(write_csv) -> None:
    path = write_csv("wide.csv", WIDE)
    found = load_series(DataConfig(paths=[path], future_covariates=["price"]))
    assert [s.name for s in found] == ["a", "b"]  # price is no series
    for s in found:
        np.testing.assert_allclose(s.covariates["price"], [5.0, 6.0, 7.0])  # interpolated


def test_a_long_csv_has_covariates_per_row(write_csv) -> None:
    path = write_csv("long.csv", LONG)
    found = load_series(DataConfig(paths=[path], past_covariates=["price"]))
    got = {s.name: s.covariates["price"].tolist() for s in found}
    assert got == {"x": [5.0, 6.0], "y": [8.0, 9.0]}


def test_missing_covariate_values_follow_the_missing_policy(write_csv) -> None:
    path = write_csv("wide.csv", WIDE)
    with pytest.raises(DataError, match=r"covariate 'price'.*1 missing values"):
        load_series(DataConfig(paths=[path], future_covariates=["price"], missing="error"))
    found = load_series(DataConfig(paths=[path], future_covariates=["price"], missing="ffill"))
    np.testing.assert_allclose(found[0].covariates["price"], [5.0, 5.0, 7.0])


def test_an_absent_covariate_column_is_named(write_csv) -> None:
    path = write_csv("long.csv", LONG)
    with pytest.raises(DataError, match="no covariate column 'rain'"):
        load_series(DataConfig(paths=[path], past_covariates=["rain"]))


AHEAD = """date,value,temp,price
2024-01-01,1,20,5
2024-01-02,2,21,6
2024-01-03,3,22,7
2024-01-04,,,8
2024-01-05,,,
2024-01-06,,,10
"""


def test_rows_after_the_last_value_hold_the_horizon_when_forecasting(write_csv) -> None:
    path = write_csv("ahead.csv", AHEAD)
    cfg = DataConfig(paths=[path], past_covariates=["temp"], future_covariates=["price"])
    (s,) = load_series(cfg, ahead=True)
    assert s.values.tolist() == [1.0, 2.0, 3.0] and s.filled == 0
    assert s.timestamps is not None and s.wall is not None
    assert len(s.timestamps) == len(s.wall) == 3  # the observed days alone
    got = {name: column.tolist() for name, column in s.covariates.items()}
    assert got == {"temp": [20.0, 21.0, 22.0], "price": [5.0, 6.0, 7.0]}
    assert list(s.ahead) == ["price"]  # a gap interpolates, as in training
    assert s.ahead["price"].tolist() == [8.0, 9.0, 10.0]
    with pytest.raises(DataError, match=r"'price'.*1 missing values \(first at horizon row 2"):
        load_series(DataConfig(**{**cfg.__dict__, "missing": "error"}), ahead=True)


def test_training_reads_rows_without_a_value_as_missing_values(write_csv) -> None:
    path = write_csv("ahead.csv", AHEAD)
    cfg = DataConfig(paths=[path], past_covariates=["temp"], future_covariates=["price"])
    (s,) = load_series(cfg)
    assert s.values.tolist() == [1.0, 2.0, 3.0, 3.0, 3.0, 3.0] and s.filled == 3
    assert s.ahead == {}
    with pytest.raises(DataError, match="has 3 missing values"):
        load_series(DataConfig(**{**cfg.__dict__, "missing": "error"}))
