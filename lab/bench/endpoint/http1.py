"""HTTP/1.1 for the benchmark endpoint: a minimal request parser and an asyncio protocol.

What Herald's HTTP/1.1 clients send (aiohttp for FCM and Twilio, urllib3 under boto3 for SNS
and SES): requests with a ``Content-Length`` body or none, on kept-alive connections,
answered in order. Anything else (a chunked body, a head over 64 KB, a line that is not
HTTP) is answered with an error and the connection closed: the endpoint measures Herald, not
HTTP's corners. Parsing and answering take microseconds; most of the 40-150 us a request
costs the process is the event loop's and the kernel's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast

log = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 2**20
REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
}


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # the target without its query
    headers: Mapping[str, str]  # names in lower case
    body: bytes


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


Handler = Callable[[Request], Response]


class BadRequest(Exception):
    """A request the endpoint will not read: answered with ``status``, then the connection
    is closed."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status


@dataclass(frozen=True, slots=True)
class Head:
    method: str
    path: str
    version: str
    headers: dict[str, str]

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


def parse_head(raw: bytes) -> Head:
    """The request line and headers (without the blank line that ends them)."""
    line, *fields = raw.decode("latin-1").split("\r\n")
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(400, "not an HTTP/1.x request line")
    headers: dict[str, str] = {}
    for field in fields:
        name, colon, value = field.partition(":")
        if not colon or not name or name != name.strip():
            raise BadRequest(400, "a malformed header line")
        headers[name.lower()] = value.strip()
    return Head(parts[0], parts[1].partition("?")[0], parts[2], headers)


def body_length(headers: Mapping[str, str]) -> int:
    if "transfer-encoding" in headers:
        raise BadRequest(501, "only Content-Length bodies")
    raw = headers.get("content-length", "0")
    if not raw.isdigit():
        raise BadRequest(400, "a malformed Content-Length")
    length = int(raw)
    if length > MAX_BODY:
        raise BadRequest(413, "body too large")
    return length


class RequestParser:
    """Bytes in, whole requests out, in order (pure); each with whether to keep the
    connection open after its answer."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._head: Head | None = None
        self._length = 0

    def feed(self, data: bytes) -> list[tuple[Request, bool]]:
        self._buffer += data
        done: list[tuple[Request, bool]] = []
        while True:
            if self._head is None:
                end = self._buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(self._buffer) > MAX_HEAD:
                        raise BadRequest(431, "request head too large")
                    return done
                self._head = parse_head(bytes(self._buffer[:end]))
                self._length = body_length(self._head.headers)
                del self._buffer[: end + 4]
            if len(self._buffer) < self._length:
                return done
            head, body = self._head, bytes(self._buffer[: self._length])
            del self._buffer[: self._length]
            self._head = None
            done.append((Request(head.method, head.path, head.headers, body), head.keep_alive))


def encode(response: Response, keep_alive: bool = True) -> bytes:
    reason = REASONS.get(response.status, "Unknown")
    lines = [
        f"HTTP/1.1 {response.status} {reason}",
        f"content-type: {response.content_type}",
        f"content-length: {len(response.body)}",
        *(f"{name}: {value}" for name, value in response.headers),
    ]
    if not keep_alive:
        lines.append("connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body


def plain_error(status: int, text: str) -> Response:
    return Response(status, text.encode(), "text/plain")


class HttpProtocol(asyncio.Protocol):
    """One connection: each whole request answered by ``handler`` at once, in order."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._parser = RequestParser()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        assert transport is not None
        try:
            requests = self._parser.feed(data)
        except BadRequest as bad:
            transport.write(encode(plain_error(bad.status, str(bad)), keep_alive=False))
            transport.close()
            return
        out = []
        for request, keep_alive in requests:
            out.append(encode(self._answer(request), keep_alive))
            if not keep_alive:
                transport.write(b"".join(out))
                transport.close()
                return
        if out:
            transport.write(b"".join(out))

    def _answer(self, request: Request) -> Response:
        try:
            return self._handler(request)
        except Exception:  # a bug of the endpoint's: say so, keep serving
            log.exception("the endpoint failed on %s %s", request.method, request.path)
            return plain_error(500, "the benchmark endpoint failed")
