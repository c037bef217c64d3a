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
