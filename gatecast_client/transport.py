"""HTTP to the service: one urllib3 connection pool, retries with backoff, timeouts, API key."""

import json
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import urllib3
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from gatecast_client.errors import BAD_RESPONSE, TIMEOUT, UNREACHABLE, GatecastError

USER_AGENT = "gatecast-client"
RETRY_STATUSES = frozenset({503})  # no model ready yet, or a model folder not listable
MAX_RETRY_AFTER = 60  # seconds: a longer Retry-After is waited only this long
METHODS = frozenset({"GET", "HEAD", "POST"})  # every request the client sends is idempotent


class RetryPolicy(Retry):
    """urllib3's Retry, except that a read timeout is never retried.

    A request that timed out reached a service that may still be working on it, so sending
    it again only adds load; a connection that breaks before the answer is retried.
    """

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        """The next attempt's policy; a read timeout is raised as it is."""
        if isinstance(error, ReadTimeoutError):
            raise error
        return super().increment(method, url, response, error, _pool, _stacktrace)


def retry_policy(retries: int, backoff: float) -> RetryPolicy:
    """Up to `retries` more attempts on connection errors and 503, waiting Retry-After when
    the answer gives one, else urllib3's exponential backoff: 0, 2, 4, 8... x `backoff` s."""
    return RetryPolicy(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        redirect=False,  # the service never redirects: a redirect is answered as it is
        allowed_methods=METHODS,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff,
        raise_on_status=False,  # the last 503 is returned, to raise its own error
        respect_retry_after_header=True,
        retry_after_max=MAX_RETRY_AFTER,
    )


@dataclass(frozen=True)
class Reply:
    """One answer: its status, the JSON body (None when it is not JSON) and request id."""

    status: int
    body: Any
    text: str
    request_id: str | None


def service_error(reply: Reply) -> GatecastError:
    """The GatecastError of an error answer, from the service's `{"error": {...}}` body."""
    detail = reply.body.get("error") if isinstance(reply.body, dict) else None
    if isinstance(detail, dict) and isinstance(detail.get("code"), str):
        return GatecastError(
            detail["code"],
            str(detail.get("message", "")),
            status=reply.status,
            field=detail.get("field"),
            request_id=reply.request_id,
        )
    return GatecastError(
        BAD_RESPONSE,
        f"an answer without the service's error body: {reply.text[:200]!r}",
        status=reply.status,
        request_id=reply.request_id,
    )


class Transport:
    """The service's base URL, a connection pool with the retry policy and the headers."""

    def __init__(
        self, url: str, api_key: str | None, timeout: float, retries: int, backoff: float
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, not {url!r}")
        if timeout <= 0 or retries < 0 or backoff < 0:
            raise ValueError("timeout must be above 0; retries and backoff at least 0")
        self.url = url.rstrip("/")
        self.retry = retry_policy(retries, backoff)
        self.headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"
        self.pool = urllib3.PoolManager(timeout=urllib3.Timeout(connect=timeout, read=timeout))

    def request(self, method: str, path: str, body: Any = None, *, retry_503: bool = True) -> Reply:
        """Send one request (retried as the policy says) and read its answer, whatever its
        status; GatecastError when no answer came."""
        headers = dict(self.headers)
        data = None
        if body is not None:
            # allow_nan=False: NaN is not JSON; payload checks values before they get here.
            data = json.dumps(body, allow_nan=False).encode()
            headers["Content-Type"] = "application/json"
        retry = self.retry
        if not retry_503:
            retry = retry.new(status_forcelist=frozenset(), respect_retry_after_header=False)
        target = f"{self.url}{path}"
        try:
            response = self.pool.request(method, target, body=data, headers=headers, retries=retry)
        except MaxRetryError as err:
            reason = err.reason
            timed_out = isinstance(reason, ConnectTimeoutError) and not isinstance(
                reason, NewConnectionError
            )
            code = TIMEOUT if timed_out else UNREACHABLE
            raise GatecastError(code, f"{method} {target}: no answer: {reason}") from err
        except ReadTimeoutError as err:
            raise GatecastError(TIMEOUT, f"{method} {target}: no answer in time: {err}") from err
        except HTTPError as err:
            raise GatecastError(UNREACHABLE, f"{method} {target}: {err}") from err
        text = response.data.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        return Reply(response.status, parsed, text, response.headers.get("X-Request-Id"))

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """The JSON body of a successful answer; GatecastError for any other."""
        reply = self.request(method, path, body)
        if reply.status >= 300:
            raise service_error(reply)
        if reply.body is None:
            raise GatecastError(
                BAD_RESPONSE,
                f"{method} {path}: the answer is not JSON: {reply.text[:200]!r}",
                status=reply.status,
                request_id=reply.request_id,
            )
        return reply.body

    def close(self) -> None:
        """Close the pooled connections."""
        self.pool.clear()
