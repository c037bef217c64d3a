"""HTTP routes, one blueprint per concern."""

from flask import Flask

from service.routes import docs, forecast, health, metrics, models


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint."""
    for module in (forecast, models, health, metrics, docs):
        app.register_blueprint(module.bp)
