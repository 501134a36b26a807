"""The one interface every provider module implements, and what a provider call can come to.

A sender module turns one ``ChannelMessage`` into one provider call and classifies the answer;
it never retries, sleeps, rate-limits or records anything. Those decisions belong to the
delivery runtime, which is the same for every provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from herald.models import Channel, ChannelMessage


class OutcomeKind(StrEnum):
    SENT = "sent"  # the provider accepted the message
    # Transient, and the request surely did not take effect (connect error, 429, 5xx, quota):
    # safe to try again after ``retry_after_s`` or a backoff.
    RETRY = "retry"
    # The provider refused the message for good (dead token, invalid number, hard bounce).
    PERMANENT = "permanent"
    # The request left and no answer came back (read timeout, connection dropped mid-call):
    # it may or may not have been delivered, so it is not blindly sent again.
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: OutcomeKind
    provider: str
    reason: str | None = None  # the provider's error code: "UNREGISTERED", "429", "Unregistered"
    provider_message_id: str | None = None
    retry_after_s: float | None = None  # the provider's Retry-After, when it sent one
    address_invalid: bool = False  # permanent because the address is dead: remove it
    detail: str | None = None  # for people; never contains the address or the content


class Sender(Protocol):
    """One provider account. ``send`` must not raise for provider answers: it classifies them."""

    name: str  # "fcm", "apns", "sns", "twilio", "smtp", "ses"
    channel: Channel
    # The provider deduplicates by the key we pass, so a resend after an unknown outcome is safe.
    accepts_idempotency_key: bool

    async def send(self, message: ChannelMessage, idempotency_key: str) -> Outcome: ...

    async def aclose(self) -> None: ...
