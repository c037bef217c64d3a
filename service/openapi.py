"""The OpenAPI 3.1 document, its schemas generated from the pydantic models."""

from typing import Any

from pydantic import BaseModel

from service.config import ServiceConfig
from service.response_model import (
    ErrorResponse,
    ForecastResponse,
    Health,
    ModelInfo,
    ModelList,
    Ready,
)

REF = "#/components/schemas/{model}"

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


def build_openapi(cfg: ServiceConfig, request_model: type[BaseModel]) -> dict[str, Any]:
    """The whole document for this configuration (limits and auth as configured)."""
    s = _Schemas()
    err = s.ref(ErrorResponse)

    def errors(*codes: int) -> dict[str, Any]:
        found = (401, *codes) if cfg.api_keys else codes
        return {str(c): _json(err, ERROR_TEXT[c]) for c in found}

    forecast = {
        "post": {
            "operationId": "forecast",
            "summary": "Forecast one or many sequences, with the LSTM's gate internals.",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": s.ref(request_model, "validation")}},
            },
            "responses": {
                "200": _json(s.ref(ForecastResponse), "Forecast (raw units)."),
                **errors(400, 404, 413, 415, 503),
            },
        }
    }
    name_param = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
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
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "gatecast",
            "version": "1",
            "description": "Time-series forecasts from an LSTM that shows its gates. Every "
            'response carries X-Request-Id; errors are {"error": {code, message, field}}.',
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
