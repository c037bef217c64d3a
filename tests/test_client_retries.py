"""The client's retries, timeouts and errors, against a real local HTTP server that answers
from a script (tests/scripted_server.py): 503s, refused and dropped connections, silence."""

import threading
import time

import numpy as np
import pytest

from bench.server import free_port
from gatecast_client import Client, GatecastError
from tests.scripted_server import Scripted, ScriptedServer, error_body, forecast_body

ANSWER = Scripted(200, forecast_body([1.5, 2.5]))
UNAVAILABLE = error_body("not_ready", "no model is loaded yet: the first scan is running")
SENT = {"sequence": [1.0, 2.0, 3.0], "horizon": 2, "internals": "none", "model": "fake"}


def forecast(client: Client) -> np.ndarray:
    """The forecast of SENT."""
    result = client.forecast([1.0, 2.0, 3.0], 2, model="fake")
    assert isinstance(result.forecast, np.ndarray)
    return result.forecast


def test_503_twice_then_an_answer_waits_retry_after_then_backs_off() -> None:
    script = [Scripted(503, UNAVAILABLE, {"Retry-After": "1"}), Scripted(503, UNAVAILABLE), ANSWER]
    with ScriptedServer(script) as srv:
        got = forecast(Client(srv.url, retries=3, backoff=0.1))
    np.testing.assert_array_equal(got, np.array([1.5, 2.5], dtype=np.float32))
    assert [r.body for r in srv.received] == [SENT] * 3  # the same request each time
    first_wait, second_wait = np.diff([r.at for r in srv.received])
    assert first_wait >= 1.0  # Retry-After: 1
    assert 0.2 <= second_wait < 1.0  # urllib3's backoff: 2 x 0.1 s before the second retry


def test_503_after_every_retry_raises_the_services_error() -> None:
    script = [Scripted(503, UNAVAILABLE, {"X-Request-Id": "r-503"})]
    with ScriptedServer(script) as srv, pytest.raises(GatecastError) as caught:
        forecast(Client(srv.url, retries=2, backoff=0.01))
    assert len(srv.received) == 3
    err = caught.value
    assert (err.status, err.code, err.field) == (503, "not_ready", None)
    assert err.message == UNAVAILABLE["error"]["message"]
    assert err.request_id == "r-503"
    assert str(err) == f"503 not_ready: {err.message}"


def test_connection_refused_until_the_service_listens() -> None:
    srv = ScriptedServer([ANSWER], port=free_port())
    later = threading.Timer(0.5, srv.start)  # nothing listens on the port before then
    later.start()
    try:
        # Attempts at 0, 0, 0.4, 1.2 s (backoff 0.2): one of the later ones connects.
        got = forecast(Client(srv.url, retries=5, backoff=0.2))
    finally:
        later.join()
        srv.stop()
    np.testing.assert_array_equal(got, np.array([1.5, 2.5], dtype=np.float32))
    assert [r.body for r in srv.received] == [SENT]


def test_connection_refused_after_every_retry_raises_unreachable() -> None:
    client = Client(f"http://127.0.0.1:{free_port()}", retries=2, backoff=0.01)
    with pytest.raises(GatecastError) as caught:
        forecast(client)
    assert (caught.value.status, caught.value.code) == (None, "unreachable")
    assert "Connection refused" in caught.value.message


def test_a_connection_dropped_before_the_answer_is_retried() -> None:
    with ScriptedServer([Scripted(drop=True), ANSWER]) as srv:
        got = forecast(Client(srv.url, retries=1, backoff=0.01))
    np.testing.assert_array_equal(got, np.array([1.5, 2.5], dtype=np.float32))
    assert [r.body for r in srv.received] == [SENT, SENT]


def test_a_timeout_raises_and_is_not_retried() -> None:
    with ScriptedServer([Scripted(200, forecast_body([1.0]), delay=3.0)]) as srv:
        start = time.monotonic()
        with pytest.raises(GatecastError) as caught:
            forecast(Client(srv.url, timeout=0.3, retries=3, backoff=0.01))
        took = time.monotonic() - start
        assert len(srv.received) == 1
    assert (caught.value.status, caught.value.code) == (None, "timeout")
    assert took < 2.0


def test_an_answer_that_is_not_the_services_json_raises_bad_response() -> None:
    with ScriptedServer([Scripted(502, b"<html>Bad Gateway</html>")]) as srv:
        with pytest.raises(GatecastError) as caught:
            forecast(Client(srv.url, retries=3, backoff=0.01))
        assert len(srv.received) == 1  # only 503 is retried
    assert (caught.value.status, caught.value.code) == (502, "bad_response")
    assert "Bad Gateway" in caught.value.message


def test_a_forecast_answer_missing_fields_raises_bad_response() -> None:
    answer = Scripted(200, {"model": "fake"})
    with ScriptedServer([answer]) as srv, pytest.raises(GatecastError) as caught:
        forecast(Client(srv.url))
    assert caught.value.code == "bad_response"
    assert caught.value.message == "the /forecast answer lacks 'forecast'"


def test_ready_answers_false_on_503_without_retrying() -> None:
    with ScriptedServer([Scripted(503, UNAVAILABLE)]) as srv:
        assert Client(srv.url, retries=3, backoff=0.01).ready() is False
        assert len(srv.received) == 1
        assert srv.received[0].path == "/readyz"


def test_the_api_key_goes_in_the_authorization_header() -> None:
    with ScriptedServer([ANSWER]) as srv:
        forecast(Client(srv.url, api_key="s3cret"))
        assert Client(srv.url).health() is True
    with_key, without = srv.received
    assert with_key.headers["authorization"] == "Bearer s3cret"
    assert "authorization" not in without.headers


@pytest.mark.parametrize(
    ("url", "timeout", "retries"),
    [
        ("localhost:8000", 1.0, 0),
        ("http://127.0.0.1:8000", 0.0, 0),
        ("http://127.0.0.1:8000", 1.0, -1),
    ],
)
def test_bad_settings_are_refused(url: str, timeout: float, retries: int) -> None:
    with pytest.raises(ValueError):
        Client(url, timeout=timeout, retries=retries)
