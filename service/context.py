"""Flask's request and g themselves, for code that reads them many times per request.

Each attribute read through Flask's context proxies looks the context up again (about 2 us
on the request path); the per-request hooks read a dozen, so they take the objects once.
"""

from typing import Any

from flask import Request, g, request


def current_request() -> Request:
    """The request being handled, not its proxy."""
    proxy: Any = request
    real: Request = proxy._get_current_object()
    return real


def current_g() -> Any:
    """This request's g (flask.g), not its proxy."""
    proxy: Any = g
    return proxy._get_current_object()
