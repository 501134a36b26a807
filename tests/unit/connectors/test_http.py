from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

import httpx
import pytest

from connectors.base import PermanentDeliveryError, TransientDeliveryError, UnknownOutcomeError
from connectors.http import by_status, parse_retry_after, transport_error
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
