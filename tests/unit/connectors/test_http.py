from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from email.utils import format_datetime

import httpx
import pytest

from connectors.base import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
    UnknownOutcomeError,
)
from connectors.http import (
    Http1Client,
    HttpResponse,
    by_status,
    parse_retry_after,
    transport_error,
)
from tests.unit.connectors.conftest import NOW


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        (None, None),
        ("", None),
        ("soon", None),
    ],
)
def test_retry_after_in_seconds(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


def test_retry_after_as_an_http_date() -> None:
    assert parse_retry_after(format_datetime(NOW + timedelta(seconds=90), usegmt=True), NOW) == 90
    assert parse_retry_after("Sat, 01 Mar 2025 12:00:30 GMT", NOW) == 30
    assert parse_retry_after(format_datetime(NOW - timedelta(hours=1), usegmt=True), NOW) == 0


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectError("refused"), TransientDeliveryError),
        (httpx.ConnectTimeout("slow"), TransientDeliveryError),
        (httpx.PoolTimeout("busy"), TransientDeliveryError),
        (httpx.ReadTimeout("silent"), UnknownOutcomeError),
        (httpx.RemoteProtocolError("dropped"), UnknownOutcomeError),
        (httpx.ReadError("reset"), UnknownOutcomeError),
    ],
)
def test_transport_errors(exc: httpx.HTTPError, kind: type) -> None:
    error = transport_error("fcm", exc)
    assert type(error) is kind
    assert error.provider == "fcm"


def test_status_fallback() -> None:
    headers = httpx.Headers({"Retry-After": "4"})
    throttled = by_status("x", 429, "429", headers, NOW)
    assert isinstance(throttled, TransientDeliveryError)
    assert throttled.retry_after_s == 4
    down = by_status("x", 503, "503", httpx.Headers(), NOW)
    assert isinstance(down, TransientDeliveryError)
    assert down.retry_after_s is None
    refused = by_status("x", 404, "404", httpx.Headers(), NOW)
    assert isinstance(refused, PermanentDeliveryError)
    assert not refused.address_invalid


Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


# -- the HTTP/1.1 client (aiohttp's pool), against real local sockets ---------------------
async def _serve(answer: Answer) -> tuple[asyncio.Server, str]:
    async def closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await answer(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(closing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/send"


async def _read_request(reader: asyncio.StreamReader) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        ),
        0,
    )
    await reader.readexactly(length)


def _outcome(answer: Answer | None) -> BaseException | HttpResponse:
    async def main() -> BaseException | HttpResponse:
        if answer is None:  # nothing listens there
            server, url = await _serve(lambda r, w: _read_request(r))
            server.close()
            await server.wait_closed()
        else:
            server, url = await _serve(answer)
        client = Http1Client(timeout_s=0.5, pool=4)
        try:
            return await client.request("fcm", "POST", url, content=b'{"x": 1}')
        except DeliveryError as error:
            return error
        finally:
            await client.aclose()
            server.close()

    return asyncio.run(main())


def test_the_http1_client_gives_status_headers_and_body() -> None:
    async def ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(
            b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Length: 2\r\n\r\n{}"
        )
        await writer.drain()

    response = _outcome(ok)
    assert isinstance(response, HttpResponse)
    assert (response.status_code, response.headers["retry-after"], response.content) == (
        429,
        "3",
        b"{}",
    )


def test_a_refused_connection_was_not_sent() -> None:
    assert isinstance(_outcome(None), TransientDeliveryError)


def test_a_connection_dropped_after_the_request_is_an_unknown_outcome() -> None:
    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)  # it arrived: it may have taken effect
        writer.close()

    assert isinstance(_outcome(drop), UnknownOutcomeError)


def test_no_answer_in_time_is_an_unknown_outcome() -> None:
    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await asyncio.sleep(2)

    assert isinstance(_outcome(hang), UnknownOutcomeError)


def test_no_connection_in_time_was_not_sent() -> None:
    async def main() -> list[BaseException | HttpResponse]:
        async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await _read_request(reader)
            await asyncio.sleep(2)

        server, url = await _serve(hang)
        client = Http1Client(timeout_s=0.6, pool=1)  # the one connection stays busy
        try:

            async def call() -> BaseException | HttpResponse:
                try:
                    return await client.request("fcm", "POST", url, content=b"{}")
                except DeliveryError as error:
                    return error

            first = asyncio.ensure_future(call())
            await asyncio.sleep(0.1)
            return [await call(), await first]
        finally:
            await client.aclose()
            server.close()

    waited, hung = asyncio.run(main())
    assert isinstance(waited, TransientDeliveryError)  # it never had a connection
    assert isinstance(hung, UnknownOutcomeError)  # it was sent: may have been delivered


def test_a_redirect_is_an_answer_not_followed() -> None:
    async def redirect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /elsewhere\r\n"
                     b"Content-Length: 0\r\n\r\n")  # fmt: skip
        await writer.drain()

    response = _outcome(redirect)
    assert isinstance(response, HttpResponse)
    assert response.status_code == 307
