"""The one interface every provider module implements, and the errors that decide what's next.

A sender module turns one ``ChannelMessage`` into one provider call. It returns a ``Receipt``
when the provider accepted the message and raises one of the three ``DeliveryError`` kinds
otherwise; it never retries, sleeps, rate-limits or records anything. Those decisions belong to
the delivery runtime (``connectors.delivery``), which is the same for every provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

from herald.errors import HeraldError
from herald.models import Channel, ChannelMessage


@dataclass(frozen=True, slots=True)
class Receipt:
    provider: str
    provider_message_id: str | None


class DeliveryError(HeraldError):
    """A provider call that did not end in a receipt. ``code`` is the provider's error code
    ("UNREGISTERED", "429", "BadDeviceToken", "InvalidParameter", "550", ...) and ``detail``
    is for people: neither ever contains the address or the content."""

    def __init__(self, provider: str, code: str, detail: str = "") -> None:
        super().__init__(f"{provider}: {code}" + (f" ({detail})" if detail else ""))
        self.provider = provider
        self.code = code
        self.detail = detail


class TransientDeliveryError(DeliveryError):
    """The request surely did not take effect (connect error or timeout, 429, quota, 5xx,
    SMTP 4xx, AWS throttling): safe to try again, not before ``retry_after_s`` when given."""

    def __init__(
        self, provider: str, code: str, detail: str = "", retry_after_s: float | None = None
    ) -> None:
        super().__init__(provider, code, detail)
        self.retry_after_s = retry_after_s


class PermanentDeliveryError(DeliveryError):
    """The provider refused the message for good (dead token, invalid number, hard bounce).
    ``address_invalid``: the address itself is dead and is removed from the user's contacts."""

    def __init__(
        self, provider: str, code: str, detail: str = "", address_invalid: bool = False
    ) -> None:
        super().__init__(provider, code, detail)
        self.address_invalid = address_invalid


class UnknownOutcomeError(DeliveryError):
    """The request left and no answer came back (read timeout, connection dropped mid-call):
    the message may or may not have been delivered, so it is not blindly sent again."""


class Sender(Protocol):
    """One provider account, constructed with its client (httpx, boto3, SMTP) passed in."""

    name: ClassVar[str]  # "fcm", "apns", "sns", "twilio", "smtp", "ses"
    channel: ClassVar[Channel]
    # The provider deduplicates by the key we pass, so a resend after an unknown outcome is safe.
    accepts_idempotency_key: ClassVar[bool]

    async def send(self, message: ChannelMessage, idempotency_key: str) -> Receipt: ...

    async def aclose(self) -> None: ...
