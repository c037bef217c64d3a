"""What one app instance holds, reachable from views as get_state()."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import current_app

from service.config import ServiceConfig
from service.metrics import Metrics
from service.registry import Registry
from service.schemas import ForecastBody

if TYPE_CHECKING:  # service.batching imports service.request, which imports this module
    from service.batching import Batcher

EXTENSION = "gatecast"


@dataclass(frozen=True)
class ServiceState:
    """Config, registry, metrics, batcher and the per-config request schema of one app."""

    config: ServiceConfig
    registry: Registry
    metrics: Metrics
    request_schema: type[ForecastBody]
    openapi: bytes  # the OpenAPI document, serialized once at start-up
    keys: tuple[bytes, ...]  # API keys as bytes for hmac.compare_digest
    batcher: "Batcher | None" = None  # None: GATECAST_BATCH_MAX is 0, every request runs alone


def get_state() -> ServiceState:
    """The current app's state."""
    state: ServiceState = current_app.extensions[EXTENSION]
    return state
