"""The provider sandboxes through real clients: what arrives is recorded, faults come back in
each provider's own format, bad credentials are refused, Twilio deduplicates."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from herald.errors import SandboxError
from herald.sandboxes import SandboxControl
from herald.sandboxes.credentials import FCM_SCOPE
from herald.settings import DeliverySettings, HeraldSettings

Sandbox = tuple[HeraldSettings, SandboxControl]


@pytest.fixture
def control(sandbox: Sandbox) -> Iterator[SandboxControl]:
    sandbox[1].reset()
    yield sandbox[1]
    sandbox[1].reset()


@pytest.fixture
def delivery(sandbox: Sandbox) -> DeliverySettings:
    return sandbox[0].delivery


def nid() -> str:
    return uuid.uuid4().hex


# --- FCM ---------------------------------------------------------------------------------


def fcm_assertion(delivery: DeliverySettings, key: Any = None, **overrides: Any) -> str:
    account = json.loads(delivery.fcm.service_account_file.read_text())
    now = int(time.time())
    claims = {
        "iss": account["client_email"],
        "aud": account["token_uri"],
        "scope": FCM_SCOPE,
        "iat": now,
        "exp": now + 3600,
        **overrides,
    }
    return jwt.encode(
        claims,
        key or account["private_key"],
        algorithm="RS256",
        headers={"kid": account["private_key_id"]},
    )


def fcm_token(client: httpx.Client, delivery: DeliverySettings, assertion: str) -> httpx.Response:
    account = json.loads(delivery.fcm.service_account_file.read_text())
    return client.post(
        account["token_uri"],
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion},
    )


def fcm_send(
    client: httpx.Client, delivery: DeliverySettings, access: str, token: str, notification: str
) -> httpx.Response:
    return client.post(
        f"{delivery.fcm.endpoint}/v1/projects/{delivery.fcm.project_id}/messages:send",
        headers={"Authorization": f"Bearer {access}"},
        json={
            "message": {
                "token": token,
                "notification": {"title": "Order", "body": "Shipped"},
                "data": {"notification_id": notification},
            }
        },
    )


@pytest.fixture
def fcm(delivery: DeliverySettings) -> Iterator[tuple[httpx.Client, str]]:
    with httpx.Client(timeout=5) as client:
        answer = fcm_token(client, delivery, fcm_assertion(delivery))
        assert answer.status_code == 200, answer.text
        assert answer.json()["token_type"] == "Bearer"
        assert answer.json()["expires_in"] == 3600
        yield client, answer.json()["access_token"]


def fcm_error_code(answer: httpx.Response) -> tuple[str, str]:
    error = answer.json()["error"]
    return error["status"], error["details"][0]["errorCode"]


def test_fcm_delivers_and_records(
    control: SandboxControl, delivery: DeliverySettings, fcm: tuple[httpx.Client, str]
) -> None:
    client, access = fcm
    notification = nid()
    answer = fcm_send(client, delivery, access, "device-1", notification)
    assert answer.status_code == 200, answer.text
    assert answer.json()["name"].startswith(f"projects/{delivery.fcm.project_id}/messages/")
    [record] = control.received("fcm")
    assert (record.notification_id, record.address, record.title, record.body) == (
        notification,
        "device-1",
        "Order",
        "Shipped",
    )
    assert record.message_id == answer.json()["name"]


def test_fcm_refuses_bad_credentials(
    control: SandboxControl, delivery: DeliverySettings, fcm: tuple[httpx.Client, str]
) -> None:
    client, _ = fcm
    answer = fcm_send(client, delivery, "ya29.not-a-token", "device-1", nid())
    assert answer.status_code == 401
    assert answer.json()["error"]["status"] == "UNAUTHENTICATED"
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = fcm_assertion(delivery, key=stranger)
    assert fcm_token(client, delivery, forged).json()["error"] == "invalid_grant"
    unscoped = fcm_assertion(delivery, scope="https://www.googleapis.com/auth/cloud-platform")
    assert fcm_token(client, delivery, unscoped).json()["error"] == "invalid_grant"
    expired = fcm_assertion(delivery, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    assert fcm_token(client, delivery, expired).status_code == 400
    assert control.received("fcm", include_rejected=True) == []


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, ("RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED")),
        (503, ("UNAVAILABLE", "UNAVAILABLE")),
        (500, ("INTERNAL", "INTERNAL")),
        (400, ("INVALID_ARGUMENT", "INVALID_ARGUMENT")),
    ],
)
def test_fcm_injected_status_for_count_requests(
    control: SandboxControl,
    delivery: DeliverySettings,
    fcm: tuple[httpx.Client, str],
    status: int,
    expected: tuple[str, str],
) -> None:
    client, access = fcm
    control.fault("fcm", status=status, retry_after_s=2, count=2)
    for _ in range(2):
        answer = fcm_send(client, delivery, access, "device-1", nid())
        assert answer.status_code == status
        assert fcm_error_code(answer) == expected
        assert answer.headers["retry-after"] == "2"
    assert fcm_send(client, delivery, access, "device-1", nid()).status_code == 200
    outcomes = [r.outcome for r in control.received("fcm", include_rejected=True)]
    assert outcomes == ["failed", "failed", "delivered"]


def test_fcm_refused_token_is_unregistered(
    control: SandboxControl, delivery: DeliverySettings, fcm: tuple[httpx.Client, str]
) -> None:
    client, access = fcm
    control.fault("fcm", refuse=["dead-token"])
    answer = fcm_send(client, delivery, access, "dead-token", nid())
    assert answer.status_code == 404
    assert fcm_error_code(answer) == ("NOT_FOUND", "UNREGISTERED")
    assert fcm_send(client, delivery, access, "live-token", nid()).status_code == 200
    assert [r.address for r in control.received("fcm")] == ["live-token"]


def test_fcm_hang_delivers_without_answer(
    control: SandboxControl, delivery: DeliverySettings, fcm: tuple[httpx.Client, str]
) -> None:
    _, access = fcm
    control.fault("fcm", hang=True, count=1)
    notification = nid()
    with (
        httpx.Client(timeout=httpx.Timeout(5, read=0.5)) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        fcm_send(impatient, delivery, access, "device-1", notification)
    [record] = control.received("fcm")
    assert (record.notification_id, record.outcome) == (notification, "hung")


def test_latency_delays_the_answer(
    control: SandboxControl, delivery: DeliverySettings, fcm: tuple[httpx.Client, str]
) -> None:
    _, access = fcm
    control.fault("fcm", latency_ms=3000, count=1)
    with httpx.Client(timeout=httpx.Timeout(5, read=0.3)) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            fcm_send(impatient, delivery, access, "device-1", nid())
        assert fcm_send(impatient, delivery, access, "device-1", nid()).status_code == 200


# --- control API ---------------------------------------------------------------------------


def test_control_clear_reset_and_errors(
    control: SandboxControl, delivery: DeliverySettings, fcm: tuple[httpx.Client, str]
) -> None:
    client, access = fcm
    control.fault("fcm", status=503)
    assert fcm_send(client, delivery, access, "device-1", nid()).status_code == 503
    assert fcm_send(client, delivery, access, "device-1", nid()).status_code == 503
    control.clear("fcm")
    assert fcm_send(client, delivery, access, "device-1", nid()).status_code == 200
    assert len(control.received("fcm")) == 1
    control.reset()
    assert control.received("fcm", include_rejected=True) == []
    with pytest.raises(SandboxError, match="404"):
        control.received("pigeon")  # type: ignore[arg-type]
    with httpx.Client(base_url=delivery.sandbox_control) as raw:
        assert raw.post("/faults/fcm", json={"status": 200}).status_code == 422
        assert raw.get("/faults/fcm").json() is None
