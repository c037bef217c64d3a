"""Open Inference Protocol v2 for a model that reads calendar inputs, covariates and a
series embedding: the same forecast and input vectors as /forecast, and clear refusals."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tritonclient.http as triton
from flask import Flask

from tests.test_covariates import HORIZON, OBSERVED, body_for, post

INFER = "/v2/models/shops/infer"


def tensor(name: str, datatype: str, values: Any) -> dict[str, Any]:
    """A JSON input tensor, its shape taken from the (nested) values."""
    return {"name": name, "datatype": datatype, "shape": list(np.shape(values)), "data": values}


def v2_inputs(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The v2 tensors of a batch of /forecast bodies (one sequence each)."""
    return [
        tensor("observations", "FP32", [b["sequence"] for b in bodies]),
        tensor("horizon", "INT64", [HORIZON]),
        tensor("timestamps", "BYTES", [b["timestamps"] for b in bodies]),
        tensor("covariates.temp", "FP32", [b["covariates"]["temp"] for b in bodies]),
        tensor("covariates.price", "FP32", [b["covariates"]["price"] for b in bodies]),
        tensor("series", "BYTES", [b["series"] for b in bodies]),
    ]


def infer(app: Flask, inputs: list[dict[str, Any]], outputs: list[str]) -> tuple[int, Any]:
    """POST a JSON /infer request; the status and the JSON answer."""
    body = {"inputs": inputs, "outputs": [{"name": n} for n in outputs]}
    r = app.test_client().post(INFER, json=body)
    return r.status_code, r.get_json()


def by_name(body: dict[str, Any]) -> dict[str, np.ndarray]:
    """The response's outputs as float32 arrays of their shapes."""
    return {
        out["name"]: np.asarray(out["data"], np.float32).reshape(out["shape"])
        for out in body["outputs"]
    }


def test_metadata_lists_the_inputs_the_model_reads(shops: Flask, covariate_csv: Path) -> None:
    meta = shops.test_client().get("/v2/models/shops").get_json()
    inputs = {t["name"]: (t["datatype"], t["shape"]) for t in meta["inputs"]}
    assert inputs["timestamps"] == ("BYTES", [-1, -1])
    assert inputs["start"] == ("BYTES", [-1])
    assert inputs["covariates.temp"] == ("FP32", [-1, -1])
    assert inputs["covariates.price"] == ("FP32", [-1, -1])
    assert inputs["series"] == ("BYTES", [-1])
    _, answer = post(shops, {**body_for(covariate_csv), "internals": "last"})
    width = {t["name"]: t["shape"] for t in meta["outputs"]}["inputs"][2]
    assert width == len(answer["internals"]["input_names"]) > 1


def test_forecast_and_inputs_equal_the_forecast_route(shops: Flask, covariate_csv: Path) -> None:
    bodies = [body_for(covariate_csv, "north", 40), body_for(covariate_csv, "south", 50)]
    status, got = infer(shops, v2_inputs(bodies), ["forecast", "inputs", "forget_gate"])
    assert status == 200, got
    out = by_name(got)
    for k, body in enumerate(bodies):
        code, want = post(shops, {**body, "internals": "all"})
        assert code == 200, want
        np.testing.assert_allclose(out["forecast"][k], want["forecast"], rtol=1e-6)
        inputs = np.asarray(want["internals"]["inputs"], np.float32)  # (S, I)
        np.testing.assert_allclose(out["inputs"][k], inputs, rtol=1e-6, atol=1e-7)
        assert out["forget_gate"].shape[2] == inputs.shape[0]


def test_covariates_change_the_forecast(shops: Flask, covariate_csv: Path) -> None:
    body = body_for(covariate_csv)
    _, plain = infer(shops, v2_inputs([body]), ["forecast"])
    dearer = {**body, "covariates": {**body["covariates"], "price": [20.0] * (OBSERVED + HORIZON)}}
    _, moved = infer(shops, v2_inputs([dearer]), ["forecast"])
    assert not np.allclose(by_name(plain)["forecast"], by_name(moved)["forecast"])


def test_start_gives_the_same_forecast_as_timestamps(shops: Flask, covariate_csv: Path) -> None:
    body = body_for(covariate_csv)
    inputs = v2_inputs([body])
    _, given = infer(shops, inputs, ["forecast"])
    started = [t for t in inputs if t["name"] != "timestamps"]
    started.append(tensor("start", "BYTES", [body["timestamps"][0]]))
    status, counted = infer(shops, started, ["forecast"])
    assert status == 200, counted
    assert by_name(counted)["forecast"].tolist() == by_name(given)["forecast"].tolist()


def test_tritons_binary_request_equals_json(shops: Flask, covariate_csv: Path) -> None:
    """The body tritonclient.http builds (binary tensors, BYTES length-prefixed)."""
    body = body_for(covariate_csv)
    inputs = v2_inputs([body])
    _, want = infer(shops, inputs, ["forecast"])
    kinds = {"FP32": np.float32, "INT64": np.int64, "BYTES": np.object_}
    given = []
    for t in inputs:
        tensor_in = triton.InferInput(t["name"], t["shape"], t["datatype"])
        tensor_in.set_data_from_numpy(np.asarray(t["data"], dtype=kinds[t["datatype"]]))
        given.append(tensor_in)
    asked = [triton.InferRequestedOutput("forecast", binary_data=False)]
    raw, header_length = triton.InferenceServerClient.generate_request_body(given, asked)
    assert header_length is not None  # binary tensor data, not JSON
    r = shops.test_client().post(
        INFER,
        data=raw,
        headers={"Inference-Header-Content-Length": str(header_length)},
        content_type="application/octet-stream",
    )
    assert r.status_code == 200, r.get_json()
    assert by_name(r.get_json())["forecast"].tolist() == by_name(want)["forecast"].tolist()


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            lambda ins: [t for t in ins if t["name"] != "covariates.price"],
            "covariates.price: missing",
        ),
        (
            lambda ins: [*ins, tensor("covariates.rain", "FP32", [[0.0] * OBSERVED])],
            "no input named 'covariates.rain'",
        ),
        (
            lambda ins: [
                tensor("covariates.temp", "FP32", [[1.0] * (OBSERVED - 1)])
                if t["name"] == "covariates.temp"
                else t
                for t in ins
            ],
            f"covariates.temp: shape must be [1, {OBSERVED}]",
        ),
        (
            lambda ins: [
                tensor("series", "BYTES", ["west"]) if t["name"] == "series" else t for t in ins
            ],
            "series.0: unknown series 'west'",
        ),
        (
            lambda ins: [
                tensor("timestamps", "BYTES", [["2024-01-01"] * OBSERVED])
                if t["name"] == "timestamps"
                else t
                for t in ins
            ],
            "timestamps.0",
        ),
        (
            lambda ins: [
                tensor("series", "FP32", [1.0]) if t["name"] == "series" else t for t in ins
            ],
            "series: datatype must be BYTES",
        ),
    ],
)
def test_bad_covariates_times_and_ids_are_400_naming_the_input(
    shops: Flask, covariate_csv: Path, change: Any, says: str
) -> None:
    status, got = infer(shops, change(v2_inputs([body_for(covariate_csv)])), ["forecast"])
    assert status == 400
    assert says in got["error"]
