"""The email both SMTP and SES send, built by one pure function.

Headers come from Herald's own values (from address, notification id, category) and the
message's title and address, which are checked: a title cannot add header lines, and an
address that does not parse is refused as invalid before any I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import errors as email_errors
from email import policy as email_policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from urllib.parse import quote

from connectors.base import PermanentDeliveryError
from herald.models import ChannelMessage
from herald.settings import HeraldSettings

NOTIFICATION_ID_HEADER = "X-Herald-Notification-Id"
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058
MAX_SUBJECT_CHARS = 200


@dataclass(frozen=True, slots=True)
class EmailPolicy:
    from_address: str
    mandatory_categories: frozenset[str]
    unsubscribe_url: str | None  # {user_id} and {category} are filled in
    unsubscribe_mailto: str | None

    @classmethod
    def from_settings(cls, settings: HeraldSettings, from_address: str) -> EmailPolicy:
        return cls(
            from_address=from_address,
            mandatory_categories=settings.pipeline.mandatory_categories,
            unsubscribe_url=settings.delivery.unsubscribe_url,
            unsubscribe_mailto=settings.delivery.unsubscribe_mailto,
        )


def unsubscribe_headers(message: ChannelMessage, policy: EmailPolicy) -> dict[str, str]:
    """``List-Unsubscribe`` (+ one-click POST) for categories a user may leave; none for the
    mandatory ones (security mail cannot be unsubscribed from)."""
    if message.category in policy.mandatory_categories:
        return {}
    user, category = quote(message.user_id, safe=""), quote(message.category, safe="")
    targets = []
    if policy.unsubscribe_url:
        targets.append(f"<{policy.unsubscribe_url.format(user_id=user, category=category)}>")
    if policy.unsubscribe_mailto:
        subject = quote(f"unsubscribe {message.category} {message.user_id}", safe="")
        targets.append(f"<mailto:{policy.unsubscribe_mailto}?subject={subject}>")
    if not targets:
        return {}
    headers = {"List-Unsubscribe": ", ".join(targets)}
    if policy.unsubscribe_url:
        headers["List-Unsubscribe-Post"] = ONE_CLICK
    return headers


def one_line(text: str, limit: int = MAX_SUBJECT_CHARS) -> str:
    """Whitespace, CR and LF included, collapsed to single spaces: no header injection."""
    return " ".join(text.split())[:limit]


def recipient(provider: str, address: str) -> Address:
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, email_errors.MessageError) as exc:
        raise PermanentDeliveryError(provider, "invalid_address", "unparsable", True) from exc
    if not parsed.username or not parsed.domain:
        raise PermanentDeliveryError(provider, "invalid_address", "unparsable", True)
    return parsed


def message_id(notification_id: str, from_address: str) -> str:
    """Deterministic, so a resent message is recognisably the same one."""
    domain = from_address.rpartition("@")[2] or "herald.invalid"
    return f"<{notification_id}.email@{domain}>"


def build_email(
    provider: str, message: ChannelMessage, policy: EmailPolicy, now: datetime
) -> EmailMessage:
    mail = EmailMessage(policy=email_policy.SMTP)
    mail["From"] = policy.from_address
    mail["To"] = recipient(provider, message.address)
    mail["Subject"] = one_line(message.title or "")
    mail["Date"] = format_datetime(now)
    mail["Message-ID"] = message_id(message.notification_id, policy.from_address)
    mail[NOTIFICATION_ID_HEADER] = message.notification_id
    for name, value in unsubscribe_headers(message, policy).items():
        mail[name] = value
    mail.set_content(message.body)
    if message.html:
        mail.add_alternative(message.html, subtype="html")
    return mail
