"""Open Inference Protocol v2 (REST): server and model metadata, health, and inference.

Inference runs on the path of POST /forecast (the batcher, or batching.run_alone) with its
limits; errors on every /v2 path are {"error": message} (service.errors).
"""

from functools import cache
from importlib import metadata

from flask import Blueprint, Response

from service.batching import run_alone
from service.checkpoint import LoadedModel
from service.errors import json_response
from service.routes.monitoring import check_ready
from service.state import get_state
from service.v2_model import PLATFORM, TensorSpec, input_specs, output_specs
from service.v2_request import lookup, preprocess_infer
from service.v2_response import infer_response

bp = Blueprint("v2", __name__)

SERVER = "gatecast"
EXTENSIONS = ("binary_tensor_data",)


@cache
def server_version() -> str:
    """The installed gatecast package's version."""
    try:
        return metadata.version(SERVER)
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def spec_body(spec: TensorSpec) -> dict[str, object]:
    """A tensor's metadata entry."""
    return {"name": spec.name, "datatype": spec.datatype, "shape": list(spec.shape)}


@bp.get("/v2")
def server_metadata() -> Response:
    """The server's name, version and protocol extensions."""
    return json_response(
        {"name": SERVER, "version": server_version(), "extensions": list(EXTENSIONS)}
    )


@bp.get("/v2/health/live")
def live() -> Response:
    """200 whenever the process answers (no API key, like /healthz)."""
    return json_response({"live": True})


@bp.get("/v2/health/ready")
def ready() -> Response:
    """200 when a model can be served, else 503 with the reason (no API key, like /readyz)."""
    check_ready(get_state())
    return json_response({"ready": True})


@bp.get("/v2/models/<name>")
@bp.get("/v2/models/<name>/versions/<version>")
def model_metadata(name: str, version: str | None = None) -> Response:
    """A model's loaded versions, and the tensors of the version named (the served one by
    default)."""
    state = get_state()
    model: LoadedModel = lookup(state, name, version)
    entries = state.registry.snapshot.versions.get(name, {})
    loaded = [v for v, entry in entries.items() if isinstance(entry, LoadedModel)]
    return json_response(
        {
            "name": model.name,
            "versions": loaded or [model.version],
            "platform": PLATFORM,
            "inputs": [spec_body(s) for s in input_specs(model)],
            "outputs": [spec_body(s) for s in output_specs(model)],
        }
    )


@bp.get("/v2/models/<name>/ready")
@bp.get("/v2/models/<name>/versions/<version>/ready")
def model_ready(name: str, version: str | None = None) -> Response:
    """200 when the model (version) is loaded; 404 unknown, 503 when it does not load."""
    lookup(get_state(), name, version)
    return json_response({"name": name, "ready": True})


@bp.post("/v2/models/<name>/infer")
@bp.post("/v2/models/<name>/versions/<version>/infer")
def infer(name: str, version: str | None = None) -> Response:
    """Forecast a batch of equal-length sequences; the outputs asked for, as named tensors."""
    state = get_state()
    call = preprocess_infer(state, name, version)
    req = call.request
    results = state.batcher.run(req) if state.batcher is not None else run_alone(req)
    return infer_response(call, results)
