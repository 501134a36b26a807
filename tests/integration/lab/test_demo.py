"""`herald demo` end to end on the real stack: a small demo on a prefix of its own."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka.admin import AdminClient

from herald.models import State
from herald.settings import HeraldSettings
from lab.demo import WHOLE, DemoConfig, Summary, format_summary, run_demo


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"demo-test-{uuid.uuid4().hex[:8]}."


@pytest.fixture(scope="module")
def summary(stack: HeraldSettings, prefix: str) -> Summary:
    said: list[str] = []
    result = run_demo(stack, DemoConfig(users=40, prefix=prefix, cleanup=True), say=said.append)
    print("\n".join(said), format_summary(result), sep="\n")
    assert any("worker ready" in line for line in said)
    return result


def test_every_notification_got_an_outcome(summary: Summary) -> None:
    assert summary.missing == ()
    assert summary.requests >= 10
    assert summary.notifications > 40
    assert summary.elapsed_s > 0


def test_each_channel_delivers_through_the_sandboxes(summary: Summary) -> None:
    for channel in ("push", "sms", "email"):
        assert summary.by_channel[channel].get("sent", 0) > 0
        assert "queued" not in summary.by_channel[channel]  # every routed message has an outcome
        # Push has a message per device; SMS and email one per routed notification.
        assert summary.channel_messages[channel] >= summary.by_channel[channel]["sent"]
    assert summary.channel_messages["sms"] == summary.by_channel["sms"]["sent"]


def test_sns_failures_are_retried_and_fail_over_to_twilio(summary: Summary) -> None:
    assert summary.delivery is not None
    assert summary.delivery.retries.get("sns ServiceUnavailable", 0) >= 1
    assert summary.delivery.providers["sms"].get("twilio", 0) >= 1
    assert set(summary.delivery.providers["push"]) == {"apns", "fcm"}
    assert set(summary.delivery.providers["email"]) == {"smtp"}


def test_timelines_are_read_back_from_cassandra(summary: Summary) -> None:
    assert summary.delivery is not None
    first, *_ = summary.delivery.timelines.values()
    states = {(row.channel, row.state, row.reason) for row in first}
    assert ("push", State.FAILED, "Unregistered") in states  # the dead second device
    assert ("email", State.SENT, None) in states
    assert ("sms", State.SUPPRESSED, "rate_limited") in states


def test_suppressions_deferrals_and_expiry_show(summary: Summary) -> None:
    reasons = set(summary.suppressed)
    assert {"opted_out_channel", "no_address", "rate_limited", "template_error"} <= reasons
    assert "opted_out_category" in reasons
    assert summary.by_state.get("deferred", 0) >= 1
    assert summary.by_channel[WHOLE] == {"expired": 5}


def test_the_malformed_record_is_dead_lettered(summary: Summary) -> None:
    assert summary.dead_letters == 1


def test_the_sample_tells_what_happened_to_users(summary: Summary) -> None:
    assert len(summary.samples) == 3
    burst = next(line for line in summary.samples[0].events if line.startswith("sms burst"))
    assert "rate_limited" in burst
    assert any("quiet_hours" in line for line in summary.samples[2].events)


def test_the_run_deleted_its_topics(stack: HeraldSettings, prefix: str, summary: Summary) -> None:
    admin = AdminClient(stack.kafka.client_config())
    deadline = time.monotonic() + 30
    while ours := [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix)]:
        assert time.monotonic() < deadline, f"still there: {ours}"
        time.sleep(0.5)
