"""Where an HTTP/1.1 request ends: headers, then a Content-Length or chunked body.

Standard library only, no sockets: the buffering worker feeds it the bytes a connection sent
so far and learns whether the request is complete, needs more, or can never be served.
It follows the framing only (RFC 9112 sections 6 and 7.1); gunicorn's parser still checks
everything else, on the complete bytes.
"""

from dataclasses import dataclass

CRLF = b"\r\n"
HEAD_END = b"\r\n\r\n"
MAX_SIZE_LINE = 1024  # a chunk-size line (hex size plus extensions) longer than this is bad


@dataclass(frozen=True)
class Refusal:
    """Why a request cannot be served: the status, a stable code and a message."""

    status: int
    code: str
    message: str


@dataclass(frozen=True)
class Complete:
    """The request's bytes are all there; `head` is the header block without Expect."""

    head: bytes
    body_start: int  # where the body starts in the bytes fed


class Framing:
    """Tracks one request's framing over the bytes a connection has sent so far."""

    def __init__(self, max_head: int, max_body: int) -> None:
        self.max_head = max_head
        self.max_body = max_body
        self.buf = bytearray()
        self.head_end = -1  # index just past the blank line that ends the headers
        self.length: int | None = None  # declared Content-Length
        self.chunked = False
        self.pos = 0  # chunked: where the next chunk-size line starts
        self.body_bytes = 0  # chunked: data bytes so far
        self.expects_continue = False

    def feed(self, data: bytes) -> Complete | Refusal | None:
        """Add bytes; the request if complete, a refusal, or None while more is needed."""
        self.buf += data
        if self.head_end < 0:
            refused = self._head()
            if refused is not None or self.head_end < 0:
                return refused
        if self.chunked:
            return self._chunks()
        if len(self.buf) - self.head_end >= (self.length or 0):
            return self._complete()
        return None

    def needs_continue(self) -> bool:
        """Whether the client waits for 100 Continue before it sends the body."""
        return self.expects_continue and self.head_end >= 0

    def _head(self) -> Refusal | None:
        """Find the end of the headers and read the framing fields from them."""
        end = self.buf.find(HEAD_END)
        if end < 0:
            if len(self.buf) > self.max_head:
                return Refusal(431, "headers_too_large", "the request headers are too large")
            return None
        self.head_end = end + len(HEAD_END)
        if self.head_end > self.max_head:
            return Refusal(431, "headers_too_large", "the request headers are too large")
        lengths: set[bytes] = set()
        codings: list[bytes] = []
        for line in bytes(self.buf[:end]).split(CRLF)[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                continue  # gunicorn's parser refuses it, with the complete bytes in hand
            key = name.strip().lower()
            if key == b"content-length":
                lengths.add(value.strip())
            elif key == b"transfer-encoding":
                codings += [c.strip().lower() for c in value.split(b",")]
            elif is_continue(line):
                self.expects_continue = True
        if codings:
            # Chunked must be the last coding (RFC 9112 6.3); anything else, or a
            # Content-Length beside it, is for gunicorn's parser to refuse.
            self.chunked = codings[-1] == b"chunked" and not lengths
            if not self.chunked:
                self.length = 0
            self.pos = self.head_end
            return None
        if len(lengths) == 1:
            (raw,) = lengths
            if raw.isdigit():
                self.length = int(raw)
                if self.length > self.max_body:
                    return Refusal(
                        413,
                        "payload_too_large",
                        f"the body is {self.length} bytes; the limit is {self.max_body}",
                    )
        return None  # no body, or a Content-Length the parser refuses on the head alone

    def _chunks(self) -> Complete | Refusal | None:
        """Walk the chunks received so far; complete after the last chunk and trailers."""
        while True:
            line_end = self.buf.find(CRLF, self.pos)
            if line_end < 0:
                if len(self.buf) - self.pos > MAX_SIZE_LINE:
                    return Refusal(400, "bad_http_request", "a chunk-size line is too long")
                return None
            token = bytes(self.buf[self.pos : line_end]).split(b";", 1)[0].strip()
            if not token or any(ch not in b"0123456789abcdefABCDEF" for ch in token):
                return Refusal(400, "bad_http_request", f"invalid chunk size {token[:32]!r}")
            size = int(token, 16)
            data_start = line_end + len(CRLF)
            if size == 0:
                if self.buf[data_start : data_start + 2] == CRLF:
                    return self._complete()
                trailers_end = self.buf.find(HEAD_END, data_start)
                if trailers_end < 0:
                    if len(self.buf) - data_start > self.max_head:
                        return Refusal(431, "headers_too_large", "the trailers are too large")
                    return None
                return self._complete()
            if self.body_bytes + size > self.max_body:
                return Refusal(
                    413,
                    "payload_too_large",
                    f"the body is above the limit of {self.max_body} bytes",
                )
            data_end = data_start + size
            if len(self.buf) < data_end + len(CRLF):
                return None
            if self.buf[data_end : data_end + len(CRLF)] != CRLF:
                return Refusal(400, "bad_http_request", "chunk data is longer than its size")
            self.body_bytes += size
            self.pos = data_end + len(CRLF)

    def _complete(self) -> Complete:
        """The request, with any Expect: 100-continue taken out of its headers."""
        head = bytes(self.buf[: self.head_end])
        if self.expects_continue:  # answered by the worker or moot: the body is here
            lines = head[: -len(HEAD_END)].split(CRLF)
            head = CRLF.join(ln for ln in lines if not is_continue(ln)) + HEAD_END
        return Complete(head, self.head_end)


def is_continue(line: bytes) -> bool:
    """Whether a header line is `Expect: 100-continue`."""
    name, sep, value = line.partition(b":")
    return (
        bool(sep) and name.strip().lower() == b"expect" and value.strip().lower() == b"100-continue"
    )
