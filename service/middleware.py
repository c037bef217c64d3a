"""Per-request plumbing: request ids, API keys, body limit, access log and metrics."""

import hmac
import logging
import re
import time
import uuid

from flask import Flask, Response

from service.context import current_g, current_request
from service.errors import ApiError
from service.logs import log_fields
from service.state import ServiceState

REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# No key needed: load balancers' probes (v2's too), and the explorer page with its static files.
EXEMPT_ENDPOINTS = frozenset(
    {"monitoring.healthz", "monitoring.readyz", "v2.live", "v2.ready", "page.index", "static"}
)

access_log = logging.getLogger("gatecast.access")


def authorized(header: str | None, keys: tuple[bytes, ...]) -> bool:
    """Whether `Authorization: Bearer <key>` names one of the keys.

    Missing, malformed and wrong headers take the same path: every key is compared in
    constant time, so neither the answer's timing nor its text tells them apart.
    """
    scheme, _, token = (header or "").partition(" ")
    # Only ASCII spaces and tabs around the token are dropped (RFC 7230's OWS), nothing else.
    # WSGI hands headers over decoded as latin-1: encoding back gives the bytes sent, which
    # are compared with the key's UTF-8 bytes.
    token = token.strip(" \t")
    candidate = token.encode("latin-1") if scheme.lower() == "bearer" else b""
    match = False
    for key in keys:
        match |= hmac.compare_digest(candidate, key)
    return match and bool(candidate)


def install(app: Flask, state: ServiceState) -> None:
    """Register the before/after request hooks."""
    limit = state.config.max_body_bytes

    @app.before_request
    def begin() -> None:
        req, ctx = current_request(), current_g()
        ctx.start = time.perf_counter()
        given = req.headers.get("X-Request-Id", "")
        ctx.request_id = given if REQUEST_ID_RE.fullmatch(given) else uuid.uuid4().hex
        needs_key = bool(state.keys) and req.endpoint not in EXEMPT_ENDPOINTS
        if needs_key and not authorized(req.headers.get("Authorization"), state.keys):
            raise ApiError(
                401,
                "unauthorized",
                "missing or invalid API key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        # The declared length, before anything reads the body; a chunked body has none and
        # is held to the limit where it is read (service.request.read_body explains both).
        length = req.content_length
        if length is not None and length > limit:
            raise ApiError(
                413, "payload_too_large", f"the body is {length} bytes; the limit is {limit}"
            )

    @app.after_request
    def finish(response: Response) -> Response:
        req, ctx = current_request(), current_g()
        request_id = ctx.get("request_id") or uuid.uuid4().hex
        response.headers["X-Request-Id"] = request_id
        seconds = time.perf_counter() - ctx.get("start", time.perf_counter())
        rule = req.url_rule
        endpoint = rule.rule if rule is not None else "unmatched"  # bounded label values
        model = ctx.get("model")
        status = response.status_code
        state.metrics.observe(endpoint, model or "", status, seconds)
        if access_log.isEnabledFor(logging.INFO):
            fields: dict[str, object] = {
                "request_id": request_id,
                "method": req.method,
                "path": req.path,  # no query string: it could carry secrets
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
                "model": model,
                "version": ctx.get("version"),
            }
            log_fields(access_log, logging.INFO, "request", fields)
        return response
