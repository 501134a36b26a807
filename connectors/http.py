"""What the HTTP providers (FCM, APNs, Twilio) share: one call with httpx's errors converted at
the boundary, ``Retry-After`` parsing, and the status-code fallback of every classifier.

Connect errors mean the request never left (transient); anything after that (a read timeout, a
dropped connection) means it may have taken effect (unknown outcome).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from connectors.base import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
    UnknownOutcomeError,
)

# The request surely did not reach the provider.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


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
