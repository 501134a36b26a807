"""Each sender against its provider sandbox: what arrived there, and what each fault becomes.

The sandbox is shared by the session, so every test uses its own notification ids and
addresses and looks only at those.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.base import (
    PermanentDeliveryError,
    Receipt,
    Sender,
    TransientDeliveryError,
    UnknownOutcomeError,
)
from connectors.push.apns import apns_id
from connectors.push.fcm import FcmSender
from connectors.registry import build_sender
from herald.links import LinkSigner
from herald.models import Channel, ChannelMessage, Platform, Priority
from herald.settings import HeraldSettings, ProviderLimits
from lab.sandboxes import SandboxControl
from lab.sandboxes.models import Provider, Received

SandboxFixture = tuple[HeraldSettings, SandboxControl]
PROVIDERS: tuple[Provider, ...] = ("fcm", "apns", "sns", "twilio", "smtp", "ses")
HTTP_RETRY_AFTER: tuple[Provider, ...] = ("fcm", "apns", "twilio")
CHANNELS = {
    "fcm": Channel.PUSH,
    "apns": Channel.PUSH,
    "sns": Channel.SMS,
    "twilio": Channel.SMS,
    "smtp": Channel.EMAIL,
    "ses": Channel.EMAIL,
}
HANG_TIMEOUT_S = 1.5


def address_for(provider: str) -> str:
    tag = uuid.uuid4()
    if provider == "apns":
        return tag.hex + tag.hex  # 64 hex characters, like a device token
    if provider == "fcm":
        return f"fcm-{tag.hex}"
    if provider in ("sns", "twilio"):
        return f"+1555{tag.int % 10_000_000:07d}"
    return f"user-{tag.hex[:12]}@example.com"


def channel_message(provider: str, **changes: Any) -> ChannelMessage:
    channel = CHANNELS[provider]
    fields: dict[str, Any] = {
        "notification_id": uuid.uuid4().hex,
        "request_id": "test-senders",
        "user_id": "user-1",
        "channel": channel,
        "address": address_for(provider),
        "body": "Your order shipped",
        "category": "transactional",
        "priority": Priority.HIGH,
        "title": "Order 42" if channel is not Channel.SMS else None,
        "platform": {"fcm": Platform.ANDROID, "apns": Platform.IOS}.get(provider),
    }
    fields.update(changes)
    return ChannelMessage(**fields)


def with_timeout(settings: HeraldSettings, provider: str, timeout_s: float) -> HeraldSettings:
    """The same settings with one provider's call timeout changed."""
    delivery = settings.delivery
    limits = ProviderLimits(timeout_s=timeout_s)
    section, field = {
        "fcm": ("fcm", "limits"),
        "apns": ("apns", "limits"),
        "twilio": ("twilio", "limits"),
        "smtp": ("smtp", "limits"),
        "sns": ("aws", "sms_limits"),
        "ses": ("aws", "email_limits"),
    }[provider]
    part = getattr(delivery, section).model_copy(update={field: limits})
    return settings.model_copy(update={"delivery": delivery.model_copy(update={section: part})})


def records(control: SandboxControl, provider: Provider, message: ChannelMessage) -> list[Received]:
    everything = control.received(provider, include_rejected=True)
    return [r for r in everything if r.notification_id == message.notification_id]


@pytest.fixture
def sandbox_clean(sandbox: SandboxFixture) -> Iterator[SandboxFixture]:
    """The sandbox with no fault left over from a test, before and after."""
    _, control = sandbox
    for provider in PROVIDERS:
        control.clear(provider)
    yield sandbox
    for provider in PROVIDERS:
        control.clear(provider)


@asynccontextmanager
async def sender_for(settings: HeraldSettings, provider: str) -> AsyncIterator[Sender]:
    sender = build_sender(settings, provider)
    try:
        yield sender
    finally:
        await sender.aclose()


async def send(sender: Sender, message: ChannelMessage, key: str | None = None) -> Receipt:
    return await sender.send(message, key or message.notification_id)


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_delivered_with_the_notification_id(
    sandbox_clean: SandboxFixture, provider: Provider
) -> None:
    settings, control = sandbox_clean
    message = channel_message(provider)
    async with sender_for(settings, provider) as sender:
        receipt = await send(sender, message)
    assert receipt.provider == provider
    assert receipt.provider_message_id
    [record] = records(control, provider, message)
    assert record.outcome == "delivered"
    assert record.address == message.address
    assert record.body is not None and "Your order shipped" in record.body


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", HTTP_RETRY_AFTER)
async def test_429_is_transient_with_retry_after(
    sandbox_clean: SandboxFixture, provider: Provider
) -> None:
    settings, control = sandbox_clean
    control.fault(provider, status=429, retry_after_s=7, count=1)
    async with sender_for(settings, provider) as sender:
        with pytest.raises(TransientDeliveryError) as throttled:
            await send(sender, channel_message(provider))
        assert throttled.value.retry_after_s == 7
        await send(sender, channel_message(provider))  # the fault was for one request


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("provider", "status"),
    [("fcm", 503), ("apns", 500), ("twilio", 503), ("sns", 500), ("ses", 503), ("smtp", 451)],
)
async def test_provider_outage_is_transient(
    sandbox_clean: SandboxFixture, provider: Provider, status: int
) -> None:
    settings, control = sandbox_clean
    control.fault(provider, status=status, count=2)
    message = channel_message(provider)
    async with sender_for(settings, provider) as sender:
        for _ in range(2):
            with pytest.raises(TransientDeliveryError):
                await send(sender, channel_message(provider))
        await send(sender, message)
    assert [r.outcome for r in records(control, provider, message)] == ["delivered"]


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", ["sns", "ses"])
async def test_aws_throttling_is_transient(
    sandbox_clean: SandboxFixture, provider: Provider
) -> None:
    settings, control = sandbox_clean
    control.fault(provider, status=429, count=1)  # AWS answers Throttling
    async with sender_for(settings, provider) as sender:
        with pytest.raises(TransientDeliveryError) as throttled:
            await send(sender, channel_message(provider))
    assert throttled.value.code == "Throttling"


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_no_answer_is_an_unknown_outcome(
    sandbox_clean: SandboxFixture, provider: Provider
) -> None:
    settings, control = sandbox_clean
    control.fault(provider, hang=True, count=1)
    message = channel_message(provider)
    async with sender_for(with_timeout(settings, provider, HANG_TIMEOUT_S), provider) as sender:
        with pytest.raises(UnknownOutcomeError):
            await send(sender, message)
    [record] = records(control, provider, message)
    assert record.outcome == "hung"  # it did arrive: resending blindly would duplicate it


@pytest.mark.asyncio
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_refused_address_is_permanent_and_dead(
    sandbox_clean: SandboxFixture, provider: Provider
) -> None:
    settings, control = sandbox_clean
    message = channel_message(provider)
    control.fault(provider, refuse=[message.address])
    async with sender_for(settings, provider) as sender:
        with pytest.raises(PermanentDeliveryError) as refused:
            await send(sender, message)
    assert refused.value.address_invalid
    assert refused.value.provider == provider
    assert message.address not in str(refused.value)


@pytest.mark.asyncio
async def test_fcm_token_is_fetched_once_and_reused(sandbox_clean: SandboxFixture) -> None:
    settings, control = sandbox_clean
    messages = [channel_message("fcm") for _ in range(5)]
    async with sender_for(settings, "fcm") as sender:
        assert isinstance(sender, FcmSender)
        await asyncio.gather(*(send(sender, m) for m in messages[:3]))
        for m in messages[3:]:
            await send(sender, m)
        assert sender.token.fetches == 1
    for m in messages:
        assert [r.outcome for r in records(control, "fcm", m)] == ["delivered"]


@pytest.mark.asyncio
async def test_apns_request_headers(sandbox_clean: SandboxFixture) -> None:
    settings, control = sandbox_clean
    message = channel_message("apns", priority=Priority.LOW)
    async with sender_for(settings, "apns") as sender:
        receipt = await send(sender, message)
    assert receipt.provider_message_id == apns_id(message.notification_id, Channel.PUSH)
    [record] = records(control, "apns", message)
    assert record.headers["apns-id"].lower() == apns_id(message.notification_id, Channel.PUSH)
    assert record.headers["apns-topic"] == settings.delivery.apns.bundle_id
    assert record.headers["apns-priority"] == "5"


@pytest.mark.asyncio
async def test_twilio_idempotency_key_prevents_a_second_message(
    sandbox_clean: SandboxFixture,
) -> None:
    settings, control = sandbox_clean
    message = channel_message("twilio")
    async with sender_for(settings, "twilio") as sender:
        first = await send(sender, message)  # the key: the notification id
        again = await send(sender, message)
    assert again.provider_message_id == first.provider_message_id
    assert [r.dedupe for r in records(control, "twilio", message)] == [False, True]


@pytest.mark.asyncio
@pytest.mark.parametrize(("category", "unsubscribe"), [("marketing", True), ("security", False)])
async def test_list_unsubscribe_by_category(
    sandbox_clean: SandboxFixture, category: str, unsubscribe: bool
) -> None:
    settings, control = sandbox_clean
    links = {"secret": "a key of thirty-two bytes or more!", "base_url": "https://n.example"}
    message = channel_message("smtp", category=category, html="<p>Shipped</p>")
    async with sender_for(settings.updated(links=links), "smtp") as sender:
        await send(sender, message)
    [record] = records(control, "smtp", message)
    assert record.subject == "Order 42"
    assert ("list-unsubscribe" in record.headers) is unsubscribe
    if unsubscribe:
        link = record.headers["list-unsubscribe"].split(",")[0].strip().strip("<>")
        assert link.startswith("https://n.example/v1/unsubscribe?")
        query = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
        signer = LinkSigner.from_settings(settings.updated(links=links).links)
        signer.check_unsubscribe(query["token"], message.user_id, category, datetime.now(UTC))
        assert record.headers["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"


@pytest.mark.asyncio
async def test_smtp_sends_one_message_after_another_on_kept_connections(
    sandbox_clean: SandboxFixture,
) -> None:
    settings, control = sandbox_clean
    messages = [channel_message("smtp") for _ in range(3)]
    async with sender_for(settings, "smtp") as sender:
        for m in messages:
            await send(sender, m)
    for m in messages:
        assert [r.outcome for r in records(control, "smtp", m)] == ["delivered"]
