"""The email both SMTP and SES send, built by one pure function.

Headers come from Herald's own values (from address, notification id, category) and the
message's title and address, which are checked: a title cannot add header lines, and an
address that does not parse is refused as invalid before any I/O. With signed links, each
email ends with a link to its user's preference centre.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from email import errors as email_errors
from email import policy as email_policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime
from urllib.parse import quote

from connectors.base import PermanentDeliveryError
from herald.links import LinkSigner
from herald.models import ChannelMessage
from herald.settings import HeraldSettings

log = logging.getLogger(__name__)

NOTIFICATION_ID_HEADER = "X-Herald-Notification-Id"
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058
FOOTER = "Manage your notifications"
MAX_SUBJECT_CHARS = 200
MAX_7BIT_LINE = 998  # RFC 5322: longer lines need an encoding
# Headers written unfolded (plain_header keeps them within a line), CRLF line ends.
SMTP_COMPAT32 = email_policy.compat32.clone(linesep="\r\n", max_line_length=None)


@dataclass(frozen=True, slots=True)
class EmailPolicy:
    from_address: str
    mandatory_categories: frozenset[str]
    links: LinkSigner | None  # the signed one-click link; None: links.secret is not set
    unsubscribe_mailto: str | None

    @classmethod
    def from_settings(cls, settings: HeraldSettings, from_address: str) -> EmailPolicy:
        links = LinkSigner.configured(settings.links)
        if links is None:
            log.warning("HERALD_LINKS__SECRET is not set: emails carry no one-click unsubscribe")
        return cls(
            from_address=from_address,
            mandatory_categories=settings.pipeline.mandatory_categories,
            links=links,
            unsubscribe_mailto=settings.delivery.unsubscribe_mailto,
        )


def unsubscribe_headers(
    message: ChannelMessage, policy: EmailPolicy, now: datetime
) -> dict[str, str]:
    """``List-Unsubscribe`` (+ one-click POST, RFC 8058, to a signed link of `herald api`)
    for categories a user may leave; none for the mandatory ones (security mail cannot be
    unsubscribed from)."""
    if message.category in policy.mandatory_categories:
        return {}
    targets = []
    if policy.links is not None:
        targets.append(f"<{policy.links.unsubscribe_url(message.user_id, message.category, now)}>")
    if policy.unsubscribe_mailto:
        subject = quote(f"unsubscribe {message.category} {message.user_id}", safe="")
        targets.append(f"<mailto:{policy.unsubscribe_mailto}?subject={subject}>")
    if not targets:
        return {}
    headers = {"List-Unsubscribe": ", ".join(targets)}
    if policy.links is not None:
        headers["List-Unsubscribe-Post"] = ONE_CLICK
    return headers


def with_footer(message: ChannelMessage, policy: EmailPolicy, now: datetime) -> ChannelMessage:
    """The message with a footer linking to the user's preference centre (signed links only):
    a last line of the text, a last paragraph of the HTML (before ``</body>`` when there is
    one)."""
    if policy.links is None:
        return message
    url, _ = policy.links.preferences_url(message.user_id, now)
    body = f"{message.body}\n\n--\n{FOOTER}: {url}\n"
    if not message.html:
        return dataclasses.replace(message, body=body)
    paragraph = f'<p style="font-size:small"><a href="{html.escape(url)}">{FOOTER}</a></p>'
    end = message.html.lower().rfind("</body>")
    page = (
        message.html + paragraph if end < 0 else message.html[:end] + paragraph + message.html[end:]
    )
    return dataclasses.replace(message, body=body, html=page)


def one_line(text: str, limit: int = MAX_SUBJECT_CHARS) -> str:
    """Whitespace, CR and LF included, collapsed to single spaces: no header injection."""
    return " ".join(text.split())[:limit]


def recipient(provider: str, address: str) -> Address:
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError, email_errors.MessageError) as exc:  # IndexError: ""
        raise PermanentDeliveryError(provider, "invalid_address", "unparsable", True) from exc
    if not parsed.username or not parsed.domain:
        raise PermanentDeliveryError(provider, "invalid_address", "unparsable", True)
    return parsed


def message_id(notification_id: str, from_address: str) -> str:
    """Deterministic, so a resent message is recognisably the same one."""
    _, at, domain = from_address.rpartition("@")
    domain = domain if at and domain else "herald.invalid"
    return f"<{notification_id}.email@{domain}>"


def headers(
    provider: str, message: ChannelMessage, policy: EmailPolicy, now: datetime
) -> list[tuple[str, str]]:
    """The message's headers, in order; the address is checked (invalid: refused)."""
    return [
        ("From", policy.from_address),
        ("To", str(recipient(provider, message.address))),
        ("Subject", one_line(message.title or "")),
        ("Date", format_datetime(now)),
        ("Message-ID", message_id(message.notification_id, policy.from_address)),
        (NOTIFICATION_ID_HEADER, message.notification_id),
        *unsubscribe_headers(message, policy, now).items(),
    ]


def plain_header(name: str, value: str) -> bool:
    """Printable ASCII only (no CR, LF or other control), within one line: safe to write as
    it is."""
    return value.isascii() and value.isprintable() and len(name) + 2 + len(value) <= MAX_7BIT_LINE


def build_email(
    provider: str, message: ChannelMessage, policy: EmailPolicy, now: datetime
) -> Message:
    """The MIME message. Headers of printable ASCII (the usual case) are written as they are
    by the cheap ``compat32`` classes; any other header goes through ``email.policy.SMTP``'s
    header registry, which encodes it or refuses a line break."""
    fields = headers(provider, message, policy, now)
    message = with_footer(message, policy, now)
    if all(plain_header(name, value) for name, value in fields):
        return _plain(fields, message)
    return _encoded(fields, message)


def _text(body: str, subtype: str) -> MIMEText:
    """ASCII with short lines as 7bit, anything else as UTF-8 in base64."""
    short = all(len(line) <= MAX_7BIT_LINE for line in body.splitlines())
    charset = "us-ascii" if body.isascii() and short else "utf-8"
    return MIMEText(body, subtype, charset, policy=SMTP_COMPAT32)


def boundary(*texts: str) -> str | None:
    """A random multipart boundary found in none of ``texts`` (None: let the generator pick
    one; it then scans the whole message with a regex it compiles each time)."""
    chosen = f"=_herald_{uuid.uuid4().hex}"
    return None if any(chosen in text for text in texts) else chosen


def _plain(fields: list[tuple[str, str]], message: ChannelMessage) -> Message:
    text = _text(message.body, "plain")
    if not message.html:
        mail: Message = text
    else:
        del text["MIME-Version"]
        html = _text(message.html, "html")
        del html["MIME-Version"]
        mail = MIMEMultipart(
            "alternative", boundary(message.body, message.html), [text, html], policy=SMTP_COMPAT32
        )
    for name, value in fields:
        mail[name] = value
    return mail


def _encoded(fields: list[tuple[str, str]], message: ChannelMessage) -> Message:
    mail = EmailMessage(policy=email_policy.SMTP)
    for name, value in fields:
        mail[name] = value
    mail.set_content(message.body)
    if message.html:
        mail.add_alternative(message.html, subtype="html")
    return mail
