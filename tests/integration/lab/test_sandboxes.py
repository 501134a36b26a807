"""The provider sandboxes through real clients: what arrives is recorded, faults come back in
each provider's own format, bad credentials are refused, Twilio deduplicates."""

from __future__ import annotations

import json
import smtplib
import ssl
import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import boto3
import httpx
import jwt
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from herald.errors import SandboxError
from herald.settings import DeliverySettings, HeraldSettings
from lab.sandboxes import SandboxControl
from lab.sandboxes.credentials import FCM_SCOPE

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


# --- APNs ----------------------------------------------------------------------------------


def apns_jwt(delivery: DeliverySettings, key: Any = None, iat: int | None = None) -> str:
    return jwt.encode(
        {"iss": delivery.apns.team_id, "iat": iat or int(time.time())},
        key or delivery.apns.key_file.read_text(),
        algorithm="ES256",
        headers={"kid": delivery.apns.key_id},
    )


@pytest.fixture
def apns(delivery: DeliverySettings) -> Iterator[httpx.Client]:
    assert delivery.apns.ca_file is not None
    trust = ssl.create_default_context(cafile=str(delivery.apns.ca_file))
    with httpx.Client(http2=True, verify=trust, timeout=5) as client:
        yield client


def apns_push(
    client: httpx.Client,
    delivery: DeliverySettings,
    token: str,
    notification: str,
    provider_token: str | None = None,
    **headers: str,
) -> httpx.Response:
    return client.post(
        f"{delivery.apns.endpoint}/3/device/{token}",
        headers={
            "authorization": f"bearer {provider_token or apns_jwt(delivery)}",
            "apns-topic": delivery.apns.bundle_id,
            "apns-push-type": "alert",
            **headers,
        },
        json={
            "aps": {"alert": {"title": "Order", "body": "Shipped"}},
            "notification_id": notification,
        },
    )


def test_apns_delivers_over_http2(
    control: SandboxControl, delivery: DeliverySettings, apns: httpx.Client
) -> None:
    notification, apns_id = nid(), str(uuid.uuid4()).upper()
    answer = apns_push(apns, delivery, "a1b2", notification, **{"apns-id": apns_id})
    assert answer.status_code == 200, answer.text
    assert answer.http_version == "HTTP/2"
    assert answer.headers["apns-id"] == apns_id
    [record] = control.received("apns")
    assert (record.notification_id, record.address, record.title) == (notification, "a1b2", "Order")
    assert record.headers["apns-topic"] == delivery.apns.bundle_id
    assert record.message_id == apns_id


def test_apns_refuses_bad_provider_tokens_and_topics(
    control: SandboxControl, delivery: DeliverySettings, apns: httpx.Client
) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    cases = {
        "InvalidProviderToken": {"provider_token": apns_jwt(delivery, key=stranger)},
        "ExpiredProviderToken": {"provider_token": apns_jwt(delivery, iat=int(time.time()) - 7200)},
    }
    for reason, options in cases.items():
        answer = apns_push(apns, delivery, "a1b2", nid(), **options)
        assert (answer.status_code, answer.json()["reason"]) == (403, reason)
    answer = apns_push(apns, delivery, "a1b2", nid(), **{"apns-topic": "com.other.app"})
    assert (answer.status_code, answer.json()["reason"]) == (400, "BadTopic")
    answer = apns_push(apns, delivery, "a1b2", nid(), **{"apns-id": "not-a-uuid"})
    assert (answer.status_code, answer.json()["reason"]) == (400, "BadMessageId")
    assert control.received("apns", include_rejected=True) == []


@pytest.mark.parametrize(
    ("status", "reason"),
    [(429, "TooManyRequests"), (500, "InternalServerError"), (503, "ServiceUnavailable"),
     (400, "BadDeviceToken")],
)  # fmt: skip
def test_apns_injected_status(
    control: SandboxControl,
    delivery: DeliverySettings,
    apns: httpx.Client,
    status: int,
    reason: str,
) -> None:
    control.fault("apns", status=status, count=1)
    answer = apns_push(apns, delivery, "a1b2", nid())
    assert (answer.status_code, answer.json()["reason"]) == (status, reason)
    assert "apns-id" in answer.headers
    assert apns_push(apns, delivery, "a1b2", nid()).status_code == 200


def test_apns_refused_token_is_unregistered(
    control: SandboxControl, delivery: DeliverySettings, apns: httpx.Client
) -> None:
    control.fault("apns", refuse=["dead"])
    answer = apns_push(apns, delivery, "dead", nid())
    assert answer.status_code == 410
    assert answer.json()["reason"] == "Unregistered"
    assert answer.json()["timestamp"] > 0
    assert [r.outcome for r in control.received("apns", include_rejected=True)] == ["refused"]


def test_apns_hang(control: SandboxControl, delivery: DeliverySettings) -> None:
    assert delivery.apns.ca_file is not None
    trust = ssl.create_default_context(cafile=str(delivery.apns.ca_file))
    control.fault("apns", hang=True)
    with (
        httpx.Client(http2=True, verify=trust, timeout=httpx.Timeout(5, read=0.5)) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        apns_push(client, delivery, "a1b2", nid())
    assert [r.outcome for r in control.received("apns")] == ["hung"]


# --- SNS and SES ---------------------------------------------------------------------------


def aws(delivery: DeliverySettings, service: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=delivery.aws.endpoint_url,
        region_name=delivery.aws.region,
        aws_access_key_id=delivery.aws.access_key_id.get_secret_value(),
        aws_secret_access_key=delivery.aws.secret_access_key.get_secret_value(),
        config=Config(retries={"total_max_attempts": 1}),
    )


def sns_publish(sns: Any, phone: str, notification: str) -> Any:
    return sns.publish(
        PhoneNumber=phone,
        Message="Your code is 123456",
        MessageAttributes={
            "herald.notification_id": {"DataType": "String", "StringValue": notification}
        },
    )


def error_code(raised: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = raised.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_sns_publish_recorded(control: SandboxControl, delivery: DeliverySettings) -> None:
    notification = nid()
    answer = sns_publish(aws(delivery, "sns"), "+15551230001", notification)
    [record] = control.received("sns")
    assert (record.notification_id, record.address, record.body) == (
        notification,
        "+15551230001",
        "Your code is 123456",
    )
    assert record.message_id == answer["MessageId"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [(429, (400, "Throttling")), (500, (500, "InternalFailure")),
     (503, (503, "ServiceUnavailable"))],
)  # fmt: skip
def test_aws_injected_status(
    control: SandboxControl,
    delivery: DeliverySettings,
    status: int,
    expected: tuple[int, str],
) -> None:
    sns, ses = aws(delivery, "sns"), aws(delivery, "ses")
    control.fault("sns", status=status, count=1)
    control.fault("ses", status=status, count=1)
    with pytest.raises(ClientError) as raised:
        sns_publish(sns, "+15551230001", nid())
    assert error_code(raised) == expected
    with pytest.raises(ClientError) as raised:
        ses_send(ses, delivery, "a@example.com")
    assert error_code(raised) == expected
    sns_publish(sns, "+15551230001", nid())
    assert [r.outcome for r in control.received("sns", include_rejected=True)] == [
        "failed",
        "delivered",
    ]


def test_aws_refusals(control: SandboxControl, delivery: DeliverySettings) -> None:
    control.fault("sns", refuse=["+15550000000"])
    control.fault("ses", refuse=["gone@example.com"])
    with pytest.raises(ClientError) as raised:
        sns_publish(aws(delivery, "sns"), "+15550000000", nid())
    assert error_code(raised) == (400, "InvalidParameter")
    with pytest.raises(ClientError) as raised:
        ses_send(aws(delivery, "ses"), delivery, "gone@example.com")
    assert error_code(raised) == (400, "MessageRejected")
    assert control.received("sns") == control.received("ses") == []


def ses_send(ses: Any, delivery: DeliverySettings, to: str) -> Any:
    return ses.send_email(
        Source=delivery.aws.ses_from,
        Destination={"ToAddresses": [to]},
        Message={"Subject": {"Data": "Hello"}, "Body": {"Text": {"Data": "Text body"}}},
    )


def test_ses_send_email_and_raw_email(control: SandboxControl, delivery: DeliverySettings) -> None:
    ses = aws(delivery, "ses")
    sent = ses_send(ses, delivery, "a@example.com")
    notification = nid()
    message = email(delivery.aws.ses_from, "b@example.com", notification)
    ses.send_raw_email(RawMessage={"Data": message.as_bytes()})
    plain, raw = control.received("ses")
    assert (plain.address, plain.subject, plain.body) == ("a@example.com", "Hello", "Text body")
    assert plain.message_id == sent["MessageId"]
    assert (raw.address, raw.notification_id, raw.subject) == (
        "b@example.com",
        notification,
        "Your order",
    )
    assert raw.headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"


def email(sender: str, to: str, notification: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, "Your order"
    message["X-Herald-Notification-Id"] = notification
    message["List-Unsubscribe"] = "<https://example.com/u>, <mailto:u@example.com>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content("It shipped.")
    return message


# --- Twilio --------------------------------------------------------------------------------


def twilio_send(
    delivery: DeliverySettings, to: str, key: str | None = None, token: str | None = None
) -> httpx.Response:
    twilio = delivery.twilio
    return httpx.post(
        f"{twilio.endpoint}/2010-04-01/Accounts/{twilio.account_sid}/Messages.json",
        auth=(twilio.account_sid, token or twilio.auth_token.get_secret_value()),
        data={"To": to, "From": twilio.from_number, "Body": "Your code is 123456"},
        headers={"Idempotency-Key": key} if key else {},
    )


def test_twilio_delivers_and_deduplicates(
    control: SandboxControl, delivery: DeliverySettings
) -> None:
    key = nid()
    first = twilio_send(delivery, "+15551230002", key)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "queued"
    assert first.json()["sid"].startswith("SM")
    assert len(first.json()["sid"]) == 34
    again = twilio_send(delivery, "+15551230002", key)
    assert again.status_code == 201
    assert again.json()["sid"] == first.json()["sid"]
    other = twilio_send(delivery, "+15551230002", nid())
    assert other.json()["sid"] != first.json()["sid"]
    records = control.received("twilio")
    assert [(r.notification_id, r.dedupe) for r in records] == [
        (key, False),
        (key, True),
        (records[2].notification_id, False),
    ]


def test_twilio_errors(control: SandboxControl, delivery: DeliverySettings) -> None:
    denied = twilio_send(delivery, "+15551230002", token="wrong")
    assert (denied.status_code, denied.json()["code"]) == (401, 20003)
    invalid = twilio_send(delivery, "not-a-number")
    assert (invalid.status_code, invalid.json()["code"]) == (400, 21211)
    control.fault("twilio", status=429, retry_after_s=3, count=1)
    limited = twilio_send(delivery, "+15551230002")
    assert (limited.status_code, limited.json()["code"]) == (429, 20429)
    assert limited.headers["retry-after"] == "3"
    control.fault("twilio", status=503, count=1)
    assert twilio_send(delivery, "+15551230002").json()["status"] == 503
    control.fault("twilio", refuse=["+15550000000"])
    refused = twilio_send(delivery, "+15550000000")
    assert (refused.status_code, refused.json()["code"]) == (400, 21211)
    assert control.received("twilio") == []


def test_twilio_hang_then_same_key_is_a_dedupe(
    control: SandboxControl, delivery: DeliverySettings
) -> None:
    key = nid()
    control.fault("twilio", hang=True, count=1)
    twilio = delivery.twilio
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{twilio.endpoint}/2010-04-01/Accounts/{twilio.account_sid}/Messages.json",
            auth=(twilio.account_sid, twilio.auth_token.get_secret_value()),
            data={"To": "+15551230002", "From": twilio.from_number, "Body": "x"},
            headers={"Idempotency-Key": key},
            timeout=httpx.Timeout(5, read=0.5),
        )
    assert twilio_send(delivery, "+15551230002", key).status_code == 201
    records = control.received("twilio")
    assert [(r.outcome, r.dedupe) for r in records] == [("hung", False), ("delivered", True)]
    assert records[0].message_id == records[1].message_id


# --- SMTP ----------------------------------------------------------------------------------


@pytest.fixture
def smtp(delivery: DeliverySettings) -> Iterator[smtplib.SMTP]:
    settings = delivery.smtp
    assert settings.ca_file is not None and settings.password is not None
    with smtplib.SMTP(settings.host, settings.port, timeout=5) as client:
        client.starttls(context=ssl.create_default_context(cafile=str(settings.ca_file)))
        client.login(settings.username or "", settings.password.get_secret_value())
        yield client


def test_smtp_delivers_with_headers(
    control: SandboxControl, delivery: DeliverySettings, smtp: smtplib.SMTP
) -> None:
    notification = nid()
    smtp.send_message(email(delivery.smtp.from_address, "c@example.com", notification))
    [record] = control.received("smtp")
    assert (record.address, record.notification_id, record.subject) == (
        "c@example.com",
        notification,
        "Your order",
    )
    assert record.body is not None and "It shipped." in record.body
    assert record.headers["list-unsubscribe"].startswith("<https://example.com/u>")


def test_smtp_refuses_without_tls_or_with_wrong_password(delivery: DeliverySettings) -> None:
    settings = delivery.smtp
    assert settings.ca_file is not None
    with smtplib.SMTP(settings.host, settings.port, timeout=5) as plain:
        code, _ = plain.mail(settings.from_address)
        assert code == 530  # STARTTLS first
    with smtplib.SMTP(settings.host, settings.port, timeout=5) as client:
        client.starttls(context=ssl.create_default_context(cafile=str(settings.ca_file)))
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login(settings.username or "", "wrong")


def test_smtp_bounces_and_transient_failures(
    control: SandboxControl, delivery: DeliverySettings, smtp: smtplib.SMTP
) -> None:
    sender = delivery.smtp.from_address
    control.fault("smtp", refuse=["gone@example.com"])
    with pytest.raises(smtplib.SMTPRecipientsRefused) as bounced:
        smtp.send_message(email(sender, "gone@example.com", nid()))
    assert bounced.value.recipients["gone@example.com"][0] == 550
    control.fault("smtp", status=451, count=1)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as deferred:
        smtp.send_message(email(sender, "c@example.com", nid()))
    assert deferred.value.recipients["c@example.com"][0] == 451
    smtp.send_message(email(sender, "c@example.com", nid()))
    outcomes = [r.outcome for r in control.received("smtp", include_rejected=True)]
    assert outcomes == ["refused", "failed", "delivered"]


def test_smtp_421_closes_the_connection(
    control: SandboxControl, delivery: DeliverySettings, smtp: smtplib.SMTP
) -> None:
    control.fault("smtp", status=421, count=1)
    with pytest.raises((smtplib.SMTPRecipientsRefused, smtplib.SMTPServerDisconnected)):
        smtp.send_message(email(delivery.smtp.from_address, "c@example.com", nid()))
    assert [r.outcome for r in control.received("smtp", include_rejected=True)] == ["failed"]
