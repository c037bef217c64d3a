"""Every bad input gets a JSON error with a stable code and the offending field."""

import io
from pathlib import Path

import numpy as np
import pytest
import torch

from service import ServiceConfig, create_app
from service.errors import ApiError
from service.inference import IntervalOffsets, ModelOutputs, split
from service.render import check_finite

JSON = "application/json"


def error_of(response, status: int) -> dict:
    """Assert a JSON error with this status and return its error object."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == JSON
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    assert "Traceback" not in body["error"]["message"]
    return body["error"]


@pytest.fixture(scope="module")
def small(model_dir: Path):
    """A client with tight limits, so the limits are cheap to exceed."""
    cfg = ServiceConfig(
        model_dir=str(model_dir),
        poll_seconds=0,
        max_sequence_length=8,
        max_batch=2,
        max_horizon=3,
        max_body_bytes=1024,
    )
    app = create_app(cfg)
    yield app.test_client()
    app.extensions["gatecast"].registry.close()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"", "invalid_json"),
        (b'{"sequence": [1, 2]', "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b"[1, 2]", "invalid_request"),
        (b'"text"', "invalid_request"),
        (b"3", "invalid_request"),
    ],
)
def test_body_must_be_a_json_object(small, raw: bytes, code: str) -> None:
    err = error_of(small.post("/forecast", data=raw, content_type=JSON), 400)
    assert err["code"] == code and err["field"] is None


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"model": "tiny"}', "sequence"),  # neither sequence nor sequences
        (b'{"model": "tiny", "sequence": [1], "sequences": [[1]]}', "sequence"),  # both
        (b'{"model": "tiny", "sequence": null}', "sequence"),
        (b'{"model": "tiny", "sequence": []}', "sequence"),
        (b'{"model": "tiny", "sequence": [1,2,3,4,5,6,7,8,9]}', "sequence"),  # too long
        (b'{"model": "tiny", "sequence": [1, "2"]}', "sequence.1"),
        (b'{"model": "tiny", "sequence": [1, null]}', "sequence.1"),
        (b'{"model": "tiny", "sequence": [true, 1]}', "sequence.0"),
        (b'{"model": "tiny", "sequence": [1, NaN]}', "sequence.1"),
        (b'{"model": "tiny", "sequence": [Infinity]}', "sequence.0"),
        (b'{"model": "tiny", "sequence": [1, -Infinity]}', "sequence.1"),
        (b'{"model": "tiny", "sequence": [1e999]}', "sequence.0"),
        (b'{"model": "tiny", "sequence": [1, 1e39]}', "sequence.1"),  # beyond float32
        (b'{"model": "tiny", "sequence": [[1], [2]]}', "sequence.0"),
        (b'{"model": "tiny", "sequence": 5}', "sequence"),
        (b'{"model": "tiny", "sequences": [[1], [2], [3]]}', "sequences"),  # batch too large
        (b'{"model": "tiny", "sequences": [[1], []]}', "sequences.1"),
        (b'{"model": "tiny", "sequences": [[1], [2, false]]}', "sequences.1.1"),
        (b'{"model": "tiny", "sequences": [1, 2]}', "sequences.0"),
        (b'{"model": "tiny", "sequence": [1], "horizon": 0}', "horizon"),
        (b'{"model": "tiny", "sequence": [1], "horizon": 4}', "horizon"),
        (b'{"model": "tiny", "sequence": [1], "horizon": 1.5}', "horizon"),
        (b'{"model": "tiny", "sequence": [1], "horizon": "2"}', "horizon"),
        (b'{"model": "tiny", "sequence": [1], "horizon": true}', "horizon"),
        (b'{"model": "tiny", "sequence": [1], "internals": "some"}', "internals"),
        (b'{"model": "tiny", "sequence": [1], "internals": "ALL"}', "internals"),
        (b'{"model": "tiny", "sequence": [1], "interval": 0}', "interval"),
        (b'{"model": "tiny", "sequence": [1], "interval": 0.995}', "interval"),
        (b'{"model": "tiny", "sequence": [1], "interval": 1}', "interval"),
        (b'{"model": "tiny", "sequence": [1], "interval": -0.5}', "interval"),
        (b'{"model": "tiny", "sequence": [1], "return_state": "yes"}', "return_state"),
        (b'{"model": "tiny", "sequence": [1], "colour": "blue"}', "colour"),
        (b'{"model": "tiny", "sequence": [1], "id": 7}', "id"),
        (b'{"model": 3, "sequence": [1]}', "model"),
        (b'{"model": "tiny", "sequence": [1], "state": {"h": [[1]]}}', "state"),
        (b'{"model": "tiny", "sequence": [1], "state": {"h": [[1]], "c": [[true]]}}', "state"),
        (b'{"model": "tiny", "sequence": [1], "state": [[1]]}', "state"),
    ],
)
def test_invalid_requests_name_the_field(small, raw: bytes, field: str) -> None:
    err = error_of(small.post("/forecast", data=raw, content_type=JSON), 400)
    assert err["code"] == "invalid_request"
    assert err["field"] == field
    assert err["message"]


@pytest.mark.parametrize(
    "state",
    [
        {"h": [[0.0] * 8], "c": [[0.0] * 8]},  # one layer, the model has two
        {"h": [[0.0] * 7] * 2, "c": [[0.0] * 8] * 2},  # 7 units, the model has 8
        {"h": [[0.0] * 8] * 2, "c": [[0.0] * 8, [0.0] * 9]},  # ragged
        [{"h": [[0.0] * 8] * 2, "c": [[0.0] * 8] * 2}] * 2,  # two states, one sequence
    ],
)
def test_state_of_the_wrong_shape_for_the_model(client, state) -> None:
    r = client.post("/forecast", json={"model": "tiny", "sequence": [1.0, 2.0], "state": state})
    err = error_of(r, 400)
    assert err["code"] == "invalid_request" and err["field"] == "state"


def test_right_state_shape_is_accepted(client) -> None:
    state = {"h": [[0.0] * 8] * 2, "c": [[0.0] * 8] * 2}
    r = client.post("/forecast", json={"model": "tiny", "sequence": [1.0, 2.0], "state": state})
    assert r.status_code == 200


def test_interval_needs_residual_quantiles(client) -> None:
    r = client.post("/forecast", json={"model": "article-cell", "sequence": [1], "interval": 0.9})
    err = error_of(r, 400)
    assert err["field"] == "interval" and "quantiles" in err["message"]


def outputs_of(forecast: list[float], scale: float = 1.0) -> ModelOutputs:
    """Model outputs for one sequence with this forecast and scale (one layer of 4 units)."""
    state = torch.zeros(1, 1, 4)
    return ModelOutputs(
        run=1,
        steps=1,
        forecast=torch.tensor([forecast]),
        internals=None,
        h=state,
        c=state,
        loc=torch.tensor([[0.0]]),
        scale=torch.tensor([[scale]]),
    )


def test_overflowing_values_are_refused_not_answered_with_nan() -> None:
    """A forecast that overflows float32 is a 400 naming the input, never NaN or inf in JSON."""
    for bad in (float("inf"), float("nan")):
        seen = np.ones((1, 1), np.float32)  # (G, R) the value the LSTM read
        results = split(outputs_of([1.0, bad]), seen, 3, "none", None, False)
        with pytest.raises(ApiError) as info:
            check_finite(results, "sequence")
        assert info.value.status == 400 and info.value.field == "sequence"
        assert "not finite" in str(info.value)


def test_overflow_names_the_field_the_request_used(client) -> None:
    """A batch whose lengths all differ runs one sequence per model call; still "sequences"."""
    huge = [3.4e38] * 5 + [-3.4e38]  # its forecast overflows float32
    single = client.post("/forecast", json={"model": "tiny", "sequence": huge})
    assert error_of(single, 400)["field"] == "sequence"
    batch = client.post("/forecast", json={"model": "tiny", "sequences": [[1.0, 2.0], huge]})
    err = error_of(batch, 400)
    assert err["field"] == "sequences" and "float32 arithmetic" in err["message"]


@pytest.mark.parametrize("internals", ["none", "all"])
def test_values_that_overflow_once_scaled_are_refused_in_every_mode(client, internals) -> None:
    """x - loc beyond float32 saturates the gates into a finite but meaningless forecast, and
    would send inf as null among the internals' inputs: a 400, with or without internals."""
    far = [-3.4e38] * 6 + [3.4e38] + [-3.4e38] * 5  # 3.4e38 - mean is beyond float32
    reply = client.post(
        "/forecast", json={"model": "tiny", "sequence": far, "internals": internals}
    )
    err = error_of(reply, 400)
    assert err["field"] == "sequence" and "too far apart" in err["message"]


def test_interval_bounds_near_float32_limit_are_exact_or_refused() -> None:
    """A bound float32 can hold is computed without overflow; one it cannot is a 400."""

    def bounds(forecast: float, low: float, high: float) -> list:
        offsets = IntervalOffsets(np.array([low], np.float32), np.array([high], np.float32))
        seen = np.zeros((1, 1), np.float32)  # (G, R)
        return split(outputs_of([forecast], scale=1.0e38), seen, 3, "none", offsets, False)

    # high: 5e38 overflows float32 on its own, but -3e38 + 5e38 = 2e38 fits.
    [p] = bounds(-3.0e38, -0.1, 5.0)
    check_finite([p], "sequence")
    assert p.lower is not None and p.upper is not None
    assert p.lower.dtype == p.upper.dtype == np.float32
    assert p.lower.tolist() == [pytest.approx(-3.1e38, rel=1e-6)]
    assert p.upper.tolist() == [pytest.approx(2.0e38, rel=1e-6)]
    # 3e38 + 1e38 is beyond float32: refused, never sent as inf (JSON null).
    with pytest.raises(ApiError) as info:
        check_finite(bounds(3.0e38, -1.0, 1.0), "sequence")
    assert info.value.status == 400 and "interval is not finite" in str(info.value)


def test_unknown_model_and_version(client) -> None:
    err = error_of(client.post("/forecast", json={"model": "nope", "sequence": [1]}), 404)
    assert err == {"code": "unknown_model", "message": "no model named 'nope'", "field": "model"}
    r = client.post(
        "/forecast", json={"model": "tiny", "version": "20000101T000000000000Z", "sequence": [1]}
    )
    err = error_of(r, 404)
    assert err["code"] == "unknown_version" and err["field"] == "version"
    # Request strings are dictionary keys only: a path-like name is just an unknown model.
    r = client.post(
        "/forecast", json={"model": "../tiny", "version": "../../etc/passwd", "sequence": [1]}
    )
    assert error_of(r, 404)["code"] == "unknown_model"


def test_model_is_required_when_several_are_loaded(client) -> None:
    err = error_of(client.post("/forecast", json={"sequence": [1]}), 400)
    assert err["field"] == "model"


def test_body_above_the_limit_is_refused_before_reading(small) -> None:
    body = b'{"model": "tiny", "sequence": [' + b"1," * 600 + b"1]}"
    err = error_of(small.post("/forecast", data=body, content_type=JSON), 413)
    assert err["code"] == "payload_too_large" and "1024" in err["message"]


@pytest.mark.parametrize("size", [600, 200])
def test_chunked_body_is_held_to_the_same_limit(small, size: int) -> None:
    """No Content-Length (chunked upload): cut at the limit, and refused if more follows."""
    body = b'{"model": "tiny", "sequence": [' + b"1," * size + b"1]}"
    r = small.post(
        "/forecast",
        input_stream=io.BytesIO(body),
        content_type=JSON,
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # as gunicorn sets it
    )
    assert r.request.content_length is None
    if len(body) > 1024:
        assert error_of(r, 413)["code"] == "payload_too_large"
    else:
        assert r.status_code == 400 and r.get_json()["error"]["field"] == "sequence"


class BadFraming(io.RawIOBase):
    """A server's body stream that refuses the chunked framing after a few bytes."""

    def __init__(self) -> None:
        self.sent = False

    def readinto(self, buffer) -> int:
        if self.sent:
            raise ValueError("Invalid chunk size: b'zz'")  # not an OSError: the client's fault
        self.sent = True
        buffer[:2] = b'{"'
        return 2


def test_bad_chunk_framing_is_a_400_that_closes_the_connection(client) -> None:
    r = client.post(
        "/forecast",
        input_stream=io.BytesIO(b""),
        content_type=JSON,
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input": BadFraming(), "wsgi.input_terminated": True},
    )
    assert r.request.content_length is None
    err = error_of(r, 400)
    assert err["code"] == "bad_http_request" and "Invalid chunk size" in err["message"]
    assert r.headers["Connection"] == "close"


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
def test_non_json_content_types(client, content_type) -> None:
    r = client.post(
        "/forecast", data=b'{"model": "tiny", "sequence": [1]}', content_type=content_type
    )
    assert error_of(r, 415)["code"] == "unsupported_media_type"


def test_json_with_utf8_charset_is_accepted(client) -> None:
    r = client.post(
        "/forecast",
        data=b'{"model": "tiny", "sequence": [1]}',
        content_type="application/json; charset=UTF-8",
    )
    assert r.status_code == 200


def test_unknown_route_and_wrong_method_are_json(client) -> None:
    assert error_of(client.get("/nowhere"), 404)["code"] == "not_found"
    r = client.get("/forecast")
    assert error_of(r, 405)["code"] == "method_not_allowed"
    assert "POST" in r.headers["Allow"]
    assert error_of(client.delete("/models"), 405)["code"] == "method_not_allowed"


def test_unexpected_errors_are_json_without_details(client, monkeypatch, capsys) -> None:
    def explode(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("service.inference.run", explode)
    r = client.post("/forecast", json={"model": "tiny", "sequence": [1]})
    err = error_of(r, 500)
    assert err == {"code": "internal", "message": "internal server error", "field": None}
    assert "secret" not in r.get_data(as_text=True)
    assert "secret internal detail" in capsys.readouterr().err  # but it is in the log


def test_no_model_ready_is_503(tmp_path: Path) -> None:
    app = create_app(ServiceConfig(model_dir=str(tmp_path / "empty"), poll_seconds=0))
    client = app.test_client()
    err = error_of(client.post("/forecast", json={"model": "tiny", "sequence": [1]}), 503)
    assert err["code"] == "not_ready"
    err = error_of(client.get("/readyz"), 503)
    assert err["code"] == "not_ready" and "no checkpoints" in err["message"]
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_only_broken_checkpoints_is_503_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "20260101T000000000000Z.pt").write_bytes(b"not a zip archive")
    client = create_app(ServiceConfig(model_dir=str(tmp_path), poll_seconds=0)).test_client()
    err = error_of(client.get("/readyz"), 503)
    assert "1 checkpoint(s) failed" in err["message"]
    r = client.post("/forecast", json={"model": "m", "sequence": [1]})
    assert error_of(r, 503)["code"] == "not_ready"


def test_internals_beyond_the_limit_are_refused_before_model_work(model_dir, monkeypatch) -> None:
    from service import create_app
    from service.config import ServiceConfig

    cfg = ServiceConfig(model_dir=str(model_dir), poll_seconds=0, max_internals_values=1200)
    client = create_app(cfg).test_client()
    # tiny: 2 layers x 6 quantities x 8 units = 96 values a step; it runs over its last 12
    # observations and generates 1 step: 13 steps, 1248 values > 1200.
    seq = [float(v) for v in range(20)]

    def boom(*args, **kwargs):
        raise AssertionError("the model ran")

    monkeypatch.setattr("service.inference.run", boom)
    r = client.post("/forecast", json={"model": "tiny", "sequence": seq, "horizon": 2})
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert err["field"] == "internals" and "1248 values" in err["message"]
    monkeypatch.undo()
    ok = client.post("/forecast", json={"model": "tiny", "sequence": seq, "internals": "last"})
    assert ok.status_code == 200 and len(ok.get_json()["internals"]["layers"]) == 2
    fits = client.post("/forecast", json={"model": "tiny", "sequence": seq, "horizon": 1})
    assert fits.status_code == 200  # 12 steps x 96 = 1152 values


def test_lstm_steps_beyond_the_limit_are_refused_before_model_work(model_dir, monkeypatch) -> None:
    from service import create_app
    from service.config import ServiceConfig

    cfg = ServiceConfig(model_dir=str(model_dir), poll_seconds=0, max_request_steps=100)
    client = create_app(cfg).test_client()
    monkeypatch.setattr("service.inference.run", lambda *a, **k: pytest.fail("the model ran"))
    state = {"h": [[0.0] * 8] * 2, "c": [[0.0] * 8] * 2}
    # tiny runs over its last 12 observations, or all of them after a carried state, and
    # generates horizon - 1 steps: 9 x 12 = 108 steps, or 90 + 9 x 2 with a state and horizon 3.
    for body, steps in (
        ({"sequences": [[1.0] * 40] * 9}, 108),
        ({"sequences": [[1.0] * 10] * 9, "state": state, "horizon": 3}, 108),
    ):
        err = error_of(client.post("/forecast", json={"model": "tiny", **body}), 400)
        assert err["field"] == "sequences" and f"{steps} LSTM steps" in err["message"]
    monkeypatch.undo()
    ok = client.post("/forecast", json={"model": "tiny", "sequences": [[1.0] * 40] * 8})
    assert ok.status_code == 200  # 96 steps


def test_a_format_2_checkpoint_is_served_and_its_last_internals_charged_in_full(
    model_dir: Path, tmp_path: Path
) -> None:
    from bench.checkpoints import version_path
    from model.export import list_checkpoints
    from tests.test_service_registry import rewrite_meta

    good = list_checkpoints(model_dir)["tiny"][-1]
    older = rewrite_meta(good, lambda m: {**m, "format_version": 2})
    version_path(tmp_path / "old").write_bytes(older)
    version_path(tmp_path / "new").write_bytes(good.read_bytes())
    cfg = ServiceConfig(model_dir=str(tmp_path), poll_seconds=0, max_internals_values=1200)
    client = create_app(cfg).test_client()
    # 13 steps x 96 values a step: over the limit when every step is built (format 2),
    # one step when the module builds the last alone (format 3).
    body = {"sequence": [float(v) for v in range(20)], "horizon": 2, "internals": "last"}
    err = error_of(client.post("/forecast", json={"model": "old", **body}), 400)
    assert err["field"] == "internals" and "1248 values" in err["message"]
    new = client.post("/forecast", json={"model": "new", **body})
    old = client.post("/forecast", json={"model": "old", **{**body, "horizon": 1}})
    assert new.status_code == 200 and old.status_code == 200
    assert new.get_json()["internals"]["steps"] == 13


def test_a_scale_that_underflows_float32_is_refused(client) -> None:
    state = {"h": [[0.0] * 8] * 2, "c": [[0.0] * 8] * 2, "loc": 0.0, "scale": 1e-320}
    r = client.post("/forecast", json={"model": "tiny", "sequence": [1.0, 2.0], "state": state})
    err = error_of(r, 400)
    assert err["field"] == "state" and "too small" in err["message"]


def test_a_returned_state_is_accepted_back_unchanged(client) -> None:
    seq = [float(v) for v in range(1, 15)]
    body = {"model": "tiny", "sequence": seq, "return_state": True, "internals": "none"}
    first = client.post("/forecast", json=body).get_json()
    again = client.post("/forecast", json={**body, "state": first["state"]})
    assert again.status_code == 200
    assert again.get_json()["state"]["scale"] == first["state"]["scale"]
