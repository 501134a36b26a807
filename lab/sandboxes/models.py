"""What the sandboxes' control API speaks: faults to inject and records of what arrived.

The server and `SandboxControl` share these models, so the JSON on the wire has one definition.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

Provider = Literal["fcm", "apns", "sns", "ses", "twilio", "smtp"]
PROVIDERS: tuple[Provider, ...] = get_args(Provider)

# What a request came to: accepted and answered; accepted but never answered (a hang);
# refused (the address is on the refuse list); failed (an injected status).
Outcome = Literal["delivered", "hung", "refused", "failed"]


class Fault(BaseModel):
    """What a provider does to its next ``count`` requests (every request until cleared when
    ``count`` is None). In order: wait ``latency_ms``; answer ``status`` (in the provider's own
    error format, with ``retry_after_s`` as Retry-After where the provider sends one); refuse the
    addresses in ``refuse`` as dead; with ``hang``, accept the message and never answer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    latency_ms: int = Field(0, ge=0)
    hang: bool = False
    status: int | None = Field(None, ge=400, le=599)
    retry_after_s: float | None = Field(None, ge=0)
    count: int | None = Field(None, ge=1)
    refuse: frozenset[str] = frozenset()


class Received(BaseModel):
    """One request that reached a sandbox past authentication."""

    model_config = ConfigDict(frozen=True)

    provider: Provider
    outcome: Outcome
    notification_id: str | None = None
    address: str  # device token, phone number or email address
    title: str | None = None
    body: str | None = None
    subject: str | None = None
    data: dict[str, str] = Field(default_factory=dict)  # FCM data, APNs custom keys
    headers: dict[str, str] = Field(default_factory=dict)  # the ones that matter, lower case
    message_id: str | None = None  # the provider's id in the answer
    dedupe: bool = False  # a repeated idempotency key: the original message, not a new one
    received_at: float  # Unix time

    @property
    def delivered(self) -> bool:
        """The provider took the message (whether or not the client saw the answer)."""
        return self.outcome in ("delivered", "hung")


SES_EVENTS_TOPIC = "arn:aws:sns:us-east-1:000000000000:herald-ses-events"


class ReceiptPlan(BaseModel):
    """What a provider reports after it took a message, once ``delay_ms`` has passed: that it
    was delivered, except for the addresses in ``fail`` (Twilio: ``undelivered`` with error
    30003; SES: a permanent bounce; SMTP: a DSN of 5.1.1). ``url``: where reports go (SES: the
    SNS subscription's endpoint, confirmed first; SMTP: the MTA's bounce hook, with ``api_key``
    as its bearer; Twilio: each message's StatusCallback). Without a plan, nothing is reported."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str | None = None
    api_key: str | None = None
    fail: frozenset[str] = frozenset()
    delay_ms: int = Field(default=0, ge=0)
    topic_arn: str = SES_EVENTS_TOPIC


class Report(BaseModel):
    """One report a sandbox sent, and how it was answered (status 0: no answer)."""

    model_config = ConfigDict(frozen=True)

    provider: Provider
    kind: str  # twilio: the status; ses: the SNS Type or the SES eventType; smtp: "dsn"
    url: str
    message_id: str | None = None
    status: int
