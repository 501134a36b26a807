"""Provider receipts: what a provider says became of a message it took, after the fact.

A sender that hands a message to a provider records what the provider's message id stands for
(``MessageRef``: the notification, request, user, channel and tenant) beside its ledger entry,
in the same round trip as the outcome. A receipt names only the provider's message id; the API
reads it back, turns each ``ProviderEvent`` into a status event of that notification, and
dead-letters a receipt whose id it does not know. The modules beside this one parse and verify
each provider's own format (pure: no I/O).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from herald.errors import HeraldError
from herald.models import Channel, ChannelMessage, State

_ADDRESS = re.compile(r"<?[^\s<>@\"'(),;:]+@[^\s<>@\"'(),;:]+>?")


def without_addresses(text: object, limit: int = 500) -> str | None:
    """A provider's diagnostic for people, with every email address in it replaced."""
    if not isinstance(text, str) or not text.strip():
        return None
    return _ADDRESS.sub("<address>", text.strip())[:limit]


def _millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _text(data: bytes | str) -> str:
    return data.decode() if isinstance(data, bytes) else data


def receipt_url(base_url: str, provider: str) -> str:
    """Where ``herald api`` takes a provider's receipts (``POST /v1/receipts/{provider}``)."""
    return f"{base_url.rstrip('/')}/v1/receipts/{provider}"


class InvalidReceipt(HeraldError):
    """A receipt that is not signed as its provider signs (answered 401, counted)."""


class MalformedReceipt(HeraldError):
    """A receipt whose signature holds (or that needs none) but whose body is not what its
    provider sends (answered 400)."""


@dataclass(frozen=True, slots=True)
class MessageRef:
    """What a provider's message id stands for: a status subject, on one channel, and when
    it was sent (a receipt's event is never placed before it: a provider's clock, or a DSN's
    whole seconds, may say earlier, and the latest status per notification must not go back
    to ``sent``)."""

    notification_id: str
    request_id: str
    user_id: str
    channel: Channel
    tenant: str | None = None
    sent_at: datetime | None = None

    @classmethod
    def of(cls, message: ChannelMessage, sent_at: datetime | None = None) -> MessageRef:
        return cls(
            message.notification_id,
            message.request_id,
            message.user_id,
            message.channel,
            message.tenant,
            sent_at,
        )

    def after_sending(self, at: datetime) -> datetime:
        """``at``, or just after the send when that was later."""
        if self.sent_at is None or at > self.sent_at:
            return at
        return self.sent_at + timedelta(milliseconds=1)

    def fields(self) -> list[str]:
        """As a Redis hash's field, value pairs (the tenant only when there is one)."""
        pairs = {
            "notification_id": self.notification_id,
            "request_id": self.request_id,
            "user_id": self.user_id,
            "channel": self.channel.value,
            "tenant": self.tenant,
            "sent_at": None if self.sent_at is None else str(_millis(self.sent_at)),
        }
        return [part for key, value in pairs.items() if value is not None for part in (key, value)]

    @classmethod
    def parse(cls, found: Mapping[bytes | str, bytes | str]) -> MessageRef | None:
        """From the Redis hash; None for a missing (or incomplete) one."""
        text = {_text(k): _text(v) for k, v in found.items()}
        try:
            sent = text.get("sent_at")
            return cls(
                notification_id=text["notification_id"],
                request_id=text["request_id"],
                user_id=text["user_id"],
                channel=Channel(text["channel"]),
                tenant=text.get("tenant"),
                sent_at=None if sent is None else datetime.fromtimestamp(int(sent) / 1000, UTC),
            )
        except (KeyError, ValueError):
            return None


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """One thing a receipt reports about one provider message. ``reason`` is the provider's
    code (a Twilio error code, an SES bounce type, a DSN status); ``detail`` is for people.
    Neither holds an address: the parsers take them out. ``link``: the URL of a click."""

    provider: str
    provider_message_id: str
    state: State
    occurred_at: datetime
    reason: str | None = None
    detail: str | None = None
    link: str | None = None

    @property
    def once_key(self) -> str:
        """What makes a repeat of this event (a provider's retry, a second click of one
        link): the message, the state, and the link."""
        suffix = f":{self.link}" if self.link else ""
        return f"{self.provider}:{self.provider_message_id}:{self.state.value}{suffix}"
