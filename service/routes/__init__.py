"""HTTP routes, one blueprint per concern."""

from flask import Flask

from service.routes import docs, forecast, models, monitoring, page, v2, weights


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint."""
    for module in (forecast, models, weights, monitoring, docs, page, v2):
        app.register_blueprint(module.bp)
