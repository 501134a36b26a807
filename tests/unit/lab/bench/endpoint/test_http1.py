"""The endpoint's HTTP/1.1: requests parsed whole however the bytes arrive, answered in order,
kept alive unless asked otherwise, and refused plainly when they are not what it serves."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lab.bench.endpoint.http1 import (
    MAX_HEAD,
    BadRequest,
    HttpProtocol,
    Request,
    RequestParser,
    Response,
    encode,
    parse_head,
)


def raw(body: bytes = b'{"message":{}}', path: str = "/v1/x?y=1", **headers: str) -> bytes:
    fields = {"Host": "127.0.0.1", "Content-Length": str(len(body)), **headers}
    head = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return f"POST {path} HTTP/1.1\r\n{head}\r\n".encode() + body


class Transport:
    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True


def test_the_head_has_lower_case_names_and_a_path_without_query() -> None:
    head = parse_head(b"GET /counts?all=1 HTTP/1.1\r\nX-Thing:  v \r\nConnection: Keep-Alive")
    assert (head.method, head.path, head.version) == ("GET", "/counts", "HTTP/1.1")
    assert head.headers == {"x-thing": "v", "connection": "Keep-Alive"}
    assert head.keep_alive


@pytest.mark.parametrize(
    ("version", "connection", "kept"),
    [("HTTP/1.1", "", True), ("HTTP/1.1", "close", False), ("HTTP/1.0", "", False),
     ("HTTP/1.0", "keep-alive", True)],
)  # fmt: skip
def test_keep_alive(version: str, connection: str, kept: bool) -> None:
    line = f"GET / {version}\r\nConnection: {connection}" if connection else f"GET / {version}"
    assert parse_head(line.encode()).keep_alive is kept


@pytest.mark.parametrize(
    ("head", "status"),
    [(b"GARBAGE", 400), (b"GET / SPDY/3", 400), (b"GET / HTTP/1.1\r\nno colon", 400),
     (b"GET / HTTP/1.1\r\n folded: value", 400)],
)  # fmt: skip
def test_malformed_heads_are_bad_requests(head: bytes, status: int) -> None:
    with pytest.raises(BadRequest) as bad:
        parse_head(head)
    assert bad.value.status == status


@given(st.integers(min_value=1, max_value=200))
def test_a_request_split_anywhere_comes_out_whole(cut: int) -> None:
    data = raw()
    parser = RequestParser()
    first = parser.feed(data[:cut])
    rest = parser.feed(data[cut:]) if cut < len(data) else []
    [(request, keep_alive)] = first + rest
    assert request == Request("POST", "/v1/x", request.headers, b'{"message":{}}')
    assert request.headers["host"] == "127.0.0.1"
    assert keep_alive


def test_pipelined_requests_come_out_in_order() -> None:
    parser = RequestParser()
    done = parser.feed(raw(b"one") + raw(b"two", Connection="close") + raw(b"thr"))
    assert [(r.body, kept) for r, kept in done] == [(b"one", True), (b"two", False), (b"thr", True)]


@pytest.mark.parametrize(
    ("data", "status"),
    [(raw(**{"Transfer-Encoding": "chunked"}), 501), (raw(**{"Content-Length": "x"}), 400),
     (raw(**{"Content-Length": str(10**9)}), 413), (b"G" * (MAX_HEAD + 1), 431)],
)  # fmt: skip
def test_what_it_does_not_serve_is_refused(data: bytes, status: int) -> None:
    with pytest.raises(BadRequest) as bad:
        RequestParser().feed(data)
    assert bad.value.status == status


def test_a_response_has_its_length_and_says_when_it_closes() -> None:
    answer = Response(201, b'{"sid":"SM1"}', headers=(("x-one", "1"),))
    assert encode(answer) == (
        b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 13\r\n"
        b'x-one: 1\r\n\r\n{"sid":"SM1"}'
    )
    assert b"\r\nconnection: close\r\n\r\n" in encode(Response(200), keep_alive=False)


def test_the_protocol_answers_in_order_and_closes_when_asked() -> None:
    seen: list[bytes] = []

    def handler(request: Request) -> Response:
        seen.append(request.body)
        return Response(200, request.body)

    protocol, transport = HttpProtocol(handler), Transport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    protocol.data_received(raw(b"a") + raw(b"b")[:20])
    assert seen == [b"a"] and not transport.closed
    protocol.data_received(raw(b"b")[20:] + raw(b"c", Connection="close") + raw(b"never"))
    assert seen == [b"a", b"b", b"c"] and transport.closed
    assert transport.written.count(b"HTTP/1.1 200 OK") == 3
    assert transport.written.endswith(b"connection: close\r\n\r\nc")


def test_a_failing_handler_is_a_500_and_the_connection_goes_on() -> None:
    def handler(request: Request) -> Response:
        raise RuntimeError("a bug")

    protocol, transport = HttpProtocol(handler), Transport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    protocol.data_received(raw())
    assert transport.written.startswith(b"HTTP/1.1 500 ") and not transport.closed


def test_a_bad_request_is_answered_and_closed() -> None:
    protocol, transport = HttpProtocol(lambda request: Response(200)), Transport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    protocol.data_received(b"NONSENSE\r\n\r\n")
    assert transport.written.startswith(b"HTTP/1.1 400 Bad Request") and transport.closed
