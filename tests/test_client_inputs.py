"""What the client sends for each form of input: the request bodies a local server received."""

from typing import Any

import numpy as np
import pandas as pd
import pytest

from gatecast_client import Client, State
from tests.scripted_server import Scripted, ScriptedServer, forecast_body

ONE = Scripted(200, forecast_body([9.0]))
TWO = Scripted(200, forecast_body([[9.0], [8.0]]))


def sent(values: Any, answer: Scripted = ONE, **kwargs: Any) -> dict[str, Any]:
    """The body a forecast of `values` sends."""
    with ScriptedServer([answer]) as srv:
        Client(srv.url).forecast(values, **kwargs)
    (received,) = srv.received
    assert received.method == "POST" and received.path == "/forecast"
    body: dict[str, Any] = received.body
    return body


@pytest.mark.parametrize(
    "values",
    [
        [1, 2.5, 3],
        (1, 2.5, 3),
        np.array([1, 2.5, 3]),
        np.array([1, 2.5, 3], dtype=np.float32),
        pd.Series([1, 2.5, 3], index=[10, 11, 12]),
    ],
)
def test_one_sequence_in_any_form(values: Any) -> None:
    body = sent(values)
    assert body == {"sequence": [1.0, 2.5, 3.0], "horizon": 1, "internals": "none"}


@pytest.mark.parametrize(
    "values",
    [
        np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
        [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]],
        [np.array([1.0, 2.0, 3.0]), pd.Series([4.0, 5.0, 6.0])],
        pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]}),
    ],
)
def test_a_batch_in_any_form(values: Any) -> None:
    body = sent(values, TWO, horizon=2)
    assert body["sequences"] == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert "sequence" not in body and "timestamps" not in body


def test_dataframe_columns_of_different_lengths_lose_their_leading_and_trailing_nan() -> None:
    frame = pd.DataFrame({"a": [np.nan, 2.0, 3.0, 4.0], "b": [1.0, 2.0, 3.0, np.nan]})
    assert sent(frame, TWO)["sequences"] == [[2.0, 3.0, 4.0], [1.0, 2.0, 3.0]]


def test_every_request_field() -> None:
    state = State.zeros(1, 2, loc=5.0, scale=2.0)
    body = sent(
        [1.0, 2.0],
        horizon=3,
        model="m",
        version="v",
        internals="last",
        interval=0.8,
        state=state,
        return_state=True,
    )
    assert body == {
        "sequence": [1.0, 2.0],
        "horizon": 3,
        "model": "m",
        "version": "v",
        "internals": "last",
        "interval": 0.8,
        "state": {"h": [[0.0, 0.0]], "c": [[0.0, 0.0]], "loc": 5.0, "scale": 2.0},
        "return_state": True,
    }


def test_a_batch_takes_one_state_per_sequence() -> None:
    states = [
        State(np.array([[0.25]], dtype=np.float32), np.array([[-1.5]], dtype=np.float32)),
        {"h": [[1.0]], "c": [[2.0]]},
    ]
    body = sent([[1.0], [2.0]], TWO, state=states)
    assert body["state"] == [{"h": [[0.25]], "c": [[-1.5]]}, {"h": [[1.0]], "c": [[2.0]]}]


@pytest.mark.parametrize(
    ("values", "error", "match"),
    [
        ([1.0, float("nan")], ValueError, r"sequence\[1\] is nan"),
        ([[1.0], [2.0, float("inf")]], ValueError, r"sequences\[1\]\[1\] is inf"),
        (pd.DataFrame({"x": [1.0, np.nan, 3.0]}), ValueError, r"column 'x'\[1\] is nan"),
        (pd.DataFrame({"x": [np.nan, np.nan]}), ValueError, "column 'x' holds no values"),
        (np.zeros((2, 2, 2)), ValueError, r"shaped \(2, 2, 2\)"),
        ("1,2,3", TypeError, "not str"),
    ],
)
def test_bad_values_are_refused_before_anything_is_sent(
    values: Any, error: type[Exception], match: str
) -> None:
    with ScriptedServer([ONE]) as srv, pytest.raises(error, match=match):
        Client(srv.url).forecast(values)
    assert srv.received == []


def test_an_unknown_internals_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="internals must be one of"):
        Client("http://127.0.0.1:9").forecast([1.0], internals="some")  # type: ignore[arg-type]


def test_half_a_scaling_is_refused() -> None:
    with pytest.raises(ValueError, match="give both loc and scale"):
        State.zeros(1, 1, loc=1.0)
