"""GatecastError: a call that failed, with the service's error or the reason no answer came."""

# Codes of failures the service never sends, because no usable answer came from it.
UNREACHABLE = "unreachable"  # no connection could be made, or it broke, after every retry
TIMEOUT = "timeout"  # the service stayed silent longer than the client's timeout
BAD_RESPONSE = "bad_response"  # an answer that is not the service's JSON (e.g. a proxy's page)


class GatecastError(Exception):
    """A failed call: the service's status, error code, message and field to blame.

    `status` is None when no answer came (codes `unreachable` and `timeout`); `request_id`
    is the answer's X-Request-Id, which the service's log line of that request also holds.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        field: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.field = field
        self.request_id = request_id

    def __str__(self) -> str:
        """`503 not_ready: no model is loaded (field: model)`, without the parts not known."""
        head = f"{self.status} {self.code}" if self.status is not None else self.code
        tail = f" (field: {self.field})" if self.field else ""
        return f"{head}: {self.message}{tail}"
