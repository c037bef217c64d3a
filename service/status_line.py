"""The standard reason phrase (RFC 9110, as http.HTTPStatus spells it) on every response.

werkzeug writes its own upper-case phrases ("404 NOT FOUND"); standard_reasons wraps the
WSGI app so that every status line, whichever part of Flask built the response, reads
"404 Not Found". A code without a standard phrase keeps the one it came with.
"""

from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # typeshed's WSGI protocols exist for type checkers only
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


def standard_status(status: str) -> str:
    """'404 NOT FOUND' as '404 Not Found'; a status without a standard phrase unchanged."""
    code = status.partition(" ")[0]
    try:
        return f"{code} {HTTPStatus(int(code)).phrase}"
    except ValueError:
        return status


def standard_reasons(app: "WSGIApplication") -> "WSGIApplication":
    """`app`, answering with standard reason phrases."""

    def wrapped(environ: "WSGIEnvironment", start_response: "StartResponse") -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(standard_status(status), headers, exc_info)

        return app(environ, start)

    return wrapped
