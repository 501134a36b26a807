"""SES events as Amazon SNS HTTP(S) notifications.

SNS signs each message it posts: the string to sign is fixed fields of the message as
``name\\nvalue\\n`` lines, signed with RSA (PKCS#1 v1.5; SHA1 for ``SignatureVersion`` 1,
SHA256 for 2) by the key of the certificate at ``SigningCertURL``. That URL must match the
configured pattern (AWS's own hosts by default) before it is fetched, so a forged message cannot
point at a certificate of its own. ``SubscriptionConfirmation`` asks for its ``SubscribeURL`` to
be visited; ``Notification`` carries an SES event (the configuration set's ``eventType`` or the
identity's ``notificationType`` shape) in ``Message``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from herald.models import State
from herald.receipts import InvalidReceipt, MalformedReceipt, ProviderEvent, without_addresses

PROVIDER = "ses"
NOTIFICATION = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
TYPES = {
    "Notification": NOTIFICATION,
    "SubscriptionConfirmation": CONFIRMATION,
    "UnsubscribeConfirmation": CONFIRMATION,
}
HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}


@dataclass(frozen=True, slots=True)
class SnsMessage:
    kind: str  # Type
    topic_arn: str
    certificate_url: str
    fields: Mapping[str, str]

    @property
    def subscribe_url(self) -> str | None:
        return self.fields.get("SubscribeURL")


def parse(body: bytes) -> SnsMessage:
    try:
        found = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedReceipt("an SNS message is a JSON object") from error
    if not isinstance(found, dict) or not all(isinstance(v, str) for v in found.values()):
        raise MalformedReceipt("an SNS message is a JSON object of strings")
    kind = found.get("Type", "")
    if kind not in TYPES:
        raise MalformedReceipt(f"an SNS message of Type {kind[:40]!r}")
    missing = [name for name in TYPES[kind] if name != "Subject" and name not in found]
    missing += [n for n in ("Signature", "SignatureVersion", "SigningCertURL") if n not in found]
    if missing:
        raise MalformedReceipt(f"an SNS {kind} without {', '.join(missing)}")
    return SnsMessage(kind, found["TopicArn"], found["SigningCertURL"], found)


def string_to_sign(message: SnsMessage) -> bytes:
    names = TYPES[message.kind]
    return "".join(
        f"{name}\n{message.fields[name]}\n" for name in names if name in message.fields
    ).encode()


def allowed_url(url: str, pattern: str) -> bool:
    """Whether ``url`` is one to fetch (a certificate) or visit (a subscription's)."""
    return re.match(pattern, url) is not None


def verify(message: SnsMessage, certificate_pem: bytes) -> None:
    """``InvalidReceipt`` unless the certificate's key signed the message."""
    algorithm = HASHES.get(message.fields["SignatureVersion"])
    if algorithm is None:
        raise InvalidReceipt("an SNS SignatureVersion other than 1 or 2")
    try:
        signature = base64.b64decode(message.fields["Signature"], validate=True)
        key = x509.load_pem_x509_certificate(certificate_pem).public_key()
    except (binascii.Error, ValueError) as error:
        raise InvalidReceipt("an SNS signature or certificate that does not parse") from error
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidReceipt("an SNS certificate without an RSA key")
    try:
        key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm())
    except InvalidSignature as error:
        raise InvalidReceipt("the SNS signature does not match") from error


def _time(value: object, fallback: datetime) -> datetime:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    return fallback


def _bounce(event: Mapping[str, Any], sid: str, at: datetime) -> ProviderEvent:
    bounce = event.get("bounce") or {}
    kind = f"{bounce.get('bounceType', 'Undetermined')}:{bounce.get('bounceSubType', '')}"
    recipients = bounce.get("bouncedRecipients") or [{}]
    first = recipients[0] if isinstance(recipients[0], dict) else {}
    detail = without_addresses(first.get("diagnosticCode") or first.get("status"))
    when = _time(bounce.get("timestamp"), at)
    return ProviderEvent(PROVIDER, sid, State.BOUNCED, when, reason=kind.rstrip(":"), detail=detail)


def ses_events(message: SnsMessage) -> list[ProviderEvent]:
    """The SES event a Notification carries, as Herald's (none for the kinds Herald does not
    track: Send, DeliveryDelay, Complaint, Subscription)."""
    try:
        event = json.loads(message.fields["Message"])
    except json.JSONDecodeError as error:
        raise MalformedReceipt("an SES event is a JSON object") from error
    mail = event.get("mail") if isinstance(event, dict) else None
    sid = mail.get("messageId") if isinstance(mail, dict) else None
    if not isinstance(sid, str) or not sid:
        raise MalformedReceipt("an SES event without mail.messageId")
    kind = event.get("eventType") or event.get("notificationType")
    at = _time(message.fields.get("Timestamp"), datetime.fromtimestamp(0).astimezone())
    if kind == "Bounce":
        return [_bounce(event, sid, at)]
    if kind == "Delivery":
        return [ProviderEvent(PROVIDER, sid, State.DELIVERED, _time(_at(event, "delivery"), at))]
    if kind == "Open":
        return [ProviderEvent(PROVIDER, sid, State.OPENED, _time(_at(event, "open"), at))]
    if kind == "Click":
        click = event.get("click") or {}
        link = click.get("link") if isinstance(click.get("link"), str) else None
        when = _time(click.get("timestamp"), at)
        return [ProviderEvent(PROVIDER, sid, State.CLICKED, when, link=link)]
    if kind in ("Reject", "Rendering Failure", "RenderingFailure"):
        return [ProviderEvent(PROVIDER, sid, State.FAILED, at, reason=str(kind))]
    return []


def _at(event: Mapping[str, Any], part: str) -> object:
    found = event.get(part)
    return found.get("timestamp") if isinstance(found, dict) else None
