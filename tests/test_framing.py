"""Where a request ends, as the buffering worker sees it (service.framing)."""

import pytest

from service.framing import Complete, Framing, Refusal

HEAD = b"POST /forecast HTTP/1.1\r\nHost: x\r\n"


def feed_bytewise(data: bytes, max_body: int = 1000) -> tuple[Complete | Refusal | None, int]:
    """Feed one byte at a time; the first verdict and how many bytes it took."""
    framing = Framing(max_head=256, max_body=max_body)
    for i in range(len(data)):
        verdict = framing.feed(data[i : i + 1])
        if verdict is not None:
            return verdict, i + 1
    return None, len(data)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        HEAD + b"Content-Length: 5\r\n\r\nhello",
        HEAD + b"content-length:  0 \r\n\r\n",
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        HEAD
        + b"Transfer-Encoding: chunked\r\n\r\n2;ext=1\r\nhe\r\n3\r\nllo\r\n0\r\nX-T: 1\r\n\r\n",
        HEAD + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    ],
)
def test_a_request_is_complete_exactly_at_its_last_byte(request_bytes: bytes) -> None:
    verdict, used = feed_bytewise(request_bytes + b"GET /next")  # a pipelined request after
    assert isinstance(verdict, Complete)
    assert used == len(request_bytes)


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (HEAD + b"Content-Length: 1001\r\n\r\n", 413, "payload_too_large"),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "bad_http_request"),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n", 400, "bad_http_request"),
        (HEAD + b"Transfer-Encoding: chunked\r\n\r\n3e9\r\n", 413, "payload_too_large"),
        (HEAD + b"X-Long: " + b"a" * 300 + b"\r\n\r\n", 431, "headers_too_large"),
    ],
)
def test_requests_that_can_never_be_served_are_refused_early(
    request_bytes: bytes, status: int, code: str
) -> None:
    verdict, _ = feed_bytewise(request_bytes)
    assert isinstance(verdict, Refusal)
    assert (verdict.status, verdict.code) == (status, code)


def test_an_unfinished_request_needs_more() -> None:
    for partial in (
        HEAD,
        HEAD + b"Content-Length: 5\r\n\r\nhell",
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    ):
        assert feed_bytewise(partial)[0] is None


def test_head_level_mistakes_are_left_to_the_parser() -> None:
    # Both framings, or a length that is not a number: complete at the head, so gunicorn's
    # parser sees the whole head and answers its own 400.
    for head in (
        b"Content-Length: abc\r\n",
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    ):
        verdict, used = feed_bytewise(HEAD + head + b"\r\nhello")
        assert isinstance(verdict, Complete) and used == len(HEAD + head) + 2


def test_expect_continue_is_answered_once_and_taken_out_of_the_head() -> None:
    framing = Framing(max_head=1024, max_body=100)
    head = HEAD + b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n"
    assert framing.feed(head) is None and framing.needs_continue()
    verdict = framing.feed(b"{}")
    assert isinstance(verdict, Complete)
    assert b"expect" not in verdict.head.lower() and verdict.head.endswith(b"\r\n\r\n")
    assert b"Content-Length: 2" in verdict.head
