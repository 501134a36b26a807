"""Sender workers through real Kafka and Redis against the provider sandboxes: what reached
the provider, the statuses on herald.status, dead letters and invalidations."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from herald.models import Channel, ChannelMessage, Device, Platform, State, UserContacts
from herald.settings import HeraldSettings
from lab.sandboxes.client import SandboxControl
from lab.sandboxes.models import Received
from tests.integration.delivery import (
    TERMINAL,
    Delivery,
    dead_letters,
    first_terminal,
    message,
    of,
    running_delivery,
)
from tests.integration.pipeline import read_records, request, running_pipeline, user

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
        [letter] = dead_letters(delivery)
        assert (letter.value, letter.topic) == (b"not avro", delivery.names.channel("sms"))
        assert letter.reason.startswith("CodecError")
        for worker in delivery.workers:  # SIGTERM: the round finishes, the worker exits cleanly
            worker.stop()
            assert worker.process is not None and worker.process.returncode == 0


def attempts(control: SandboxControl, provider: str, notification_id: str) -> list[Received]:
    """Every request of one notification that reached the provider, refused ones included."""
    return [
        r
        for r in control.received(provider, include_rejected=True)  # type: ignore[arg-type]
        if r.notification_id == notification_id
    ]


def warm(delivery: Delivery, channel: Channel, address: str, platform: Platform | None) -> None:
    """One delivery first, so the worker holds its credentials before a fault is injected."""
    delivery.outcomes(delivery.publish([message(channel, address, platform)]))


def test_a_429_waits_for_its_retry_after(sandbox: Sandbox, tmp_path: Path) -> None:
    settings, control = sandbox
    with running_delivery(settings, tmp_path) as delivery:
        delivery.sender(Channel.PUSH)
        warm(delivery, Channel.PUSH, "tok-warm", Platform.ANDROID)
        control.fault("fcm", status=429, retry_after_s=2, count=1)
        [slow] = delivery.publish([message(Channel.PUSH, "tok-429", Platform.ANDROID)])

        outcome = delivery.outcomes([slow])[slow.notification_id]
        assert (outcome.state, outcome.attempt) == (State.SENT, 1)
        statuses = of(delivery.readers[-1].seen, slow.notification_id)
        assert [s.state for s in statuses] == [State.DEFERRED, State.SENT]
        assert statuses[0].reason  # the provider's code
        first, second = attempts(control, "fcm", slow.notification_id)
        assert (first.outcome, second.outcome) == ("failed", "delivered")
        assert second.received_at - first.received_at >= 2.0  # not before Retry-After


def test_a_burst_of_5xx_is_retried_until_it_goes_through(sandbox: Sandbox, tmp_path: Path) -> None:
    settings, control = sandbox
    token = f"{7:064x}"
    with running_delivery(settings, tmp_path) as delivery:
        delivery.sender(Channel.PUSH)
        warm(delivery, Channel.PUSH, token, Platform.IOS)
        control.fault("apns", status=503, count=2)
        [note] = delivery.publish([message(Channel.PUSH, token, Platform.IOS)])

        outcome = delivery.outcomes([note])[note.notification_id]
        assert (outcome.state, outcome.provider, outcome.attempt) == (State.SENT, "apns", 2)
        states = [s.state for s in of(delivery.readers[-1].seen, note.notification_id)]
        assert states == [State.DEFERRED, State.DEFERRED, State.SENT]
        tries = attempts(control, "apns", note.notification_id)
        assert [r.outcome for r in tries] == ["failed", "failed", "delivered"]


def test_exhausted_attempts_and_passed_deadlines_are_dead_lettered(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings, control = sandbox
    with running_delivery(settings, tmp_path) as delivery:
        delivery.sender(Channel.SMS, delivery={"max_attempts": 2, "sms_providers": ["sns"]})
        delivery.sender(Channel.PUSH)
        warm(delivery, Channel.SMS, "+15555550001", None)
        warm(delivery, Channel.PUSH, "tok-warm", Platform.ANDROID)
        control.fault("sns", status=500)
        control.fault("fcm", status=429, retry_after_s=60)  # later than the deadline
        try:
            exhausted = message(Channel.SMS, "+15555550002")
            soon = datetime.now(UTC) + timedelta(seconds=30)
            late = message(Channel.PUSH, "tok-late", Platform.ANDROID, deadline=soon)
            outcomes = delivery.outcomes(delivery.publish([exhausted, late]))
        finally:
            control.clear("sns")
            control.clear("fcm")
        outcome, too_late = outcomes[exhausted.notification_id], outcomes[late.notification_id]

        assert (outcome.state, outcome.reason, outcome.attempt) == (
            State.DEAD_LETTERED,
            "attempts_exhausted",
            1,
        )
        assert (too_late.state, too_late.reason) == (State.DEAD_LETTERED, "deadline_passed")
        assert len(attempts(control, "sns", exhausted.notification_id)) == 2
        letters = {
            decoded.notification_id: letter
            for letter in dead_letters(delivery)
            if (decoded := ChannelMessage.from_record(delivery.codec.decode(letter.value or b"")))
        }
        assert letters[exhausted.notification_id].reason.startswith("attempts_exhausted")
        assert letters[late.notification_id].reason.startswith("deadline_passed")
        assert letters[exhausted.notification_id].topic == delivery.names.retry_keys("sms")[0]
        assert letters[late.notification_id].topic == delivery.names.channel("push")


def test_sms_fails_over_to_twilio_while_sns_is_open_and_comes_back(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings, control = sandbox
    with running_delivery(settings, tmp_path) as delivery:
        breaker = {"breaker_failures": 2, "breaker_cooldown_s": 3}
        delivery.sender(Channel.SMS, delivery={"aws": {"sms_limits": breaker}})
        warm(delivery, Channel.SMS, "+15555550010", None)
        control.fault("sns", status=503)
        try:
            failing = delivery.publish(message(Channel.SMS, f"+1555555002{i}") for i in range(2))
            during = delivery.outcomes(failing)
            while_open = delivery.publish([message(Channel.SMS, "+15555550030")])
            during.update(delivery.outcomes(while_open))
        finally:
            control.clear("sns")
        assert {(s.state, s.provider) for s in during.values()} == {(State.SENT, "twilio")}
        assert delivery.outcomes(while_open)[while_open[0].notification_id].attempt == 0

        back = None  # once the cooldown is over, the probe goes to SNS and closes its breaker
        deadline = time.monotonic() + 60
        while back is None and time.monotonic() < deadline:
            [probe] = delivery.publish([message(Channel.SMS, "+15555550040")])
            status = delivery.outcomes([probe])[probe.notification_id]
            back = status if status.provider == "sns" else None
        assert back is not None and back.state is State.SENT
        after = delivery.outcomes(delivery.publish([message(Channel.SMS, "+15555550050")]))
        assert [s.provider for s in after.values()] == ["sns"]


def test_a_hang_ends_unknown_or_is_reconciled_by_idempotency_key(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings, control = sandbox
    with running_delivery(settings, tmp_path) as delivery:
        delivery.sender(Channel.PUSH, delivery={"fcm": {"limits": {"timeout_s": 1}}})
        twilio_only = {"sms_providers": ["twilio"], "twilio": {"limits": {"timeout_s": 1}}}
        delivery.sender(Channel.SMS, delivery=twilio_only)
        warm(delivery, Channel.PUSH, "tok-warm", Platform.ANDROID)
        warm(delivery, Channel.SMS, "+15555550060", None)
        control.fault("fcm", hang=True, count=1)
        control.fault("twilio", hang=True, count=1)
        push = message(Channel.PUSH, "tok-hang", Platform.ANDROID)
        sms = message(Channel.SMS, "+15555550061")
        outcomes = delivery.outcomes(delivery.publish([push, sms]))

        # FCM cannot deduplicate: the delivery ends unknown and is never sent again
        unknown = outcomes[push.notification_id]
        assert (unknown.state, unknown.reason) == (State.UNKNOWN, "outcome_unknown")
        assert [r.outcome for r in attempts(control, "fcm", push.notification_id)] == ["hung"]
        # Twilio deduplicates by Idempotency-Key: the same key again, one message delivered
        sent = outcomes[sms.notification_id]
        assert (sent.state, sent.attempt) == (State.SENT, 1)
        tries = attempts(control, "twilio", sms.notification_id)
        assert [(r.outcome, r.dedupe) for r in tries] == [("hung", False), ("delivered", True)]
        assert sent.provider_message_id == tries[0].message_id


def test_a_dead_address_fails_is_invalidated_and_leaves_the_contacts(
    stack: HeraldSettings, sandbox: Sandbox, tmp_path: Path
) -> None:
    settings, control = sandbox
    with (
        running_pipeline(stack, tmp_path / "streams") as pipeline,
        running_delivery(settings, tmp_path, prefix=pipeline.names.prefix) as delivery,
    ):
        person = user()
        dead, live = f"dead-{person}", f"live-{person}"
        devices = (Device(dead, Platform.ANDROID), Device(live, Platform.ANDROID))
        pipeline.profiles(contacts=[UserContacts(person, devices=devices)])
        delivery.sender(Channel.PUSH)
        control.fault("fcm", refuse=[dead])
        try:
            pipeline.publisher.publish(request([person], channels=(Channel.PUSH,)))
            reader = delivery.statuses()
            reader.wait_until(
                lambda seen: len([s for s in seen if s.state in TERMINAL]) >= 2, timeout_s=60
            )
        finally:
            control.clear("fcm")
        terminal = [s for s in reader.seen if s.state in TERMINAL]
        assert {(s.state, s.reason) for s in terminal} == {
            (State.SENT, None),
            (State.FAILED, "UNREGISTERED"),
        }
        assert len(terminal) == 2
        [(_, _, invalidated)] = read_records(pipeline, pipeline.names.address_invalidations, 1)
        assert invalidated is not None
        assert (invalidated["user_id"], invalidated["address"]) == (person, dead)
        contacts = read_records(pipeline, pipeline.names.user_contacts, 2)
        assert [c["devices"] for _, _, c in contacts if c] == [
            [{"token": dead, "platform": "android"}, {"token": live, "platform": "android"}],
            [{"token": live, "platform": "android"}],
        ]


def test_a_sender_killed_mid_batch_delivers_everything_once_after_restart(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings, control = sandbox
    count = 120
    twilio_only: dict[str, object] = {"sms_providers": ["twilio"], "in_flight": 8}
    with running_delivery(settings, tmp_path) as delivery:
        worker = delivery.sender(Channel.SMS, delivery=twilio_only)
        warm(delivery, Channel.SMS, "+15555550070", None)
        control.fault("twilio", latency_ms=200)
        try:
            notes = delivery.publish(message(Channel.SMS, f"+1555556{i:04d}") for i in range(count))
            ids = {n.notification_id for n in notes}
            reader = delivery.statuses()
            reader.wait_until(lambda seen: len(first_terminal(seen, ids)) >= 10, timeout_s=60)
            worker.kill()  # mid-batch: calls in flight, nothing committed
            for _ in range(4):
                reader.poll(0.5)
            assert len(first_terminal(reader.seen, ids)) < count  # stopped part-way

            delivery.sender(Channel.SMS, delivery=twilio_only)
            reader.wait_until(lambda seen: len(first_terminal(seen, ids)) == count, timeout_s=180)
        finally:
            control.clear("twilio")

        outcomes = first_terminal(reader.seen, ids)
        assert {s.state for s in outcomes.values()} == {State.SENT}
        delivered = [i for i in delivered_ids(control, "twilio") if i in ids]
        assert sorted(delivered) == sorted(ids)  # each exactly once: none twice
