"""What the sandboxes report after they took a message, as their providers would.

- Twilio: a status callback (``sent``, then ``delivered`` or ``undelivered``) to the message's
  StatusCallback, signed in ``X-Twilio-Signature`` with the account's auth token;
- SES: events through an SNS HTTP subscription: a ``SubscriptionConfirmation`` first (its
  SubscribeURL is served by the AWS front), then a signed ``Notification`` per message
  (``Delivery`` or a permanent ``Bounce``), signed by a key made at start whose certificate the
  AWS front serves too;
- SMTP: a delivery status notification (RFC 3464) per failing recipient, posted to the bounce
  hook with an API key (the sandbox acts as the MTA that received a late bounce).
Each report is sent after the plan's delay, from a task of its own, and recorded with the
answer it got (``GET /receipts/{provider}`` of the control API).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import uuid
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from herald.receipts import sns, twilio
from herald.settings import DeliverySettings
from lab.sandboxes.models import Provider, ReceiptPlan, Report
from lab.sandboxes.state import SandboxState

log = logging.getLogger(__name__)
CERTIFICATE_PATH = "/sns/herald-sandbox.pem"
CONFIRM_PATH = "/sns/confirm"
UNDELIVERED = "30003"  # Twilio: unreachable destination handset


def signing_pair() -> tuple[rsa.RSAPrivateKey, bytes]:
    """A key and a self-signed certificate of it (PEM), as SNS's signing certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.herald-sandbox")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return key, certificate.public_bytes(serialization.Encoding.PEM)


def dsn(message_id: str, address: str, reporting: str, now: datetime) -> bytes:
    """A bounce for ``address`` of the message ``message_id`` (RFC 3464)."""
    boundary = uuid.uuid4().hex
    return (
        f"From: MAILER-DAEMON@{reporting}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {format_datetime(now)}\r\n"
        f"MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        f"\r\n--{boundary}\r\n"
        f"Content-Type: text/plain\r\n\r\n"
        f"Your message could not be delivered to one or more recipients.\r\n"
        f"\r\n--{boundary}\r\n"
        f"Content-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; {reporting}\r\n"
        f"Arrival-Date: {format_datetime(now)}\r\n\r\n"
        f"Final-Recipient: rfc822; {address}\r\n"
        f"Action: failed\r\n"
        f"Status: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{address}>: Recipient address rejected\r\n"
        f"Last-Attempt-Date: {format_datetime(now)}\r\n"
        f"\r\n--{boundary}\r\n"
        f"Content-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {message_id}\r\n"
        f"To: {address}\r\n"
        f"\r\n--{boundary}--\r\n"
    ).encode()


class Reporter:
    def __init__(
        self, delivery: DeliverySettings, state: SandboxState, client: httpx.AsyncClient
    ) -> None:
        self._state = state
        self._client = client
        token = delivery.twilio.auth_token
        self._twilio_token = "" if token is None else token.get_secret_value()
        self._aws = (delivery.aws.endpoint_url or "").rstrip("/")
        self._key, self.certificate = signing_pair()
        self._subscription: str | None = None  # the token of the confirmation under way
        self._confirmed = False
        self._tasks: set[asyncio.Task[None]] = set()

    def _later(
        self, provider: Provider, plan: ReceiptPlan, work: Coroutine[Any, Any, None]
    ) -> None:
        async def run() -> None:
            await asyncio.sleep(plan.delay_ms / 1000)
            await work

        task = asyncio.create_task(run(), name=f"{provider} report")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(
        self, provider: Provider, kind: str, url: str, message_id: str | None, **options: Any
    ) -> None:
        try:
            answer = await self._client.post(url, **options)
            status = answer.status_code
        except httpx.HTTPError as error:
            log.info("%s report to %s: %s", provider, url, type(error).__name__)
            status = 0
        self._state.reported(
            Report(provider=provider, kind=kind, url=url, message_id=message_id, status=status)
        )

    # -- Twilio --------------------------------------------------------------------------------
    def twilio(self, callback: str | None, sid: str, address: str) -> None:
        plan = self._state.plan("twilio")
        if plan is None or not callback:
            return
        final = "undelivered" if address in plan.fail else "delivered"
        self._later("twilio", plan, self._twilio_statuses(callback, sid, final))

    async def _twilio_statuses(self, callback: str, sid: str, final: str) -> None:
        for status in ("sent", final):
            form = [
                ("MessageSid", sid),
                ("SmsSid", sid),
                ("MessageStatus", status),
                ("SmsStatus", status),
                ("AccountSid", "ACsandbox"),
                ("ApiVersion", "2010-04-01"),
            ]
            if status == "undelivered":
                form.append(("ErrorCode", UNDELIVERED))
            signature = twilio.signature(self._twilio_token, callback, form)
            await self._post(
                "twilio",
                status,
                callback,
                sid,
                content=urlencode(form).encode(),
                headers={
                    "content-type": "application/x-www-form-urlencoded",
                    twilio.SIGNATURE_HEADER: signature,
                },
            )

    # -- SES through SNS -----------------------------------------------------------------------
    def subscribe(self) -> None:
        """Asks the plan's endpoint to confirm the subscription (a plan was set for SES)."""
        plan = self._state.plan("ses")
        if plan is None or not plan.url:
            return
        self._confirmed = False
        self._subscription = secrets.token_hex(16)
        query = urlencode({"Action": "ConfirmSubscription", "Token": self._subscription})
        fields = {
            "Type": "SubscriptionConfirmation",
            "Token": self._subscription,
            "Message": f"You have chosen to subscribe to the topic {plan.topic_arn}.",
            "SubscribeURL": f"{self._aws}{CONFIRM_PATH}?{query}",
        }
        self._later("ses", plan, self._sns("SubscriptionConfirmation", plan, fields, None))

    def confirm(self, token: str | None) -> bool:
        """The subscription's SubscribeURL was visited (by herald api)."""
        self._confirmed = token is not None and token == self._subscription
        return self._confirmed

    def ses(self, message_id: str | None, address: str) -> None:
        plan = self._state.plan("ses")
        if plan is None or not plan.url or not message_id:
            return
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        mail = {"timestamp": now, "messageId": message_id, "destination": [address]}
        kind = "Bounce" if address in plan.fail else "Delivery"
        event: dict[str, object]
        if kind == "Bounce":
            event = {
                "eventType": "Bounce",
                "mail": mail,
                "bounce": {
                    "bounceType": "Permanent",
                    "bounceSubType": "General",
                    "timestamp": now,
                    "bouncedRecipients": [
                        {
                            "emailAddress": address,
                            "status": "5.1.1",
                            "action": "failed",
                            "diagnosticCode": f"smtp; 550 5.1.1 <{address}> user unknown",
                        }
                    ],
                },
            }
        else:
            event = {
                "eventType": "Delivery",
                "mail": mail,
                "delivery": {"timestamp": now, "recipients": [address]},
            }
        fields = {"Type": "Notification", "Message": json.dumps(event)}
        self._later("ses", plan, self._sns(kind, plan, fields, message_id))

    async def _sns(
        self, kind: str, plan: ReceiptPlan, fields: dict[str, str], message_id: str | None
    ) -> None:
        if kind != "SubscriptionConfirmation" and not self._confirmed:
            self._state.reported(
                Report(
                    provider="ses",
                    kind=f"{kind} (not subscribed)",
                    url=plan.url or "",
                    message_id=message_id,
                    status=0,
                )
            )
            return
        message = {
            **fields,
            "MessageId": str(uuid.uuid4()),
            "TopicArn": plan.topic_arn,
            "Timestamp": datetime.now(UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "SignatureVersion": "2",
            "SigningCertURL": f"{self._aws}{CERTIFICATE_PATH}",
        }
        signed = sns.string_to_sign(sns.SnsMessage(message["Type"], plan.topic_arn, "", message))
        signature = self._key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
        message["Signature"] = base64.b64encode(signature).decode()
        headers = {
            "content-type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": message["Type"],
        }
        await self._post(
            "ses",
            kind,
            plan.url or "",
            message_id,
            content=json.dumps(message).encode(),
            headers=headers,
        )

    # -- SMTP ----------------------------------------------------------------------------------
    def smtp(self, message_id: str | None, address: str) -> None:
        plan = self._state.plan("smtp")
        if plan is None or not plan.url or not message_id or address not in plan.fail:
            return
        bounce = dsn(message_id, address, "mx.herald-sandbox", datetime.now(UTC))
        headers = {"content-type": "message/rfc822"}
        if plan.api_key:
            headers["authorization"] = f"Bearer {plan.api_key}"
        self._later(
            "smtp",
            plan,
            self._post("smtp", "dsn", plan.url, message_id, content=bounce, headers=headers),
        )

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
