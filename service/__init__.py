"""gatecast's HTTP service: `create_app()` builds the Flask app (gunicorn: service:create_app()).

Importing this package does nothing: torch and Flask are imported by create_app's first
call, so gunicorn.conf.py can read service.config in the master without them.
"""

from typing import TYPE_CHECKING

from service.config import ConfigError, ServiceConfig

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["ConfigError", "ServiceConfig", "create_app"]


def create_app(config: ServiceConfig | None = None) -> "Flask":
    """Build the app; see service.app.create_app."""
    from service.app import create_app as build

    return build(config)
