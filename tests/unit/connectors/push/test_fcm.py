from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.base import PermanentDeliveryError, TransientDeliveryError
from connectors.http import HttpxClient
from connectors.push.fcm import (
    GRANT_TYPE,
    REFRESH_MARGIN_S,
    SCOPE,
    FcmSender,
    assertion_claims,
    classify,
    fcm_message,
    grant_assertion,
    load_service_account,
)
from herald.errors import ConfigurationError
from herald.models import Channel, Priority
from herald.settings import FcmSettings
from tests.unit.connectors.conftest import NOW, message


def google_error(status: int, state: str, code: str | None = None, **extra: Any) -> dict[str, Any]:
    details = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]
    return {"error": {"code": status, "status": state, "details": details if code else [], **extra}}


def test_assertion_is_an_rs256_jwt_with_the_grant_claims(
    service_account: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    account = load_service_account(service_account)
    token = grant_assertion(account, 1_700_000_000)
    claims = jwt.decode(
        token,
        rsa_key.public_key(),
        algorithms=["RS256"],
        audience=account.token_uri,
        options={"verify_exp": False},
    )
    assert claims == assertion_claims(account, 1_700_000_000)
    assert claims["iss"] == "herald@p.iam.gserviceaccount.com"
    assert claims["scope"] == SCOPE
    assert claims["exp"] - claims["iat"] == 3600
    assert jwt.get_unverified_header(token)["kid"] == "k1"


def test_unreadable_service_account_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ConfigurationError):
        load_service_account(tmp_path / "bad.json")
    with pytest.raises(ConfigurationError):
        load_service_account(tmp_path / "missing.json")


def test_message_carries_the_notification_id_and_priority() -> None:
    urgent = message(channel=Channel.PUSH, address="tok", priority=Priority.HIGH)
    body = fcm_message(urgent, NOW)["message"]
    assert body["token"] == "tok"
    assert body["notification"] == {"title": "Order 42", "body": "Your order shipped"}
    assert body["data"] == {"notification_id": "n-1"}
    assert body["android"] == {"priority": "high"}
    later = message(priority=Priority.LOW, deadline=NOW + timedelta(minutes=10), title=None)
    body = fcm_message(later, NOW)["message"]
    assert body["android"] == {"priority": "normal", "ttl": "600s"}
    assert body["notification"] == {"body": "Your order shipped"}


def test_unregistered_token_is_a_dead_address() -> None:
    error = classify(404, {}, google_error(404, "NOT_FOUND", "UNREGISTERED"), NOW)
    assert isinstance(error, PermanentDeliveryError)
    assert (error.code, error.address_invalid) == ("UNREGISTERED", True)


def test_invalid_argument_kills_the_address_only_when_about_the_token() -> None:
    bad_token = google_error(
        400,
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        message="The registration token is not a valid FCM registration token",
    )
    error = classify(400, {}, bad_token, NOW)
    assert isinstance(error, PermanentDeliveryError)
    assert error.address_invalid
    by_field = google_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", message="Invalid value")
    by_field["error"]["details"].append({"fieldViolations": [{"field": "message.token"}]})
    assert classify(400, {}, by_field, NOW).address_invalid  # type: ignore[attr-defined]
    bad_payload = google_error(
        400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", message="Invalid JSON payload"
    )
    error = classify(400, {}, bad_payload, NOW)
    assert isinstance(error, PermanentDeliveryError)
    assert not error.address_invalid


@pytest.mark.parametrize(
    ("status", "state", "code", "retry_after"),
    [
        (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED", 30.0),
        (429, "RESOURCE_EXHAUSTED", None, 30.0),
        (503, "UNAVAILABLE", "UNAVAILABLE", None),
        (500, "INTERNAL", "INTERNAL", None),
        (502, "", None, None),
    ],
)
def test_quota_and_outages_are_transient(
    status: int, state: str, code: str | None, retry_after: float | None
) -> None:
    headers = httpx.Headers({"Retry-After": "30"} if retry_after else {})
    error = classify(status, headers, google_error(status, state, code), NOW)
    assert isinstance(error, TransientDeliveryError)
    assert error.retry_after_s == retry_after


@pytest.mark.parametrize("code", ["SENDER_ID_MISMATCH", "THIRD_PARTY_AUTH_ERROR"])
def test_sender_and_auth_mismatches_are_permanent(code: str) -> None:
    error = classify(403, {}, google_error(403, "PERMISSION_DENIED", code), NOW)
    assert isinstance(error, PermanentDeliveryError)
    assert (error.code, error.address_invalid) == (code, False)


def test_non_json_error_body_falls_back_to_the_status() -> None:
    assert isinstance(classify(502, {}, {}, NOW), TransientDeliveryError)
    assert classify(502, {}, {}, NOW).code == "502"


class FakeGoogle:
    """httpx's MockTransport as the token endpoint and FCM: counts grants, answers 401 once on
    demand."""

    def __init__(self) -> None:
        self.grants = 0
        self.reject_next = False
        self.seen_tokens: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            form = parse_qs(request.content.decode())
            assert form["grant_type"] == [GRANT_TYPE]
            self.grants += 1
            token = {"access_token": f"at-{self.grants}", "expires_in": 3600}
            return httpx.Response(200, json=token)
        self.seen_tokens.append(request.headers["authorization"])
        if self.reject_next:
            self.reject_next = False
            return httpx.Response(401, json=google_error(401, "UNAUTHENTICATED"))
        sent = json.loads(request.content)["message"]["data"]["notification_id"]
        return httpx.Response(200, json={"name": f"projects/p/messages/{sent}"})


def _sender(service_account: Path, google: FakeGoogle, clock: list[float]) -> FcmSender:
    client = HttpxClient(httpx.AsyncClient(transport=httpx.MockTransport(google)))
    settings = FcmSettings(
        endpoint="http://fcm.test", project_id="p", service_account_file=service_account
    )
    return FcmSender(client, settings, clock=lambda: clock[0])


@pytest.mark.asyncio
async def test_access_token_is_fetched_once_reused_and_refreshed_before_expiry(
    service_account: Path,
) -> None:
    google, clock = FakeGoogle(), [1_000_000.0]
    sender = _sender(service_account, google, clock)
    receipts = await asyncio.gather(*(sender.send(message(), "k") for _ in range(5)))
    assert {r.provider_message_id for r in receipts} == {"projects/p/messages/n-1"}
    assert google.grants == 1
    clock[0] += 3600 - REFRESH_MARGIN_S - 1
    await sender.send(message(), "k")
    assert google.grants == 1
    clock[0] += 2
    await sender.send(message(), "k")
    assert google.grants == 2
    assert google.seen_tokens[-1] == "Bearer at-2"
    await sender.aclose()


@pytest.mark.asyncio
async def test_a_401_fetches_a_new_token_once(service_account: Path) -> None:
    google, clock = FakeGoogle(), [1_000_000.0]
    sender = _sender(service_account, google, clock)
    await sender.send(message(), "k")
    google.reject_next = True
    receipt = await sender.send(message(), "k")
    assert receipt.provider == "fcm"
    assert google.grants == 2
    assert google.seen_tokens[-2:] == ["Bearer at-1", "Bearer at-2"]
    await sender.aclose()


@pytest.mark.asyncio
async def test_a_token_endpoint_that_does_not_answer_is_transient(service_account: Path) -> None:
    def silent(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("silent", request=request)

    client = HttpxClient(httpx.AsyncClient(transport=httpx.MockTransport(silent)))
    settings = FcmSettings(
        endpoint="http://fcm.test", project_id="p", service_account_file=service_account
    )
    sender = FcmSender(client, settings)
    with pytest.raises(TransientDeliveryError) as failed:  # the message never left
        await sender.send(message(), "k")
    assert failed.value.code == "token_grant"
    await sender.aclose()
