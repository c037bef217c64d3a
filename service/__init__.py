"""gatecast's HTTP service: `create_app()` builds the Flask app (gunicorn: service:create_app()).

Importing this package does nothing: create_app is service.app's, looked up on first use,
so gunicorn.conf.py can read service.config in the master without torch and Flask.
"""

from typing import TYPE_CHECKING, Any

from service.config import ConfigError, ServiceConfig

if TYPE_CHECKING:
    from service.app import create_app

__all__ = ["ConfigError", "ServiceConfig", "create_app"]


def __getattr__(name: str) -> Any:
    """service.create_app, imported from service.app when first asked for (PEP 562)."""
    if name == "create_app":
        from service.app import create_app

        return create_app
    raise AttributeError(f"module 'service' has no attribute {name!r}")
