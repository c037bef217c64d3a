"""Open Inference Protocol v2 (REST), in-process: metadata, tensors in and out (JSON and
binary), the same values and limits as /forecast, and errors in the protocol's form.

The third-party clients (tritonclient, KServe) are in test_v2_clients.
"""

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from model.network import QUANTITIES
from service import ServiceConfig, create_app, inference, wire_errors, worker

SEQS = [[float(100 + 5 * math.sin((k + j) / 2) + k) for k in range(20)] for j in range(3)]
INFER = "/v2/models/tiny/infer"
KEY = "v2-key-0123456789"


def tensor(name: str, datatype: str, values: Any) -> dict[str, Any]:
    """A JSON input tensor, its shape taken from the (nested) values."""
    return {"name": name, "datatype": datatype, "shape": list(np.shape(values)), "data": values}


def infer(client, inputs: list[dict], outputs: list[str] | None = None, **extra: Any):
    """POST a JSON /infer request; returns (status, body)."""
    body: dict[str, Any] = {"inputs": inputs, **extra}
    if outputs is not None:
        body["outputs"] = [{"name": name} for name in outputs]
    r = client.post(INFER, json=body)
    return r.status_code, r.get_json()


def by_name(body: dict) -> dict[str, np.ndarray]:
    """The response's outputs as float32 arrays of their shapes."""
    return {
        out["name"]: np.asarray(out["data"], np.float32).reshape(out["shape"])
        for out in body["outputs"]
    }


def test_server_metadata_health_and_readiness(client) -> None:
    meta = client.get("/v2").get_json()
    assert meta["name"] == "gatecast" and meta["extensions"] == ["binary_tensor_data"]
    assert client.get("/v2/health/live").get_json() == {"live": True}
    assert client.get("/v2/health/ready").get_json() == {"ready": True}
    assert client.get("/v2/models/tiny/ready").get_json() == {"name": "tiny", "ready": True}


def test_model_metadata_gives_shapes_of_the_model(client) -> None:
    meta = client.get("/v2/models/tiny").get_json()
    version = client.get("/models/tiny").get_json()["latest"]
    assert meta["name"] == "tiny" and meta["versions"] == [version]
    inputs = {t["name"]: (t["datatype"], t["shape"]) for t in meta["inputs"]}
    assert inputs["observations"] == ("FP32", [-1, -1])
    assert inputs["horizon"] == ("INT64", [1]) and inputs["interval"] == ("FP32", [1])
    assert inputs["state_h"] == ("FP32", [-1, 2, 8]) and inputs["state_loc"] == ("FP32", [-1])
    outputs = {t["name"]: t["shape"] for t in meta["outputs"]}
    assert outputs["forecast"] == [-1, -1] and outputs["lower"] == [-1, -1]
    for name in QUANTITIES:
        assert outputs[name] == [-1, 2, -1, 8]
    pinned = client.get(f"/v2/models/tiny/versions/{version}").get_json()
    assert pinned == meta
    cell = client.get("/v2/models/article-cell").get_json()  # no residual quantiles
    assert "interval" not in {t["name"] for t in cell["inputs"]}
    assert "lower" not in {t["name"] for t in cell["outputs"]}


def test_batch_forecast_and_internals_equal_forecast_route(client) -> None:
    status, body = infer(
        client, [tensor("observations", "FP32", SEQS), tensor("horizon", "INT64", [3])], id="r1"
    )
    assert status == 200, body
    assert body["id"] == "r1" and body["model_name"] == "tiny" and body["model_version"]
    out = by_name(body)
    assert list(out) == [
        "forecast",
        *QUANTITIES,
        "inputs",
        "state_h",
        "state_c",
        "state_loc",
        "state_scale",
    ]
    ref = client.post(
        "/forecast", json={"model": "tiny", "sequences": SEQS, "horizon": 3, "return_state": True}
    ).get_json()
    np.testing.assert_array_equal(out["forecast"], np.asarray(ref["forecast"], np.float32))
    steps = ref["internals"][0]["steps"]
    assert body["parameters"] == {
        "observed_steps": ref["internals"][0]["observed_steps"],
        "first_step": ref["context"][0]["first_step"],
    }
    for name in QUANTITIES:
        assert out[name].shape == (3, 2, steps, 8), name
        layers = [[layer[name] for layer in seq["layers"]] for seq in ref["internals"]]
        np.testing.assert_array_equal(out[name], np.asarray(layers, np.float32), err_msg=name)
    inputs = np.asarray([seq["inputs"] for seq in ref["internals"]], np.float32)  # (B, S, 1)
    np.testing.assert_allclose(out["inputs"], inputs, rtol=1e-6)
    for name, key in (("state_h", "h"), ("state_c", "c"), ("state_scale", "scale")):
        state = np.asarray([s[key] for s in ref["state"]], np.float32)
        np.testing.assert_array_equal(out[name], state, err_msg=name)


def test_flat_and_nested_data_agree(client) -> None:
    nested = tensor("observations", "FP32", SEQS[:2])
    flat = {**nested, "data": [v for seq in SEQS[:2] for v in seq]}
    a = infer(client, [nested], ["forecast"])[1]
    b = infer(client, [flat], ["forecast"])[1]
    assert a["outputs"] == b["outputs"] and len(a["outputs"][0]["data"]) == 2


def test_only_the_outputs_asked_for_are_computed(client, monkeypatch) -> None:
    modes: list[str] = []
    real = inference.call_model

    def spy(module, x, horizon, internals, state, traits, *more):
        modes.append(internals)
        return real(module, x, horizon, internals, state, traits, *more)

    monkeypatch.setattr(inference, "call_model", spy)
    status, body = infer(client, [tensor("observations", "FP32", SEQS)], ["forecast"])
    assert status == 200 and [o["name"] for o in body["outputs"]] == ["forecast"]
    assert modes == ["none"]  # one call for the batch, without internals
    status, body = infer(
        client, [tensor("observations", "FP32", SEQS)], ["cell_state", "forecast", "input_gate"]
    )
    assert [o["name"] for o in body["outputs"]] == ["cell_state", "forecast", "input_gate"]
    assert modes == ["none", "all"]  # internals computed once for both quantities


def test_interval_bounds_equal_forecast_route(client) -> None:
    inputs = [tensor("observations", "FP32", SEQS), tensor("interval", "FP32", [0.9])]
    status, body = infer(client, inputs, ["forecast", "lower", "upper"])
    assert status == 200, body
    out = by_name(body)
    ref = client.post(
        "/forecast", json={"model": "tiny", "sequences": SEQS, "interval": 0.9, "internals": "none"}
    ).get_json()
    for bound in ("lower", "upper"):
        want = np.asarray([i[bound] for i in ref["interval"]], np.float32)
        np.testing.assert_array_equal(out[bound], want, err_msg=bound)
    assert (out["lower"] < out["forecast"]).all() and (out["forecast"] < out["upper"]).all()


def test_state_inputs_continue_a_stream_like_forecast_route(client) -> None:
    first = by_name(infer(client, [tensor("observations", "FP32", [SEQS[0][:10]])])[1])
    state = [
        tensor(name, "FP32", first[name].tolist())
        for name in ("state_h", "state_c", "state_loc", "state_scale")
    ]
    nxt = [tensor("observations", "FP32", [SEQS[0][10:]]), *state]
    got = by_name(infer(client, nxt, ["forecast"])[1])["forecast"]
    carried = {
        "h": first["state_h"][0].tolist(),
        "c": first["state_c"][0].tolist(),
        "loc": float(first["state_loc"][0]),
        "scale": float(first["state_scale"][0]),
    }
    ref = client.post(
        "/forecast",
        json={"model": "tiny", "sequence": SEQS[0][10:], "state": carried, "internals": "none"},
    ).get_json()
    np.testing.assert_array_equal(got[0], np.asarray(ref["forecast"], np.float32))


def binary_request(inputs: dict[str, np.ndarray], outputs: list[str]) -> tuple[bytes, int]:
    """A body of the binary tensor data extension: JSON header, then each input's bytes."""
    header = {
        "inputs": [
            {
                "name": name,
                "datatype": {"float32": "FP32", "int64": "INT64"}[str(values.dtype)],
                "shape": list(values.shape),
                "parameters": {"binary_data_size": values.nbytes},
            }
            for name, values in inputs.items()
        ],
        "outputs": [{"name": name, "parameters": {"binary_data": True}} for name in outputs],
    }
    head = json.dumps(header).encode()
    return head + b"".join(v.tobytes() for v in inputs.values()), len(head)


def test_binary_tensors_in_and_out_equal_json(client) -> None:
    observations = np.asarray(SEQS, np.float32)
    inputs: dict[str, np.ndarray] = {
        "observations": observations,
        "horizon": np.asarray([2], np.int64),
    }
    body, length = binary_request(inputs, ["forecast", "hidden_state"])
    r = client.post(
        INFER,
        data=body,
        content_type="application/octet-stream",
        headers={"Inference-Header-Content-Length": str(length)},
    )
    assert r.status_code == 200 and r.mimetype == "application/octet-stream"
    split = int(r.headers["Inference-Header-Content-Length"])
    head, data = json.loads(r.data[:split]), r.data[split:]
    arrays, offset = {}, 0
    for out in head["outputs"]:
        size = out["parameters"]["binary_data_size"]
        arrays[out["name"]] = np.frombuffer(data[offset : offset + size], "<f4").reshape(
            out["shape"]
        )
        offset += size
    assert offset == len(data)
    json_inputs = [tensor("observations", "FP32", SEQS), tensor("horizon", "INT64", [2])]
    ref = by_name(infer(client, json_inputs, ["forecast", "hidden_state"])[1])
    for name in ("forecast", "hidden_state"):
        np.testing.assert_array_equal(arrays[name], ref[name], err_msg=name)


def test_version_in_the_path_and_unknown_ones(client) -> None:
    version = client.get("/models/tiny").get_json()["latest"]
    body = {"inputs": [tensor("observations", "FP32", [SEQS[0]])]}
    r = client.post(f"/v2/models/tiny/versions/{version}/infer", json=body)
    assert r.status_code == 200 and r.get_json()["model_version"] == version
    for path in (
        "/v2/models/nope/infer",
        "/v2/models/tiny/versions/19990101T000000000000Z/infer",
    ):
        r = client.post(path, json=body)
        assert r.status_code == 404 and set(r.get_json()) == {"error"}, path
    for path in ("/v2/models/nope", "/v2/models/nope/ready", "/v2/models/tiny/versions/x/ready"):
        r = client.get(path)
        assert r.status_code == 404 and isinstance(r.get_json()["error"], str), path


BAD_INPUTS = [
    ([{**tensor("observations", "FP32", [[1, 2], [3, 4]]), "data": [[1, 2], [3]]}], "rect"),
    ([{**tensor("observations", "FP32", [[1.0, 2.0]]), "shape": [1, 3]}], "holds 3"),
    ([tensor("observations", "FP32", [1.0, 2.0])], "[batch, steps]"),
    ([tensor("observations", "FP64", [[1.0, 2.0]])], "datatype must be FP32"),
    ([tensor("observations", "FP32", [[1.0]]), tensor("nope", "FP32", [1.0])], "'nope'"),
    ([tensor("horizon", "INT64", [2])], "'observations'"),
    ([tensor("observations", "FP32", [[1.0]]), tensor("horizon", "INT64", [1.5])], "whole"),
    ([tensor("observations", "FP32", [[1.0]]), tensor("horizon", "INT32", [0])], "horizon"),
    ([tensor("observations", "FP32", [[1.0]])] * 2, "twice"),
    (
        [tensor("observations", "FP32", [[1.0]]), tensor("state_h", "FP32", [[[0.0] * 8] * 2])],
        "state_h, state_c",
    ),
    (
        [
            tensor("observations", "FP32", [[1.0]]),
            tensor("state_h", "FP32", [[[0.0] * 7] * 2]),
            tensor("state_c", "FP32", [[[0.0] * 7] * 2]),
        ],
        "state_h: shape must be [1, 2, 8]",
    ),
]


@pytest.mark.parametrize(("inputs", "says"), BAD_INPUTS, ids=[s for _, s in BAD_INPUTS])
def test_bad_tensors_are_400_in_the_protocol_form(client, inputs: list[dict], says: str) -> None:
    status, body = infer(client, inputs)
    assert status == 400 and set(body) == {"error"}
    assert says in body["error"]


def test_bad_outputs_and_bodies_are_400(client) -> None:
    obs = [tensor("observations", "FP32", [[1.0, 2.0]])]
    assert "'nope'" in infer(client, obs, ["nope"])[1]["error"]
    assert "interval" in infer(client, obs, ["lower"])[1]["error"]  # bounds need a level
    assert "twice" in infer(client, obs, ["forecast", "forecast"])[1]["error"]
    r = client.post(INFER, data=b"{", content_type="application/json")
    assert r.status_code == 400 and "not valid JSON" in r.get_json()["error"]
    r = client.post(INFER, data=b"x", content_type="text/plain")
    assert r.status_code == 415 and set(r.get_json()) == {"error"}
    too_long = {"Inference-Header-Content-Length": "9999"}
    r = client.post(INFER, json={"inputs": obs}, headers=too_long)
    assert r.status_code == 400 and "Inference-Header-Content-Length" in r.get_json()["error"]
    cell = client.post(
        "/v2/models/article-cell/infer", json={"inputs": [*obs, tensor("interval", "FP32", [0.9])]}
    )
    assert cell.status_code == 400 and "interval" in cell.get_json()["error"]


def test_limits_of_forecast_route_hold_before_model_work(model_dir: Path, monkeypatch) -> None:
    cfg = ServiceConfig(
        model_dir=str(model_dir),
        poll_seconds=0,
        max_sequence_length=8,
        max_batch=2,
        max_horizon=3,
        max_internals_values=500,
        max_body_bytes=2000,
    )
    app = create_app(cfg)
    client = app.test_client()

    def no_model_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("model work started for an over-limit request")

    monkeypatch.setattr(inference, "run", no_model_work)
    horizon = [tensor("horizon", "INT64", [3])]
    over = [
        ([tensor("observations", "FP32", [[1.0] * 9])], ["forecast"], 400, "steps"),
        ([tensor("observations", "FP32", [[1.0]] * 3)], ["forecast"], 400, "batch"),
        (
            [tensor("observations", "FP32", [[1.0]]), tensor("horizon", "INT64", [4])],
            ["forecast"],
            400,
            "horizon",
        ),
        ([tensor("observations", "FP32", [[1.0] * 8]), *horizon], ["input_gate"], 400, "internals"),
        ([tensor("observations", "FP32", [[1.0] * 600])], ["forecast"], 413, "limit"),
    ]
    for inputs, outputs, status, says in over:
        r = client.post(INFER, json={"inputs": inputs, "outputs": [{"name": n} for n in outputs]})
        assert r.status_code == status, r.get_data(as_text=True)
        assert set(r.get_json()) == {"error"} and says in r.get_json()["error"]
    ok = [tensor("observations", "FP32", [[1.0] * 8]), *horizon]
    r = client.post(INFER, json={"inputs": ok, "outputs": [{"name": "forecast"}]})
    assert r.status_code == 500  # under every limit: it reached the patched-out model work
    app.extensions["gatecast"].registry.close()


def test_auth_applies_to_v2_but_not_its_probes(model_dir: Path) -> None:
    app = create_app(ServiceConfig(model_dir=str(model_dir), poll_seconds=0, api_keys=(KEY,)))
    client = app.test_client()
    for path in ("/v2/health/live", "/v2/health/ready"):
        assert client.get(path).status_code == 200, path
    r = client.get("/v2/models/tiny")
    assert r.status_code == 401 and r.get_json() == {"error": "missing or invalid API key"}
    r = client.post(INFER, json={"inputs": [tensor("observations", "FP32", [[1.0]])]})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    auth = {"Authorization": f"Bearer {KEY}"}
    assert client.get("/v2/models/tiny", headers=auth).status_code == 200
    app.extensions["gatecast"].registry.close()


def test_refusals_before_the_app_use_the_v2_form_on_v2_paths() -> None:
    head = b"POST /v2/models/tiny/infer?x=1 HTTP/1.1\r\nHost: h\r\n"
    assert wire_errors.request_path(head) == "/v2/models/tiny/infer"
    assert wire_errors.request_path(b"POST /v2/models/ti") == ""  # line not complete yet
    service_form = {"error": {"code": "payload_too_large", "message": "too big", "field": None}}
    for path, body in [
        ("/v2/models/tiny/infer", {"error": "too big"}),
        ("/v2", {"error": "too big"}),
        ("/v2x", service_form),
        ("/forecast", service_form),
    ]:
        raw = wire_errors.error_bytes(413, "too big", "payload_too_large", path=path)
        assert json.loads(raw.partition(b"\r\n\r\n")[2]) == body, path


def test_v2_health_routes_are_probes_of_the_worker() -> None:
    for path in (b"/v2/health/live", b"/v2/health/ready"):
        assert worker.is_probe(b"GET " + path + b" HTTP/1.1\r\n\r\n"), path
    assert not worker.is_probe(b"GET /v2/models/tiny/ready HTTP/1.1\r\n\r\n")


def test_metrics_and_access_log_name_the_v2_route(model_dir: Path, capsys) -> None:
    app = create_app(ServiceConfig(model_dir=str(model_dir), poll_seconds=0))
    client = app.test_client()
    capsys.readouterr()
    body = {"inputs": [tensor("observations", "FP32", [[1.0, 2.0]])]}
    r = client.post(INFER, json=body, headers={"X-Request-Id": "v2-log-1"})
    assert r.status_code == 200
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    (line,) = [x for x in lines if x.get("request_id") == "v2-log-1"]
    assert (line["path"], line["status"], line["model"]) == (INFER, 200, "tiny")
    text = client.get("/metrics").get_data(as_text=True)
    label = 'endpoint="/v2/models/<name>/infer",model="tiny",status="200"'
    assert f"gatecast_requests_total{{{label}}} 1.0" in text
    app.extensions["gatecast"].registry.close()


def test_openapi_documents_v2_and_its_answers_match(client) -> None:
    doc = client.get("/openapi.json").get_json()
    validate(doc)
    assert "/v2/models/{name}/versions/{version}/infer" in doc["paths"]

    def schema(name: str) -> Draft202012Validator:
        return Draft202012Validator({"$ref": f"#/components/schemas/{name}", **doc})

    infer_path = doc["paths"]["/v2/models/{name}/infer"]["post"]
    for example in infer_path["requestBody"]["content"]["application/json"]["examples"].values():
        schema("InferRequest").validate(example["value"])
        r = client.post(INFER, json=example["value"])
        assert r.status_code == 200
        schema("InferResponse").validate(r.get_json())
    schema("ModelMetadata").validate(client.get("/v2/models/tiny").get_json())
    schema("ServerMetadata").validate(client.get("/v2").get_json())
    schema("V2Error").validate(client.get("/v2/models/nope").get_json())
    assert not schema("InferRequest").is_valid({"inputs": []})
