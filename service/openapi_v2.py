"""The OpenAPI paths of the Open Inference Protocol v2 routes (service.routes.v2)."""

from collections.abc import Callable, Mapping
from typing import Any

from service.v2_schemas import (
    InferRequest,
    InferResponse,
    ModelMetadata,
    ModelReady,
    ServerLive,
    ServerMetadata,
    ServerReady,
    V2Error,
)

Ref = Callable[..., dict[str, str]]  # _Schemas.ref of service.openapi: (model, mode)

ERROR_TEXT = {
    400: "A bad tensor, output or request field; the /forecast limits apply.",
    401: "API keys are configured and the bearer token is missing or wrong.",
    404: "Unknown model or version.",
    413: "Body above the configured limit.",
    415: "Neither application/json nor application/octet-stream (binary tensor data).",
    503: "No model ready, or the one asked for does not load.",
}


def _json(ref: dict[str, str], description: str) -> dict[str, Any]:
    """A JSON response object."""
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _infer_examples(models: Mapping[str, int]) -> dict[str, Any]:
    """One small valid /infer request per model loaded at start-up: a 1-step forecast of
    one sequence of as many observations as the model needs (at least 4)."""
    examples = {}
    for name, need in models.items():
        values = [round(2.0 + (k % 4) / 2, 1) for k in range(max(4, need))]
        observations = {"name": "observations", "datatype": "FP32", "shape": [1, len(values)]}
        examples[name] = {
            "summary": f"Forecast 1 step with {name}",
            "value": {"inputs": [{**observations, "data": values}]},
        }
    return examples


def v2_paths(
    ref: Ref, auth: bool, name_schema: dict[str, Any], models: Mapping[str, int]
) -> dict[str, Any]:
    """The /v2 paths; `models` (name: observations needed) give the infer examples."""
    err = ref(V2Error)

    def errors(*codes: int) -> dict[str, Any]:
        found = (401, *codes) if auth else codes
        return {str(c): _json(err, ERROR_TEXT[c]) for c in found}

    name = {"name": "name", "in": "path", "required": True, "schema": name_schema}
    version = {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}
    body: dict[str, Any] = {"schema": ref(InferRequest, "validation")}
    if models:
        body["examples"] = _infer_examples(models)
    infer_ok = {
        "description": "The outputs asked for: JSON, or with binary outputs a JSON header of "
        "Inference-Header-Content-Length bytes followed by their data.",
        "content": {
            "application/json": {"schema": ref(InferResponse)},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
    paths: dict[str, Any] = {
        "/v2": {
            "get": {
                "operationId": "v2ServerMetadata",
                "summary": "Server name, version and extensions (Open Inference Protocol v2).",
                "responses": {"200": _json(ref(ServerMetadata), "Server metadata."), **errors()},
            }
        },
        "/v2/health/live": {
            "get": {
                "operationId": "v2ServerLive",
                "summary": "Liveness.",
                "security": [],
                "responses": {"200": _json(ref(ServerLive), "Alive.")},
            }
        },
        "/v2/health/ready": {
            "get": {
                "operationId": "v2ServerReady",
                "summary": "Readiness.",
                "security": [],
                "responses": {
                    "200": _json(ref(ServerReady), "A model is loaded."),
                    "503": _json(err, ERROR_TEXT[503]),
                },
            }
        },
    }
    for suffix, params, label in (
        ("", [name], ""),
        ("/versions/{version}", [name, version], "Version"),
    ):
        base = f"/v2/models/{{name}}{suffix}"
        paths[base] = {
            "get": {
                "operationId": f"v2ModelMetadata{label}",
                "summary": "A model's versions and its input and output tensors.",
                "parameters": params,
                "responses": {
                    "200": _json(ref(ModelMetadata), "Model metadata."),
                    **errors(404, 503),
                },
            }
        }
        paths[f"{base}/ready"] = {
            "get": {
                "operationId": f"v2ModelReady{label}",
                "summary": "Whether the model (version) is loaded.",
                "parameters": params,
                "responses": {"200": _json(ref(ModelReady), "Ready."), **errors(404, 503)},
            }
        }
        paths[f"{base}/infer"] = {
            "post": {
                "operationId": f"v2Infer{label}",
                "summary": "Forecast a batch of sequences; outputs as named tensors.",
                "parameters": params,
                "requestBody": {"required": True, "content": {"application/json": body}},
                "responses": {"200": infer_ok, **errors(400, 404, 413, 415, 503)},
            }
        }
    return paths
