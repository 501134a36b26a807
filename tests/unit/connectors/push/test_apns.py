from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from connectors.base import PermanentDeliveryError, TransientDeliveryError
from connectors.http import HttpxClient
from connectors.push.apns import (
    MAX_PAYLOAD_BYTES,
    TOKEN_RENEW_S,
    ApnsSender,
    apns_headers,
    apns_id,
    apns_payload,
    classify,
    provider_token,
)
from herald.models import Channel, Priority
from herald.settings import ApnsSettings
from tests.unit.connectors.conftest import NOW, message


def test_apns_id_is_a_uuid_derived_from_notification_and_channel() -> None:
    first = apns_id("n-1", Channel.PUSH)
    assert uuid.UUID(first).version == 5
    assert apns_id("n-1", Channel.PUSH) == first
    assert apns_id("n-2", Channel.PUSH) != first
    assert apns_id("n-1", Channel.SMS) != first


def test_provider_token_is_es256_with_kid_iss_and_iat(
    ec_key: ec.EllipticCurvePrivateKey, apns_key: Path
) -> None:
    token = provider_token("TEAM", "KEY1", apns_key.read_text(), 1_700_000_000)
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": "KEY1", "typ": "JWT"}
    claims = jwt.decode(token, ec_key.public_key(), algorithms=["ES256"])
    assert claims == {"iss": "TEAM", "iat": 1_700_000_000}


def test_headers_by_priority_and_deadline() -> None:
    urgent = message(channel=Channel.PUSH, priority=Priority.CRITICAL, deadline=NOW)
    headers = apns_headers(urgent, "dev.herald.demo")
    assert headers == {
        "apns-topic": "dev.herald.demo",
        "apns-push-type": "alert",
        "apns-id": apns_id("n-1", Channel.PUSH),
        "apns-priority": "10",
        "apns-expiration": str(int(NOW.timestamp())),
    }
    relaxed = apns_headers(message(channel=Channel.PUSH, priority=Priority.NORMAL), "t")
    assert relaxed["apns-priority"] == "5"
    assert "apns-expiration" not in relaxed


def test_payload() -> None:
    payload = json.loads(apns_payload(message(title="Hé")))
    assert payload == {
        "aps": {"alert": {"title": "Hé", "body": "Your order shipped"}},
        "notification_id": "n-1",
    }


@pytest.mark.parametrize(
    ("status", "reason"),
    [(410, "Unregistered"), (400, "BadDeviceToken"), (400, "DeviceTokenNotForTopic")],
)
def test_dead_device_tokens(status: int, reason: str) -> None:
    error = classify(status, {}, {"reason": reason}, NOW)
    assert isinstance(error, PermanentDeliveryError)
    assert (error.code, error.address_invalid) == (reason, True)


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (400, "PayloadTooLarge"),
        (400, "BadTopic"),
        (403, "InvalidProviderToken"),
        (413, "PayloadTooLarge"),
    ],
)
def test_other_refusals_keep_the_address(status: int, reason: str) -> None:
    error = classify(status, {}, {"reason": reason}, NOW)
    assert isinstance(error, PermanentDeliveryError)
    assert not error.address_invalid


def test_expired_provider_token_is_transient() -> None:
    error = classify(403, {}, {"reason": "ExpiredProviderToken"}, NOW)
    assert isinstance(error, TransientDeliveryError)


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (429, {"Retry-After": "12"}, 12.0),
        (429, {}, None),
        (500, {}, None),
        (503, {"Retry-After": "1"}, 1.0),
    ],
)
def test_throttling_and_outages_are_transient(
    status: int, headers: dict[str, str], retry_after: float | None
) -> None:
    error = classify(status, httpx.Headers(headers), {"reason": "x"}, NOW)
    assert isinstance(error, TransientDeliveryError)
    assert error.retry_after_s == retry_after


def _sender(apns_key: Path, handler: httpx.MockTransport, clock: list[float]) -> ApnsSender:
    settings = ApnsSettings(
        endpoint="https://apns.test", team_id="T", key_id="K", key_file=apns_key, bundle_id="b"
    )
    client = HttpxClient(httpx.AsyncClient(transport=handler))
    return ApnsSender(client, settings, clock=lambda: clock[0])


@pytest.mark.asyncio
async def test_provider_token_is_kept_renewed_on_schedule_and_when_expired(apns_key: Path) -> None:
    seen: list[str] = []
    expire_next = [False]

    def apple(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        if expire_next[0]:
            expire_next[0] = False
            return httpx.Response(403, json={"reason": "ExpiredProviderToken"})
        return httpx.Response(200, headers={"apns-id": request.headers["apns-id"]})

    clock = [1_000_000.0]
    sender = _sender(apns_key, httpx.MockTransport(apple), clock)
    push = message(channel=Channel.PUSH, address="ab12")
    receipt = await sender.send(push, "k")
    assert receipt.provider_message_id == apns_id("n-1", Channel.PUSH)
    clock[0] += TOKEN_RENEW_S - 1
    await sender.send(push, "k")
    assert len(set(seen)) == 1
    clock[0] += 2
    await sender.send(push, "k")
    assert len(set(seen)) == 2
    expire_next[0] = True
    clock[0] += 1
    with pytest.raises(TransientDeliveryError):
        await sender.send(push, "k")
    await sender.send(push, "k")
    assert len(set(seen)) == 3
    await sender.aclose()


@pytest.mark.asyncio
async def test_oversized_payload_is_refused_before_sending(apns_key: Path) -> None:
    calls: list[httpx.Request] = []
    sender = _sender(
        apns_key, httpx.MockTransport(lambda r: calls.append(r) or httpx.Response(200)), [0.0]
    )
    with pytest.raises(PermanentDeliveryError) as refused:
        await sender.send(message(body="x" * MAX_PAYLOAD_BYTES), "k")
    assert refused.value.code == "PayloadTooLarge"
    assert calls == []
    await sender.aclose()


def test_deadline_in_the_past_still_formats() -> None:
    headers = apns_headers(message(deadline=NOW - timedelta(days=1)), "t")
    assert int(headers["apns-expiration"]) < int(NOW.timestamp())
