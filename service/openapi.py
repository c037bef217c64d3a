"""The OpenAPI 3.1 document, its schemas generated from the pydantic models."""

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from service.config import ServiceConfig
from service.openapi_v2 import v2_paths
from service.schemas import (
    ErrorResponse,
    ForecastResponse,
    Health,
    InputWeights,
    ModelInfo,
    ModelList,
    Ready,
)

REF = "#/components/schemas/{model}"
MAX_EXAMPLES = 8  # model names shown as examples, however many are loaded

ERROR_TEXT = {
    400: "Invalid JSON or request (codes invalid_json, invalid_request).",
    401: "API keys are configured and the bearer token is missing or wrong (unauthorized).",
    404: "Unknown model or version (unknown_model, unknown_version).",
    413: "Body above the configured limit (payload_too_large).",
    415: "Content-Type is not application/json (unsupported_media_type).",
    503: "No model ready, or the one asked for does not load (not_ready).",
}


class _Schemas:
    """Collects component schemas, hoisting every model's $defs into components."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def ref(self, model: type[BaseModel], mode: str = "serialization") -> dict[str, str]:
        """Add a model (and what it refers to); return a $ref to it."""
        schema = model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
        self.schemas.update(schema.pop("$defs", {}))
        self.schemas[model.__name__] = schema
        return {"$ref": REF.format(model=model.__name__)}


def _json(ref: dict[str, str], description: str) -> dict[str, Any]:
    """A JSON response object."""
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _request_examples(models: Mapping[str, int]) -> dict[str, Any]:
    """One small valid /forecast request per model loaded at start-up (OpenAPI `examples`):
    a 1-step forecast from as many observations as the model needs (at least 4)."""
    return {
        name: {
            "summary": f"Forecast 1 step with {name}",
            "value": {
                "model": name,
                "sequence": [round(2.0 + (k % 4) / 2, 1) for k in range(max(4, need))],
                "horizon": 1,
            },
        }
        for name, need in models.items()
    }


def build_openapi(
    cfg: ServiceConfig, request_schema: type[BaseModel], loaded: Mapping[str, int] | None = None
) -> dict[str, Any]:
    """The whole document for this configuration (limits and auth as configured).

    `loaded`: the models loaded at start-up and the observations each needs, given as
    examples (clients and fuzzers then reach real models); validation never depends on them.
    """
    s = _Schemas()
    err = s.ref(ErrorResponse)
    needs = dict(sorted((loaded or {}).items())[:MAX_EXAMPLES])
    models = list(needs)
    body: dict[str, Any] = {"schema": s.ref(request_schema, "validation")}
    name_schema: dict[str, Any] = {"type": "string"}
    if models:
        s.schemas[request_schema.__name__]["properties"]["model"]["examples"] = models
        body["examples"] = _request_examples(needs)
        name_schema["examples"] = models

    def errors(*codes: int) -> dict[str, Any]:
        found = (401, *codes) if cfg.api_keys else codes
        return {str(c): _json(err, ERROR_TEXT[c]) for c in found}

    forecast = {
        "post": {
            "operationId": "forecast",
            "summary": "Forecast one or many sequences, with the LSTM's gate internals.",
            "requestBody": {
                "required": True,
                "content": {"application/json": body},
            },
            "responses": {
                "200": _json(s.ref(ForecastResponse), "Forecast (raw units)."),
                **errors(400, 404, 413, 415, 503),
            },
        }
    }
    name_param = {"name": "name", "in": "path", "required": True, "schema": name_schema}
    version_param = {
        "name": "version",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    paths: dict[str, Any] = {
        "/forecast": forecast,
        "/models": {
            "get": {
                "operationId": "listModels",
                "summary": "Every model and version.",
                "responses": {"200": _json(s.ref(ModelList), "Models."), **errors()},
            }
        },
        "/models/{name}": {
            "get": {
                "operationId": "getModel",
                "summary": "One model.",
                "parameters": [name_param],
                "responses": {"200": _json(s.ref(ModelInfo), "The model."), **errors(404)},
            }
        },
        "/models/{name}/versions/{version}/input-weights": {
            "get": {
                "operationId": "getInputWeights",
                "summary": "How strongly each input drives each gate: the input weights "
                "(PyTorch's weight_ih) per layer, gate and unit.",
                "parameters": [name_param, version_param],
                "responses": {
                    "200": _json(s.ref(InputWeights), "The version's input weights."),
                    **errors(404, 503),
                },
            }
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Liveness.",
                "security": [],
                "responses": {"200": _json(s.ref(Health), "Alive.")},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "Readiness.",
                "security": [],
                "responses": {
                    "200": _json(s.ref(Ready), "A model is loaded."),
                    "503": _json(err, ERROR_TEXT[503]),
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics.",
                "responses": {
                    "200": {
                        "description": "Prometheus text exposition format.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    **errors(),
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document.",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1 document.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **errors(),
                },
            }
        },
    }
    paths.update(v2_paths(s.ref, bool(cfg.api_keys), name_schema, needs))
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "gatecast",
            "version": "1",
            "description": "Time-series forecasts from an LSTM that shows its gates. Every "
            'response carries X-Request-Id; errors are {"error": {code, message, field}}, '
            'and {"error": message} on the Open Inference Protocol v2 paths (/v2...).',
        },
        "paths": paths,
        "components": {
            "schemas": s.schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
    if cfg.api_keys:
        doc["security"] = [{"bearer": []}]
    return doc
