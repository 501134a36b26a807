"""What the SMTP and SES sandboxes record of an email: its subject, text and the headers that
matter (pure)."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

NOTIFICATION_HEADER = "x-herald-notification-id"
KEPT_HEADERS = (
    "from",
    "to",
    "subject",
    "message-id",
    NOTIFICATION_HEADER,
    "list-unsubscribe",
    "list-unsubscribe-post",
)


def _text(message: EmailMessage) -> str | None:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None


def email_fields(raw: bytes) -> dict[str, object]:
    """Record fields of a raw RFC 5322 message."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)  # policy.default builds EmailMessage
    headers = {name: str(message[name]) for name in KEPT_HEADERS if message[name] is not None}
    return {
        "notification_id": headers.get(NOTIFICATION_HEADER),
        "subject": headers.get("subject"),
        "body": _text(message),
        "headers": headers,
        "message_id": headers.get("message-id"),
    }
