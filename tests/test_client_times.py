"""Forecast times, covariates and series ids: what the client sends, and results indexed by
the answer's `timestamps`. A local HTTP server answers in the /forecast shape with times
(`timestamps`: ISO 8601 per forecast step, one list per sequence for a batch), so these
tests hold for any model, with or without a frequency."""

from typing import Any

import numpy as np
import pandas as pd

from gatecast_client import Client, ForecastResult, Internals
from tests.scripted_server import Scripted, ScriptedServer, forecast_body

MONTHS = pd.date_range("2024-01-01", periods=4, freq="MS")
NEXT = ["2024-05-01T00:00:00", "2024-06-01T00:00:00"]


def exchange(
    values: Any, answer: dict[str, Any], **kwargs: Any
) -> tuple[dict[str, Any], ForecastResult]:
    """The request body a forecast of `values` sends, and its result for `answer`."""
    with ScriptedServer([Scripted(200, answer)]) as srv:
        result = Client(srv.url).forecast(values, **kwargs)
    (received,) = srv.received
    return received.body, result


def test_a_series_with_a_datetime_index_sends_its_times_and_gets_an_indexed_series() -> None:
    values = pd.Series([1.0, 2.0, 3.0, 4.0], index=MONTHS, name="sales")
    interval = {"level": 0.9, "lower": [4.0, 5.0], "upper": [6.0, 7.0]}
    answer = forecast_body([5.0, 6.0], timestamps=NEXT, interval=interval)
    body, result = exchange(values, answer, horizon=2, interval=0.9)
    assert body["timestamps"] == [t.isoformat() for t in MONTHS]
    expected = pd.DatetimeIndex(NEXT)
    assert isinstance(result.timestamps, pd.DatetimeIndex)
    pd.testing.assert_index_equal(result.timestamps, expected)
    assert isinstance(result.forecast, pd.Series)
    assert isinstance(result.lower, pd.Series) and isinstance(result.upper, pd.Series)
    pd.testing.assert_series_equal(
        result.forecast,
        pd.Series(np.array([5.0, 6.0], dtype=np.float32), index=expected, name="sales"),
    )
    pd.testing.assert_series_equal(
        result.lower,
        pd.Series(np.array([4.0, 5.0], dtype=np.float32), index=expected, name="sales"),
    )
    pd.testing.assert_series_equal(
        result.upper,
        pd.Series(np.array([6.0, 7.0], dtype=np.float32), index=expected, name="sales"),
    )
    assert result.level == 0.9


def test_a_dataframe_gets_a_dataframe_with_one_column_per_sequence() -> None:
    frame = pd.DataFrame({"a": [np.nan, 2.0, 3.0, 4.0], "b": [1.0, 2.0, 3.0, 4.0]}, index=MONTHS)
    answer = forecast_body([[5.0, 6.0], [7.0, 8.0]], timestamps=[NEXT, NEXT])
    body, result = exchange(frame, answer, horizon=2)
    assert body["sequences"] == [[2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]]
    assert body["timestamps"] == [
        [t.isoformat() for t in MONTHS[1:]],
        [t.isoformat() for t in MONTHS],
    ]
    expected = pd.DataFrame(
        {"a": np.array([5.0, 6.0], dtype=np.float32), "b": np.array([7.0, 8.0], dtype=np.float32)},
        index=pd.DatetimeIndex(NEXT),
    )
    assert isinstance(result.forecast, pd.DataFrame)
    pd.testing.assert_frame_equal(result.forecast, expected)
    assert result.lower is None and result.upper is None


def test_a_batch_with_different_times_is_one_frame_on_their_union() -> None:
    later = ["2024-06-01T00:00:00", "2024-07-01T00:00:00"]
    answer = forecast_body([[5.0, 6.0], [7.0, 8.0]], timestamps=[NEXT, later])
    _, result = exchange([[1.0, 2.0], [3.0, 4.0]], answer, horizon=2)
    union = pd.DatetimeIndex([NEXT[0], NEXT[1], later[1]])
    expected = pd.DataFrame({0: [5.0, 6.0, np.nan], 1: [np.nan, 7.0, 8.0]}, index=union)
    assert isinstance(result.forecast, pd.DataFrame)
    pd.testing.assert_frame_equal(result.forecast, expected.astype(np.float32), check_freq=False)
    assert isinstance(result.timestamps, list)
    assert [list(t) for t in result.timestamps] == [
        list(pd.DatetimeIndex(t)) for t in (NEXT, later)
    ]


def test_time_zones_are_kept() -> None:
    values = pd.Series([1.0, 2.0], index=pd.date_range("2024-01-01", periods=2, freq="h", tz="UTC"))
    answer = forecast_body([3.0], timestamps=["2024-01-01T02:00:00+00:00"])
    body, result = exchange(values, answer)
    assert body["timestamps"] == ["2024-01-01T00:00:00+00:00", "2024-01-01T01:00:00+00:00"]
    assert isinstance(result.forecast, pd.Series)
    assert result.forecast.index[0] == pd.Timestamp("2024-01-01T02:00:00", tz="UTC")


def test_times_across_a_change_of_offset_are_given_in_utc() -> None:
    stamps = ["2024-03-31T01:00:00+01:00", "2024-03-31T03:00:00+02:00"]  # Berlin's DST start
    _, result = exchange([1.0, 2.0], forecast_body([3.0, 4.0], timestamps=stamps), horizon=2)
    assert isinstance(result.forecast, pd.Series)
    assert isinstance(result.forecast.index, pd.DatetimeIndex)
    assert str(result.forecast.index.tz) == "UTC"
    assert list(result.forecast.index) == [
        pd.Timestamp("2024-03-31T00:00:00", tz="UTC"),
        pd.Timestamp("2024-03-31T01:00:00", tz="UTC"),
    ]


def test_an_answer_without_times_gives_arrays() -> None:
    values = pd.Series([1.0, 2.0, 3.0, 4.0], index=MONTHS)
    _, result = exchange(values, forecast_body([5.0, 6.0]), horizon=2)
    assert isinstance(result.forecast, np.ndarray)
    assert result.timestamps is None


def test_start_covariates_and_series_are_sent_as_given() -> None:
    covariates = {"price": np.array([1.0, 2.0, 3.0]), "holiday": [0, 0, 1]}
    body, _ = exchange(
        [1.0, 2.0],
        forecast_body([5.0]),
        start=pd.Timestamp("2024-01-01"),
        covariates=covariates,
        series="store-7",
    )
    assert body["start"] == "2024-01-01T00:00:00"
    assert body["covariates"] == {"price": [1.0, 2.0, 3.0], "holiday": [0.0, 0.0, 1.0]}
    assert body["series"] == "store-7"
    assert "timestamps" not in body


def test_a_batch_sends_covariates_and_times_per_sequence() -> None:
    frame = pd.DataFrame({"price": [1.0, 2.0, 3.0]})
    body, _ = exchange(
        [[1.0, 2.0], [3.0, 4.0]],
        forecast_body([[5.0], [6.0]]),
        timestamps=[["2024-01-01", "2024-02-01"], MONTHS[:2]],
        start=["2024-01-01", "2024-03-01"],
        covariates=[frame, {"price": [4.0, 5.0, 6.0]}],
        series=["a", "b"],
    )
    assert body["timestamps"] == [
        ["2024-01-01", "2024-02-01"],
        ["2024-01-01T00:00:00", "2024-02-01T00:00:00"],
    ]
    assert body["start"] == ["2024-01-01", "2024-03-01"]
    assert body["covariates"] == [{"price": [1.0, 2.0, 3.0]}, {"price": [4.0, 5.0, 6.0]}]
    assert body["series"] == ["a", "b"]


def test_internals_with_the_models_inputs() -> None:
    layer = {name: [[0.5], [0.25]] for name in ("input_gate", "forget_gate", "candidate")}
    layer |= {name: [[1.0], [2.0]] for name in ("output_gate", "cell_state", "hidden_state")}
    internals = {
        "steps": 2,
        "observed_steps": 2,
        "first_step": 0,
        "layers": [layer],
        "inputs": [[0.1, 1.0], [0.2, 0.0]],
        "input_names": ["value", "holiday"],
    }
    _, result = exchange([1.0, 2.0], forecast_body([5.0], internals=internals), internals="all")
    assert isinstance(result.internals, Internals)
    assert result.internals.values.shape == (1, 6, 2, 1)
    np.testing.assert_array_equal(
        result.internals["cell_state"], np.array([[[1.0], [2.0]]], dtype=np.float32)
    )
    np.testing.assert_array_equal(
        result.internals.inputs, np.array([[0.1, 1.0], [0.2, 0.0]], dtype=np.float32)
    )
    assert result.internals.input_names == ("value", "holiday")
