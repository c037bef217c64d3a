"""What one app instance holds, reachable from views as get_state()."""

from dataclasses import dataclass

from flask import current_app

from service.config import ServiceConfig
from service.metrics import Metrics
from service.registry import Registry
from service.schemas import ForecastBody

EXTENSION = "gatecast"


@dataclass(frozen=True)
class ServiceState:
    """Config, registry, metrics and the per-config request schema of one app."""

    config: ServiceConfig
    registry: Registry
    metrics: Metrics
    request_schema: type[ForecastBody]
    openapi: bytes  # the OpenAPI document, serialized once at start-up
    keys: tuple[bytes, ...]  # API keys as bytes for hmac.compare_digest


def get_state() -> ServiceState:
    """The current app's state."""
    state: ServiceState = current_app.extensions[EXTENSION]
    return state
