"""Open Inference Protocol v2 with real third-party clients against the real gunicorn:
NVIDIA's tritonclient.http and KServe's InferenceRESTClient build every v2 request here.

Values are checked against POST /forecast on the same server for the same sequences.
"""

import asyncio
import math
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.protocol.infer_type import RequestedOutput
from tritonclient.utils import InferenceServerException

from bench.http_client import HOST, request
from bench.server import Running, gunicorn
from model.network import QUANTITIES

SEQS = np.asarray(
    [[100 + 5 * math.sin((k + j) / 2) + k for k in range(16)] for j in range(3)], np.float32
)
HORIZON = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Running]:
    """gunicorn (one worker) on the session's models."""
    log = tmp_path_factory.mktemp("v2") / "gunicorn.log"
    with gunicorn(model_dir, log, env={"GATECAST_WORKERS": "1"}, ready_path="/readyz") as srv:
        yield srv
        assert "Traceback" not in srv.log_text()


@pytest.fixture(scope="module")
def reference(server: Running) -> dict:
    """POST /forecast for the same batch: forecast, internals and interval."""
    body = {
        "model": "tiny",
        "sequences": SEQS.tolist(),
        "horizon": HORIZON,
        "interval": 0.8,
    }
    reply = request(server.port, "POST", "/forecast", body)
    assert reply.status == 200, reply.text()
    return reply.json()


def internals_of(reference: dict, name: str) -> np.ndarray:
    """One quantity of /forecast's internals as [batch, layers, steps, units] float32."""
    seqs = reference["internals"]
    return np.asarray([[layer[name] for layer in s["layers"]] for s in seqs], np.float32)


@pytest.fixture(scope="module")
def triton_client(server: Running) -> Iterator[triton.InferenceServerClient]:
    """tritonclient.http's client (host:port, no scheme)."""
    client = triton.InferenceServerClient(url=f"{HOST}:{server.port}")
    yield client
    client.close()


def test_triton_health_and_metadata(triton_client: triton.InferenceServerClient) -> None:
    assert triton_client.is_server_live() and triton_client.is_server_ready()
    assert triton_client.is_model_ready("tiny") and not triton_client.is_model_ready("nope")
    assert triton_client.get_server_metadata()["name"] == "gatecast"
    meta = triton_client.get_model_metadata("tiny")
    assert {t["name"]: t["shape"] for t in meta["inputs"]}["state_h"] == [-1, 2, 8]


def test_triton_batch_with_internals(
    triton_client: triton.InferenceServerClient, reference: dict
) -> None:
    observations = triton.InferInput("observations", list(SEQS.shape), "FP32")
    observations.set_data_from_numpy(SEQS)  # binary tensor data
    horizon = triton.InferInput("horizon", [1], "INT64")
    horizon.set_data_from_numpy(np.asarray([HORIZON], np.int64), binary_data=False)  # JSON
    level = triton.InferInput("interval", [1], "FP32")
    level.set_data_from_numpy(np.asarray([0.8], np.float32))
    outputs = [
        triton.InferRequestedOutput("forecast"),  # binary
        triton.InferRequestedOutput("lower", binary_data=False),
        *(triton.InferRequestedOutput(name, binary_data=False) for name in QUANTITIES[:3]),
        *(triton.InferRequestedOutput(name) for name in QUANTITIES[3:]),
    ]
    result = triton_client.infer(
        "tiny", [observations, horizon, level], outputs=outputs, request_id="triton-1"
    )
    response = result.get_response()
    assert response["id"] == "triton-1" and response["model_name"] == "tiny"
    forecast = result.as_numpy("forecast")
    assert forecast.shape == (3, HORIZON)
    np.testing.assert_array_equal(forecast, np.asarray(reference["forecast"], np.float32))
    lower = np.asarray([i["lower"] for i in reference["interval"]], np.float32)
    np.testing.assert_array_equal(result.as_numpy("lower"), lower)
    for name in QUANTITIES:
        np.testing.assert_array_equal(
            result.as_numpy(name), internals_of(reference, name), err_msg=name
        )
    assert result.as_numpy("upper") is None  # not asked for, not sent


def test_triton_errors(triton_client: triton.InferenceServerClient) -> None:
    wrong = triton.InferInput("observations", [3], "FP32")  # not [batch, steps]
    wrong.set_data_from_numpy(SEQS[0, :3])
    with pytest.raises(InferenceServerException) as bad:
        triton_client.infer("tiny", [wrong])
    assert bad.value.status() == "400" and "[batch, steps]" in bad.value.message()
    ok = triton.InferInput("observations", list(SEQS.shape), "FP32")
    ok.set_data_from_numpy(SEQS)
    with pytest.raises(InferenceServerException) as unknown:
        triton_client.infer("nope", [ok])
    assert unknown.value.status() == "404" and "nope" in unknown.value.message()
    huge = triton.InferInput("observations", [1, 600_000], "FP32")  # 2.4 MB: over 2 MiB
    huge.set_data_from_numpy(np.ones((1, 600_000), np.float32))
    with pytest.raises(InferenceServerException) as large:  # refused by service.worker
        triton_client.infer("tiny", [huge])
    assert large.value.status() == "413" and "limit" in large.value.message()


def kserve_infer(server: Running, req: InferRequest):
    """KServe's REST client (protocol v2) sends one request; its InferResponse."""

    async def call():
        client = InferenceRESTClient(RESTConfig(protocol="v2", retries=0, timeout=30))
        try:
            return await client.infer(server.url, req, model_name="tiny")
        finally:
            await client.close()

    return asyncio.run(call())


def test_kserve_batch_with_internals(server: Running, reference: dict) -> None:
    observations = InferInput("observations", list(SEQS.shape), "FP32")
    observations.set_data_from_numpy(SEQS, binary_data=False)  # JSON
    horizon = InferInput("horizon", [1], "INT64")
    horizon.set_data_from_numpy(np.asarray([HORIZON], np.int64), binary_data=False)
    asked = ["forecast", "input_gate", "hidden_state"]
    req = InferRequest(
        model_name="tiny",
        infer_inputs=[observations, horizon],
        request_id="kserve-1",
        request_outputs=[RequestedOutput(name) for name in asked],
    )
    response = kserve_infer(server, req)
    assert response.id == "kserve-1" and [o.name for o in response.outputs] == asked
    got = {o.name: o.as_numpy() for o in response.outputs}
    np.testing.assert_array_equal(got["forecast"], np.asarray(reference["forecast"], np.float32))
    for name in asked[1:]:
        np.testing.assert_array_equal(got[name], internals_of(reference, name), err_msg=name)


def test_kserve_binary_inputs_and_an_error(server: Running, reference: dict) -> None:
    observations = InferInput("observations", list(SEQS.shape), "FP32")
    observations.set_data_from_numpy(SEQS)  # binary tensor data
    horizon = InferInput("horizon", [1], "INT64")
    horizon.set_data_from_numpy(np.asarray([HORIZON], np.int64))
    req = InferRequest(model_name="tiny", infer_inputs=[observations, horizon])
    response = kserve_infer(server, req)
    got = {o.name: o.as_numpy() for o in response.outputs}  # every output, as JSON
    np.testing.assert_array_equal(got["forecast"], np.asarray(reference["forecast"], np.float32))
    np.testing.assert_array_equal(got["cell_state"], internals_of(reference, "cell_state"))
    bad = InferInput("observations", [1, 2], "FP64")
    bad.set_data_from_numpy(np.asarray([[1.0, 2.0]]), binary_data=False)
    with pytest.raises(httpx.HTTPStatusError) as err:
        kserve_infer(server, InferRequest(model_name="tiny", infer_inputs=[bad]))
    assert err.value.response.status_code == 400
    assert "datatype must be FP32" in err.value.response.json()["error"]
