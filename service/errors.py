"""JSON errors: {"error": {"code", "message", "field"}} for every failure, never HTML;
{"error": message} on the Open Inference Protocol's /v2 paths."""

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
from flask import Flask, Response, has_request_context
from werkzeug.exceptions import HTTPException

from service.context import current_request
from service.wire_errors import uses_v2_errors

log = logging.getLogger("gatecast.errors")

# Stable codes for the HTTP errors werkzeug raises itself.
HTTP_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
}


class ApiError(Exception):
    """An error with a status, a stable machine-readable code and the offending field."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """Serialize with orjson (numpy arrays included) into a JSON response."""
    data = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(data, status=status, headers=headers, mimetype="application/json")


def error_response(err: ApiError) -> Response:
    """The JSON body of an error: {"error": message} on /v2 paths (the Open Inference
    Protocol's form), else with its code and field."""
    if has_request_context() and uses_v2_errors(current_request().path):
        return json_response({"error": err.message}, err.status, err.headers)
    body = {"error": {"code": err.code, "message": err.message, "field": err.field}}
    return json_response(body, err.status, err.headers)


def register_error_handlers(app: Flask) -> None:
    """Turn ApiError, werkzeug's HTTP errors and anything unexpected into JSON."""

    @app.errorhandler(ApiError)
    def api_error(err: ApiError) -> Response:
        return error_response(err)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> Response:
        status = err.code or 500
        code = HTTP_CODES.get(status, "http_error")
        # Keep werkzeug's headers (Allow on 405) but not its HTML content type.
        headers = {k: v for k, v in err.get_headers() if k.lower() != "content-type"}
        message = err.description or err.name
        return error_response(ApiError(status, code, message, None, headers))

    @app.errorhandler(Exception)
    def unexpected(err: Exception) -> Response:
        log.exception("unhandled error")  # traceback to the log, never to the client
        return error_response(ApiError(500, "internal", "internal server error"))

    @app.after_request
    def json_errors(response: Response) -> Response:
        """An error status set outside the handlers gets the JSON body too.

        werkzeug answers a static file's failed If-Match with 412 and the file itself as body.
        """
        if response.status_code < 400 or response.mimetype == "application/json":
            return response
        status = response.status_code
        dropped = {"content-type", "content-length", "content-disposition"}
        headers = {k: v for k, v in response.headers.items() if k.lower() not in dropped}
        response.close()  # the file it was about to send
        try:
            message = HTTPStatus(status).description
        except ValueError:  # a status http.HTTPStatus does not know
            message = "error"
        code = HTTP_CODES.get(status, "http_error")
        return error_response(ApiError(status, code, message, None, headers))
