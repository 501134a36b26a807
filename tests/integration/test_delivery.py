"""Sender workers through real Kafka and Redis against the provider sandboxes: what reached
the provider, the statuses on herald.status, dead letters and invalidations."""

from __future__ import annotations

from pathlib import Path

from herald.models import Channel, Platform, State
from herald.sandboxes.client import SandboxControl
from herald.settings import HeraldSettings
from tests.integration.delivery import message, running_delivery

Sandbox = tuple[HeraldSettings, SandboxControl]


def delivered_ids(control: SandboxControl, provider: str) -> list[str]:
    """Notification ids the provider took as new messages (dedupes excluded)."""
    return [
        r.notification_id or ""
        for r in control.received(provider)  # type: ignore[arg-type]
        if r.delivered and not r.dedupe
    ]


def test_every_channel_delivers_once_and_reports_sent(sandbox: Sandbox, tmp_path: Path) -> None:
    settings, control = sandbox
    with running_delivery(settings, tmp_path) as delivery:
        for channel in Channel:
            delivery.sender(channel)
        android = [message(Channel.PUSH, f"tok-a{i}", Platform.ANDROID) for i in range(3)]
        ios = [message(Channel.PUSH, f"{i:064x}", Platform.IOS) for i in range(3)]
        sms = [message(Channel.SMS, f"+1555555{i:04d}") for i in range(3)]
        email = [message(Channel.EMAIL, f"user{i}@example.com") for i in range(3)]
        delivery.publish_raw(Channel.SMS, b"not avro")  # dead-lettered; the worker goes on
        sent = delivery.publish([*android, *ios, *sms, *email])

        outcomes = delivery.outcomes(sent)
        assert {s.state for s in outcomes.values()} == {State.SENT}
        expected = {"fcm": android, "apns": ios, "sns": sms, "smtp": email}
        for provider, messages in expected.items():
            ids = {m.notification_id for m in messages}
            assert {outcomes[i].provider for i in ids} == {provider}
            assert all(outcomes[i].provider_message_id for i in ids)
            assert sorted(i for i in delivered_ids(control, provider) if i in ids) == sorted(ids)
