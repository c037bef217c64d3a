"""The gate explorer: GET / serves the page; its scripts and styles are Flask static files."""

import hashlib
import mimetypes
from functools import cache
from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, request

from service.state import get_state

bp = Blueprint("page", __name__)

# ES modules must be served with a JavaScript type; some systems' tables map .js otherwise.
mimetypes.add_type("text/javascript", ".js")

# Everything the page loads comes from this origin; no inline script or style anywhere.
CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


@cache
def asset_version(folder: str) -> str:
    """A short hash of every file under `folder`: it changes whenever a script or style does."""
    digest = hashlib.sha256()
    root = Path(folder)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# Not strict: an empty path (`GET http://host HTTP/1.1`) is served here, where werkzeug would
# redirect it to "/" with a Location built from the client's Host header.
@bp.get("/", strict_slashes=False)
def index() -> Response:
    """The explorer page (no API key needed; the data endpoints it calls still need one)."""
    folder = current_app.static_folder
    version = asset_version(folder) if folder else "0"
    auth = bool(get_state().keys)
    html = render_template("index.html", version=version, auth=auth)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.cache_control.no_cache = True  # revalidate: the ETag below answers 304
    response.set_etag(hashlib.sha256(html.encode()).hexdigest()[:16])
    response.make_conditional(request)  # 304 in place when the ETag matches
    return response


@bp.after_app_request
def static_headers(response: Response) -> Response:
    """Static files: no MIME sniffing; Flask already sends an ETag and Cache-Control no-cache."""
    if request.endpoint == "static":
        response.headers["X-Content-Type-Options"] = "nosniff"
    return response
