"""What the HTTP providers (FCM, APNs, Twilio) share: one call with httpx's errors converted at
the boundary, ``Retry-After`` parsing, and the status-code fallback of every classifier.

Connect errors mean the request never left (transient); anything after that (a read timeout, a
dropped connection) means it may have taken effect (unknown outcome).
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from connectors.base import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
    UnknownOutcomeError,
)

# The request surely did not reach the provider.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class _Http1Transport(AiohttpTransport):
    """httpx's API on aiohttp's HTTP/1.1 connection pool. httpx's own pool scans every
    connection for each request (encode/httpx#3215): with 64 in flight that was most of a
    sender's CPU. httpx-aiohttp maps any dropped connection to ``ConnectTimeout``; a
    connection lost after it was made may have carried the request, so it is re-raised as
    ``RemoteProtocolError`` (an unknown outcome), never as a request that was not sent."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.ConnectTimeout as exc:
            cause = exc.__cause__
            never_connected = (aiohttp.ClientConnectorError, aiohttp.ServerTimeoutError)
            if isinstance(cause, aiohttp.ClientConnectionError) and not isinstance(
                cause, never_connected
            ):
                raise httpx.RemoteProtocolError(type(cause).__name__, request=request) from cause
            raise


def quiet_request_logs() -> None:
    """httpx logs each request's URL at INFO; an APNs URL holds the device token."""
    logging.getLogger("httpx").setLevel(logging.WARNING)


def http1_client(
    timeout_s: float, pool: int, verify: ssl.SSLContext | bool = True
) -> httpx.AsyncClient:
    """An HTTP/1.1 client of at most ``pool`` connections (FCM, Twilio)."""
    quiet_request_logs()
    limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s),
        transport=_Http1Transport(verify=verify, limits=limits, trust_env=False),
    )


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now``: delay-seconds or an HTTP-date (RFC 9110 10.2.3).
    A date in the past gives 0; a value that is neither gives None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def transport_error(provider: str, exc: httpx.HTTPError) -> DeliveryError:
    """An httpx exception as the delivery error it means (never with the URL: it may hold a
    device token)."""
    kind = type(exc).__name__
    if isinstance(exc, _NOT_SENT):
        return TransientDeliveryError(provider, "connect_error", kind)
    return UnknownOutcomeError(provider, "no_response", kind)


async def request(
    client: httpx.AsyncClient, provider: str, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    """One HTTP call; transport failures come out as delivery errors."""
    try:
        return await client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise transport_error(provider, exc) from exc


def json_body(content: bytes) -> dict[str, Any]:
    """A response body as a JSON object; anything else (HTML error pages, empty) as {}."""
    try:
        parsed = json.loads(content) if content else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def by_status(
    provider: str,
    status: int,
    code: str,
    headers: Mapping[str, str],
    now: datetime,
    address_invalid: bool = False,
) -> DeliveryError:
    """The fallback every HTTP classifier shares: 429 and 5xx transient (with Retry-After when
    given), anything else a refusal."""
    if status == 429 or status >= 500:
        retry_after = parse_retry_after(headers.get("retry-after"), now)
        return TransientDeliveryError(provider, code, f"HTTP {status}", retry_after)
    return PermanentDeliveryError(provider, code, f"HTTP {status}", address_invalid)
