"""The demo's pure parts: its users, its load, and the summary of what happened."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from herald.errors import ConfigurationError
from herald.models import Channel, DeliveryStatus, Priority, Reason, State, notification_id
from herald.settings import HeraldSettings, PipelineSettings
from herald.templating import TemplateStore
from herald.validation import validate
from lab.demo import (
    PERSONAS,
    WHOLE,
    DemoConfig,
    DemoUser,
    demo_load,
    demo_users,
    describe_gaps,
    describe_user,
    expected_channels,
    final_statuses,
    format_summary,
    gaps,
    summarize,
    user_story,
)
from lab.demo.summary import TimelineRow, awaiting_delivery, delivery_report
from lab.workers import WorkerProcess
from streams.quiet_hours import quiet_until

NOW = datetime(2025, 3, 14, 15, 30, tzinfo=UTC)


def status(
    request_id: str,
    user_id: str,
    state: State,
    channel: Channel | None = None,
    reason: str | None = None,
    at: datetime = NOW,
) -> DeliveryStatus:
    return DeliveryStatus(
        notification_id=notification_id(request_id, user_id),
        request_id=request_id,
        user_id=user_id,
        state=state,
        occurred_at=at,
        channel=channel,
        reason=reason,
    )


# -- users ---------------------------------------------------------------------------------


def test_users_are_deterministic_for_a_seed() -> None:
    assert demo_users(300, NOW, seed=3) == demo_users(300, NOW, seed=3)
    assert demo_users(300, NOW, seed=3) != demo_users(300, NOW, seed=4)


def test_a_small_demo_is_the_first_users_of_a_big_one() -> None:
    assert demo_users(40, NOW) == demo_users(300, NOW)[:40]


def test_users_are_varied() -> None:
    users = demo_users(300, NOW)
    assert len({u.user_id for u in users}) == 300
    prefs = [u.prefs for u in users]
    assert sum(Channel.SMS in p.opted_out_channels for p in prefs) > 10
    assert sum("marketing" in p.opted_out_categories for p in prefs) > 10
    assert sum(quiet_until(NOW, p.quiet_hours) is not None for p in prefs) > 10
    assert sum(bool(p.limit_overrides) for p in prefs) > 3
    assert {p.locale for p in prefs} == {"en", "fr"}
    assert sum(not u.contacts.devices for u in users) > 10
    assert sum(u.contacts.phone is None for u in users) > 10
    assert sum(u.contacts.email is None for u in users) > 3


def test_the_personas_come_first_so_a_small_demo_shows_every_case() -> None:
    users = demo_users(len(PERSONAS), NOW)
    no_sms, no_marketing, night_owl, unreachable, limited = users[1:6]
    assert Channel.SMS in no_sms.prefs.opted_out_channels
    assert "marketing" in no_marketing.prefs.opted_out_categories
    assert quiet_until(NOW, night_owl.prefs.quiet_hours) is not None
    contacts = unreachable.contacts
    assert (contacts.devices, contacts.phone, contacts.email) == ((), None, None)
    assert limited.prefs.limit_overrides == {Channel.PUSH: 1}


@pytest.mark.parametrize("hour", [0, 1, 12, 22, 23])
def test_quiet_now_covers_now_at_any_hour(hour: int) -> None:
    now = NOW.replace(hour=hour, minute=59)
    night_owl = demo_users(4, now)[3]
    assert quiet_until(now, night_owl.prefs.quiet_hours) is not None


def test_a_profile_is_described_without_addresses() -> None:
    for user in demo_users(60, NOW):
        text = describe_user(user)
        contacts = user.contacts
        secrets = [contacts.phone, contacts.email, *(d.token for d in contacts.devices)]
        assert not any(secret and secret in text for secret in secrets)
    assert "opted out of sms" in describe_user(demo_users(2, NOW)[1])


# -- the load ------------------------------------------------------------------------------


def _load(count: int = 300) -> tuple[list[DemoUser], dict[str, list]]:
    users = demo_users(count, NOW)
    by_label: dict[str, list] = {}
    for label, request in demo_load(users, NOW, "run1"):
        by_label.setdefault(label, []).append(request)
    return users, by_label


def test_the_load_has_every_kind_of_request() -> None:
    users, load = _load()
    assert len(load["order shipped"][0].recipients) == 100
    assert len(load["weekly digest"][0].recipients) == 300
    assert load["weekly digest"][0].category == "marketing"
    assert len(load["security alert"][0].recipients) == 50
    assert load["security alert"][0].category == "security"
    burst = load["sms burst"]
    assert len(burst) == 5
    assert all(r.recipients == [users[0].user_id] and r.channels == (Channel.SMS,) for r in burst)
    assert load["broken template"][0].template_id == "broken"
    assert load["expired"][0].expires_at is not None
    assert load["expired"][0].expires_at < NOW


def test_critical_requests_go_to_users_in_quiet_hours() -> None:
    users, load = _load()
    critical = load["critical alert"][0]
    assert critical.priority is Priority.CRITICAL
    prefs = {u.user_id: u.prefs for u in users}
    assert critical.recipients
    assert all(quiet_until(NOW, prefs[u].quiet_hours) for u in critical.recipients)


@pytest.mark.parametrize("count", [1, 6, 40, 300])
def test_every_request_is_valid_with_unique_ids(count: int) -> None:
    load = demo_load(demo_users(count, NOW), NOW, "run1")
    for _, request in load:
        validate(request, PipelineSettings())
    assert len({r.request_id for _, r in load}) == len(load)


def test_expected_channels_come_from_the_request_or_its_template() -> None:
    load = demo_load(demo_users(40, NOW), NOW, "run1")
    expected = expected_channels(
        load, TemplateStore(HeraldSettings().pipeline.templates_dir).channels
    )
    assert len(expected) == sum(len(r.recipients) for _, r in load)
    by_label = dict(load)
    burst, digest = by_label["sms burst"], by_label["weekly digest"]
    assert expected[(burst.request_id, burst.recipients[0])] == {Channel.SMS}
    assert expected[(digest.request_id, digest.recipients[0])] == {Channel.EMAIL, Channel.PUSH}


def test_gaps_are_the_channels_without_a_status() -> None:
    expected = {
        ("r1", "ann"): frozenset({Channel.PUSH, Channel.SMS}),
        ("r1", "bob"): frozenset({Channel.PUSH}),
        ("r2", "ann"): frozenset({Channel.EMAIL}),
    }
    seen = [
        status("r1", "ann", State.QUEUED, Channel.PUSH),
        status("r2", "ann", State.EXPIRED, reason=Reason.EXPIRED),  # no channel: covers all
    ]
    missing = gaps(expected, seen)
    assert missing == {("r1", "ann"): {Channel.SMS}, ("r1", "bob"): {Channel.PUSH}}
    assert describe_gaps(missing, {"r1": "order shipped"}) == [
        "order shipped to ann: sms",
        "order shipped to bob: push",
    ]
    rest = [
        status("r1", "ann", State.QUEUED, Channel.SMS),
        status("r1", "bob", State.QUEUED, Channel.PUSH),
    ]
    assert gaps(expected, [*seen, *rest]) == {}


# -- the summary ---------------------------------------------------------------------------

RUN = [
    status("r1", "ann", State.QUEUED, Channel.PUSH),
    status("r1", "ann", State.SUPPRESSED, Channel.SMS, Reason.OPTED_OUT_CHANNEL),
    status("r1", "bob", State.DEFERRED, Channel.PUSH, Reason.QUIET_HOURS),
    status("r1", "bob", State.SUPPRESSED, Channel.SMS, Reason.NO_ADDRESS),
    status("r2", "ann", State.SUPPRESSED, Channel.SMS, Reason.RATE_LIMITED),
    status("r3", "ann", State.EXPIRED, reason=Reason.EXPIRED, at=NOW + timedelta(seconds=4)),
]


def test_the_latest_status_of_each_notification_channel_counts() -> None:
    later = status("r1", "bob", State.QUEUED, Channel.PUSH)
    final = final_statuses([*RUN, later])
    assert len(final) == len(RUN)
    assert later in final
    assert RUN[2] not in final


def test_summary_counts_states_channels_and_reasons() -> None:
    summary = summarize(
        RUN,
        started_at=NOW - timedelta(seconds=1),
        channel_messages={"push": 2, "sms": 0, "email": 0},
        dead_letters=1,
    )
    assert (summary.requests, summary.notifications, summary.status_events) == (3, 4, 6)
    assert summary.by_state == {"queued": 1, "suppressed": 3, "deferred": 1, "expired": 1}
    assert summary.by_channel["push"] == {"queued": 1, "deferred": 1}
    assert summary.by_channel["sms"] == {"suppressed": 3}
    assert summary.by_channel[WHOLE] == {"expired": 1}
    assert summary.suppressed == {"opted_out_channel": 1, "no_address": 1, "rate_limited": 1}
    assert summary.elapsed_s == pytest.approx(5.0)
    assert summary.throughput == pytest.approx(4 / 5.0)
    assert summary.dead_letters == 1
    assert summary.missing == ()


def test_an_empty_run_summarises_to_zeros() -> None:
    summary = summarize([])
    assert (summary.notifications, summary.elapsed_s, summary.throughput) == (0, 0.0, 0.0)
    assert "0 requests" in format_summary(summary)


def test_a_user_story_follows_the_requests_in_order() -> None:
    ann = demo_users(1, NOW)[0]
    statuses = [
        status("r2", ann.user_id, State.SUPPRESSED, Channel.SMS, Reason.RATE_LIMITED),
        status("r1", ann.user_id, State.QUEUED, Channel.PUSH),
        status("r3", ann.user_id, State.SUPPRESSED, Channel.SMS, Reason.RATE_LIMITED),
        status("r4", ann.user_id, State.EXPIRED, reason=Reason.EXPIRED),
        status("r1", "someone else", State.QUEUED, Channel.PUSH),
    ]
    labels = {"r1": "order shipped", "r2": "sms burst", "r3": "sms burst", "r4": "expired"}
    story = user_story(ann, statuses, labels)
    assert story.user_id == ann.user_id
    assert story.events == (
        "order shipped: push queued",
        "sms burst: sms suppressed (rate_limited) x2",
        f"expired: {WHOLE} expired",
    )


def test_the_formatted_summary_reads_well() -> None:
    ann = demo_users(1, NOW)[0]
    summary = summarize(
        RUN,
        started_at=NOW,
        channel_messages={"push": 2, "sms": 0, "email": 0},
        dead_letters=1,
        missing=["order shipped to bob: email"],
        samples=[user_story(ann, [status("r1", ann.user_id, State.QUEUED, Channel.PUSH)], {})],
    )
    text = format_summary(summary)
    header = next(line for line in text.splitlines() if "total" in line)
    assert header.split() == ["queued", "suppressed", "deferred", "expired", "total"]
    assert "rate_limited" in text
    assert "push 2, sms 0, email 0" in text
    assert "dead letters: 1" in text
    assert "MISSING: 1" in text
    assert "order shipped to bob: email" in text
    assert ann.user_id in text
    assert ann.contacts.phone is not None
    assert ann.contacts.phone not in text


# -- configuration -------------------------------------------------------------------------


def test_a_fresh_prefix_is_cleaned_up_unless_kept() -> None:
    fresh = DemoConfig.from_options(40, None, keep=False, timeout_s=60, now=NOW)
    assert fresh.prefix == "demo-20250314-153000."
    assert fresh.cleanup
    assert not DemoConfig.from_options(40, None, keep=True, timeout_s=60, now=NOW).cleanup
    own = DemoConfig.from_options(40, "herald.", keep=False, timeout_s=60, now=NOW)
    assert (own.prefix, own.cleanup) == ("herald.", False)


def test_only_a_demo_prefix_can_be_cleaned_up() -> None:
    with pytest.raises(ConfigurationError):
        DemoConfig("herald.", cleanup=True)


def test_the_worker_gets_the_prefix_and_absolute_directories(tmp_path: Path) -> None:
    settings = HeraldSettings().with_prefix("demo-1.")
    child = WorkerProcess("streams", settings, tmp_path / "worker.log").settings
    templates = child.pipeline.templates_dir
    assert templates.is_absolute()
    assert (templates / "order_shipped.toml").is_file()
    assert child.pipeline.worker_dir == tmp_path / "worker-data"
    assert child.lifecycle.ready_file == tmp_path / "worker.log.ready"
    assert child.kafka.topic_prefix == "demo-1."
    assert (
        child.updated(
            lifecycle={"ready_file": None}, pipeline={"worker_dir": settings.pipeline.worker_dir}
        )
        == settings
    )


def sender_status(
    request_id: str,
    state: State,
    channel: Channel,
    provider: str,
    reason: str | None = None,
    attempt: int = 0,
    message_id: str | None = None,
) -> DeliveryStatus:
    return DeliveryStatus(
        notification_id=notification_id(request_id, "ann"),
        request_id=request_id,
        user_id="ann",
        state=state,
        occurred_at=NOW,
        channel=channel,
        reason=reason,
        provider=provider,
        provider_message_id=message_id,
        attempt=attempt,
    )


def test_routed_messages_await_a_delivery_outcome() -> None:
    routed = [
        status("r1", "ann", State.QUEUED, Channel.SMS),
        status("r2", "ann", State.QUEUED, Channel.EMAIL),
    ]
    assert awaiting_delivery(routed) == {
        (notification_id("r1", "ann"), Channel.SMS),
        (notification_id("r2", "ann"), Channel.EMAIL),
    }
    retry = sender_status("r1", State.DEFERRED, Channel.SMS, "sns", "ServiceUnavailable")
    assert len(awaiting_delivery([*routed, retry])) == 2  # a retry is not an outcome
    failed = sender_status("r2", State.FAILED, Channel.EMAIL, "smtp", "550")
    sent = sender_status("r1", State.SENT, Channel.SMS, "twilio", message_id="SM1")
    assert awaiting_delivery([*routed, retry, failed, sent]) == set()
    assert awaiting_delivery([status("r3", "ann", State.SUPPRESSED, Channel.SMS)]) == set()


def test_the_delivery_report_counts_each_message_once() -> None:
    statuses = [
        sender_status("r1", State.DEFERRED, Channel.SMS, "sns", "ServiceUnavailable", attempt=0),
        sender_status("r1", State.DEFERRED, Channel.SMS, "sns", "ServiceUnavailable", attempt=0),
        sender_status("r1", State.SENT, Channel.SMS, "twilio", attempt=1, message_id="SM1"),
        sender_status("r1", State.SENT, Channel.SMS, "twilio", attempt=1, message_id="SM1"),
        sender_status("r2", State.SENT, Channel.SMS, "sns", message_id="m-2"),
        sender_status("r3", State.SENT, Channel.PUSH, "fcm", message_id="f-3"),
        status("r4", "ann", State.DEFERRED, Channel.PUSH, Reason.QUIET_HOURS),  # not a retry
    ]
    rows = [TimelineRow("15:30:00.000", "sms", State.SENT, None, "twilio")]
    report = delivery_report(statuses, {"ann": rows})
    assert report.providers == {"sms": {"twilio": 1, "sns": 1}, "push": {"fcm": 1}}
    assert report.retries == {"sns ServiceUnavailable": 1}
    text = format_summary(summarize(statuses, delivery=report))
    assert "sms    sns 1, twilio 1" in text
    assert "email  none" in text
    assert "15:30:00.000  sms    sent via twilio" in text
