"""Prometheus metrics: one CollectorRegistry per app, or gunicorn's shared multiprocess files.

With PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py sets it before any worker starts),
prometheus_client writes every value to files in that folder and /metrics aggregates all
workers. Without it (tests, `flask run`) each app has its own registry; the global default
registry is never used, because tests build many apps in one process.
"""

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

# Request latency buckets in seconds: the service answers in about a millisecond, big
# internals responses take tens of milliseconds.
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

# Batch sizes, in requests and in sequences per combined call (service.batching).
BATCH_REQUEST_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128, 256)
BATCH_SEQUENCE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
# Seconds in a batching queue: nothing for a request that comes alone, about one model call
# for one that queues behind a call.
QUEUE_BUCKETS = (
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    5.0,
)


class Metrics:
    """The service's metrics; the registry reports its scans and failures here."""

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "gatecast_requests",
            "HTTP requests by endpoint (route pattern), model served and status code.",
            ["endpoint", "model", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gatecast_request_duration_seconds",
            "Time from request start to response, by endpoint (route pattern).",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.loaded = Gauge(
            "gatecast_models_loaded",
            "Model names with a servable version (per worker; the max over live workers).",
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self.failures = Counter(
            "gatecast_model_load_failures",
            "Checkpoints that failed to load, by model name (every worker counts its own).",
            ["model"],
            registry=self.registry,
        )
        # Each label combination's child, looked up once: .labels() costs more than the
        # update itself. Bounded like the label values (route patterns, served models).
        self.request_children: dict[tuple[str, str, int], Counter] = {}
        self.latency_children: dict[str, Histogram] = {}

        self.batch_requests = Histogram(
            "gatecast_batch_requests",
            "Requests per batched model call (each distinct length is one call to the module).",
            buckets=BATCH_REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.batch_sequences = Histogram(
            "gatecast_batch_sequences",
            "Sequences per batched model call.",
            buckets=BATCH_SEQUENCE_BUCKETS,
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "gatecast_batch_call_seconds",
            "Time a batched model call took; its sum over batch_requests' sum is model time "
            "per request.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_seconds = Histogram(
            "gatecast_batch_queue_seconds",
            "Time a request waited in the batching queue before its model call started.",
            buckets=QUEUE_BUCKETS,
            registry=self.registry,
        )

    def observe(self, endpoint: str, model: str, status: int, seconds: float) -> None:
        """Record one finished request."""
        counter = self.request_children.get((endpoint, model, status))
        if counter is None:  # a race only looks the same child up twice
            counter = self.requests.labels(endpoint, model, str(status))
            self.request_children[(endpoint, model, status)] = counter
        counter.inc()
        histogram = self.latency_children.get(endpoint)
        if histogram is None:
            histogram = self.latency_children[endpoint] = self.latency.labels(endpoint)
        histogram.observe(seconds)

    def batch_ran(self, requests: int, sequences: int, seconds: float, waits: list[float]) -> None:
        """Record one batched call: its size, its time and each request's time queued."""
        self.batch_requests.observe(requests)
        self.batch_sequences.observe(sequences)
        self.batch_seconds.observe(seconds)
        for wait in waits:
            self.queue_seconds.observe(wait)

    def models_loaded(self, count: int) -> None:
        """Set the number of model names with a servable version."""
        self.loaded.set(count)

    def load_failed(self, name: str) -> None:
        """Count one checkpoint (or model folder) that is not served."""
        self.failures.labels(name).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        if self.multiprocess:
            merged = CollectorRegistry()
            MultiProcessCollector(merged)
            return generate_latest(merged), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
