"""Hand-computed checks of the forecast metrics and naive baselines."""

import math

import numpy as np
import pytest

from scripts.pipeline.scores import (
    Scores,
    mae,
    mase,
    mase_scale,
    naive_forecast,
    rmse,
    score,
    score_by_series,
    seasonal_naive_forecast,
    smape,
)

Y = np.array([1.0, 2.0, 3.0])
YHAT = np.array([1.0, 3.0, 5.0])  # errors 0, 1, 2


def test_point_metrics_by_hand() -> None:
    assert mae(Y, YHAT) == pytest.approx(1.0)
    assert rmse(Y, YHAT) == pytest.approx(math.sqrt(5 / 3))
    # Terms: 0, 200*1/5 = 40, 200*2/8 = 50.
    assert smape(Y, YHAT) == pytest.approx(30.0)
    assert mase(Y, YHAT, 2.0) == pytest.approx(0.5)


def test_metrics_accept_2d_and_ints() -> None:
    y = np.array([[1, 2], [3, 4]])
    yhat = np.array([[2, 2], [3, 6]])
    assert mae(y, yhat) == pytest.approx(0.75)
    assert rmse(y, yhat) == pytest.approx(math.sqrt(5 / 4))


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="shape"):
        mae(np.zeros(3), np.zeros(4))


def test_empty_gives_nan() -> None:
    empty = np.array([])
    assert math.isnan(mae(empty, empty))
    assert math.isnan(rmse(empty, empty))
    assert math.isnan(smape(empty, empty))


def test_smape_zero_terms_count_as_zero() -> None:
    # Terms: 0/0 -> 0, 200*1/1 = 200, 0.
    assert smape(np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 1.0])) == pytest.approx(200 / 3)
    assert smape(np.zeros(4), np.zeros(4)) == 0.0


def test_smape_bounds() -> None:
    assert smape(np.array([1.0]), np.array([-1.0])) == pytest.approx(200.0)
    assert smape(np.array([5.0]), np.array([0.0])) == pytest.approx(200.0)
    assert smape(Y, Y) == 0.0


@pytest.mark.parametrize("scale", [math.nan, 0.0, -1.0, math.inf])
def test_mase_unusable_scale_is_nan(scale: float) -> None:
    assert math.isnan(mase(Y, YHAT, scale))


def test_mase_scale_by_hand() -> None:
    train = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    # Lag 1: |2|, |-1|, |3|, |-1| -> 7/4.
    assert mase_scale(train, 1) == pytest.approx(1.75)
    # Lag 2: |2-1|, |5-3|, |4-2| -> 5/3.
    assert mase_scale(train, 2) == pytest.approx(5 / 3)
    # Lag 4: |4-1| -> 3 (exactly season + 1 points, no fallback).
    assert mase_scale(train, 4) == pytest.approx(3.0)
    # Shorter than season + 1: falls back to lag 1.
    assert mase_scale(train, 12) == pytest.approx(1.75)
    assert mase_scale(train, 5) == pytest.approx(1.75)


def test_mase_scale_too_short_or_flat() -> None:
    assert math.isnan(mase_scale(np.array([3.0]), 1))
    assert math.isnan(mase_scale(np.array([]), 12))
    assert mase_scale(np.full(30, 7.0), 12) == 0.0
    with pytest.raises(ValueError):
        mase_scale(np.arange(5.0), 0)


WINDOW = np.arange(1.0, 25.0)[None, :]  # one window holding 1..24


def test_naive_repeats_last_value() -> None:
    np.testing.assert_array_equal(naive_forecast(WINDOW, 3), [[24.0, 24.0, 24.0]])
    x = np.array([[1.0, 2.0], [5.0, 9.0]])
    np.testing.assert_array_equal(naive_forecast(x, 2), [[2.0, 2.0], [9.0, 9.0]])


def test_seasonal_naive_one_season_back() -> None:
    np.testing.assert_array_equal(seasonal_naive_forecast(WINDOW, 3, 12), [[13.0, 14.0, 15.0]])


def test_seasonal_naive_wraps_past_one_season() -> None:
    expected = [*range(13, 25), 13, 14]
    out = seasonal_naive_forecast(WINDOW, 14, 12)
    assert out.shape == (1, 14)
    np.testing.assert_array_equal(out, [expected])
    # Two full seasons ahead repeats the same season twice.
    np.testing.assert_array_equal(seasonal_naive_forecast(WINDOW, 24, 12), [[*range(13, 25)] * 2])


def test_seasonal_naive_window_equal_to_season() -> None:
    x = np.arange(1.0, 13.0)[None, :]
    np.testing.assert_array_equal(seasonal_naive_forecast(x, 3, 12), [[1.0, 2.0, 3.0]])


def test_seasonal_naive_falls_back_to_naive() -> None:
    x = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]])
    np.testing.assert_array_equal(seasonal_naive_forecast(x, 3, 12), [[5.0, 5.0, 5.0]])


def test_seasonal_naive_season_one_is_naive() -> None:
    np.testing.assert_array_equal(seasonal_naive_forecast(WINDOW, 5, 1), naive_forecast(WINDOW, 5))


def test_seasonal_naive_many_rows() -> None:
    x = np.array([[1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0, 40.0]])
    np.testing.assert_array_equal(
        seasonal_naive_forecast(x, 3, 2), [[3.0, 4.0, 3.0], [30.0, 40.0, 30.0]]
    )


def test_forecast_shape_errors() -> None:
    with pytest.raises(ValueError):
        naive_forecast(np.arange(5.0), 3)
    with pytest.raises(ValueError):
        naive_forecast(WINDOW, 0)
    with pytest.raises(ValueError):
        seasonal_naive_forecast(WINDOW, 3, 0)


def test_score_bundles_metrics() -> None:
    s = score(Y, YHAT, 2.0)
    assert isinstance(s, Scores)
    assert s.mae == pytest.approx(1.0)
    assert s.rmse == pytest.approx(math.sqrt(5 / 3))
    assert s.smape == pytest.approx(30.0)
    assert s.mase == pytest.approx(0.5)
    assert math.isnan(score(Y, YHAT, math.nan).mase)


# Three windows of horizon 2: two from series 0, one from series 1; series 2 has no windows.
BY_Y = np.array([[1.0, 2.0], [3.0, 4.0], [10.0, 10.0]])
BY_YHAT = np.array([[1.0, 3.0], [5.0, 4.0], [12.0, 16.0]])  # errors 0, 1 | 2, 0 | 2, 6
BY_SERIES = np.array([0, 0, 1])


def test_score_by_series_by_hand() -> None:
    s = score_by_series(BY_Y, BY_YHAT, BY_SERIES, np.array([2.0, 4.0, math.nan]))
    assert s.mae == pytest.approx(11 / 6)
    assert s.rmse == pytest.approx(math.sqrt(45 / 6))
    assert s.smape == pytest.approx((40 + 50 + 400 / 22 + 1200 / 26) / 6)
    # Series 0: MAE 3/4 over scale 2 = 0.375; series 1: MAE 4 over scale 4 = 1; mean 0.6875.
    assert s.mase == pytest.approx(0.6875)


def test_score_by_series_skips_unusable_scales() -> None:
    s = score_by_series(BY_Y, BY_YHAT, BY_SERIES, np.array([2.0, math.nan]))
    assert s.mase == pytest.approx(0.375)
    s = score_by_series(BY_Y, BY_YHAT, BY_SERIES, np.array([0.0, 4.0]))
    assert s.mase == pytest.approx(1.0)
    s = score_by_series(BY_Y, BY_YHAT, BY_SERIES, np.array([math.nan, math.nan]))
    assert math.isnan(s.mase)
    assert s.mae == pytest.approx(11 / 6)


def test_score_by_series_nan_forecast_is_not_hidden() -> None:
    yhat = BY_YHAT.copy()
    yhat[2, 0] = math.nan
    assert math.isnan(score_by_series(BY_Y, yhat, BY_SERIES, np.array([2.0, 4.0])).mase)


def test_score_by_series_validates_inputs() -> None:
    with pytest.raises(ValueError):
        score_by_series(BY_Y, BY_YHAT, np.array([0, 1]), np.array([1.0, 1.0]))
    with pytest.raises(ValueError):
        score_by_series(BY_Y, BY_YHAT, np.array([0, 0, 2]), np.array([1.0, 1.0]))
    with pytest.raises(ValueError):
        score_by_series(BY_Y[0], BY_YHAT[0], np.array([0]), np.array([1.0]))
