"""The application factory."""

import logging

import orjson
from flask import Flask

from model.export import check_name
from service import middleware, status_line, wire_errors
from service.batching import Batcher
from service.config import ConfigError, ServiceConfig
from service.errors import register_error_handlers
from service.logs import configure_logging
from service.metrics import Metrics
from service.openapi import build_openapi
from service.registry import Registry
from service.routes import register_blueprints
from service.schemas import request_schema
from service.state import EXTENSION, ServiceState
from service.threads import configure_torch

log = logging.getLogger("gatecast.app")

# Seconds create_app waits for the first scan of the model folder: well inside gunicorn's
# default 30 s boot timeout. A longer scan goes on; /readyz says 503 until it ends.
FIRST_SCAN_WAIT = 20.0


def create_app(config: ServiceConfig | None = None) -> Flask:
    """Build the Flask app: config (from GATECAST_* when None), models, routes, hooks.

    Raises ConfigError on bad settings. Starts the model-folder scan thread (under gunicorn
    in each worker, after the fork) and waits a bounded time for its first scan, so a folder
    that hangs a scan cannot keep the worker from booting and answering /healthz.
    """
    cfg = config if config is not None else ServiceConfig.from_env()
    if cfg.default_model is not None:
        try:
            check_name(cfg.default_model)
        except ValueError as err:
            raise ConfigError(f"GATECAST_DEFAULT_MODEL: {err}", "default_model") from None
    configure_logging(cfg.log_level_number)
    configure_torch(cfg.torch_threads)

    # No static folder yet: Flask would add its rule at once, before the config below.
    app = Flask(__name__, static_folder=None)
    # No automatic OPTIONS answers (an empty 200 text/html): OPTIONS gets the JSON 405.
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
    # Paths are matched as sent: werkzeug would otherwise answer `//x` or `/a//b` with a
    # redirect whose Location is built from the client's Host header.
    app.url_map.merge_slashes = False
    app.static_folder = "static"
    app.add_url_rule(
        f"{app.static_url_path}/<path:filename>", "static", view_func=app.send_static_file
    )
    # "404 Not Found", not werkzeug's "404 NOT FOUND", on every status line.
    app.wsgi_app = status_line.standard_reasons(app.wsgi_app)  # type: ignore[method-assign,assignment]
    wire_errors.install()  # under gunicorn: JSON, not HTML, for requests its parser refuses
    metrics = Metrics()
    registry = Registry(cfg.model_dir, keep=cfg.keep_versions, metrics=metrics, serve=cfg.serve)
    snap = registry.start(cfg.poll_seconds, wait=FIRST_SCAN_WAIT)
    schema = request_schema(cfg)
    batcher = None
    if cfg.batch_max > 0:
        batcher = Batcher(cfg.batch_max, cfg.batch_delay_us, cfg.max_request_steps, metrics)
    state = ServiceState(
        config=cfg,
        registry=registry,
        metrics=metrics,
        request_schema=schema,
        openapi=orjson.dumps(
            build_openapi(cfg, schema, {n: m.min_history for n, m in snap.latest.items()})
        ),
        keys=tuple(k.encode() for k in cfg.api_keys),
        batcher=batcher,
    )
    app.extensions[EXTENSION] = state
    middleware.install(app, state)
    register_error_handlers(app)
    register_blueprints(app)
    log.info(
        "gatecast ready: %d model(s) loaded, %d failed, from %s",
        len(snap.latest),
        len(snap.failures()),
        cfg.model_dir,
    )
    return app
