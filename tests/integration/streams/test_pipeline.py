"""The pipeline through real Kafka, the registry and Redis: requests in, decisions out."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Consumer, Producer

from herald import deadletter
from herald.models import Channel, Priority, QuietHours, Reason, State, UserPreferences
from herald.settings import HeraldSettings
from tests.integration.pipeline import (
    CHANNELS,
    Pipeline,
    reachable,
    read_records,
    request,
    running_pipeline,
    user,
)


@pytest.fixture(scope="module")
def pipeline(stack: HeraldSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    with running_pipeline(stack, tmp_path_factory.mktemp("pipeline")) as running:
        yield running


def _states(outcome: dict[tuple[str, Channel | None], object], user_id: str) -> dict:
    return {
        channel: (status.state, status.reason)  # type: ignore[attr-defined]
        for (uid, channel), status in outcome.items()
        if uid == user_id
    }


def test_a_reachable_user_gets_rendered_messages_on_every_channel(pipeline: Pipeline) -> None:
    ann = user()
    pipeline.profiles(prefs=[UserPreferences(ann, locale="fr")], contacts=[reachable(ann)])
    sent = request([ann])
    pipeline.publisher.publish(sent)

    outcome = pipeline.outcome([sent])
    assert _states(outcome, ann) == dict.fromkeys(CHANNELS, (State.QUEUED, None))
    records = read_records(pipeline, pipeline.names.channel("push"), 10_000, timeout_s=5)
    push = [r for _, _, r in records if r is not None and r["user_id"] == ann]
    assert len(push) == 1
    assert push[0]["address"] == f"tok-{ann}"
    assert push[0]["title"] == "Commande 42 expédiée"  # the French variant, rendered


def test_each_suppression_reason(pipeline: Pipeline) -> None:
    no_sms, no_marketing, unreachable, guarded = user("nosms"), user("nomkt"), user("x"), user("g")
    pipeline.profiles(
        prefs=[
            UserPreferences(no_sms, opted_out_channels=frozenset({Channel.SMS})),
            UserPreferences(no_marketing, opted_out_categories=frozenset({"marketing"})),
            UserPreferences(
                guarded,
                opted_out_categories=frozenset({"security"}),
                opted_out_channels=frozenset({Channel.PUSH}),
            ),
        ],
        contacts=[reachable(no_sms), reachable(no_marketing), reachable(guarded)],
    )
    marketing = request([no_sms, no_marketing, unreachable], category="marketing")
    security = request(
        [guarded],
        category="security",
        template="security_alert",
        data={"name": "G", "device": "a new phone"},
    )
    pipeline.publisher.publish_batch([marketing, security])

    outcome = pipeline.outcome([marketing, security])
    assert _states(outcome, no_sms)[Channel.SMS] == (State.SUPPRESSED, Reason.OPTED_OUT_CHANNEL)
    assert _states(outcome, no_sms)[Channel.PUSH] == (State.QUEUED, None)
    assert set(_states(outcome, no_marketing).values()) == {
        (State.SUPPRESSED, Reason.OPTED_OUT_CATEGORY)
    }
    assert set(_states(outcome, unreachable).values()) == {(State.SUPPRESSED, Reason.NO_ADDRESS)}
    # security is mandatory: the category opt-out is ignored, the channel opt-out holds
    assert _states(outcome, guarded) == {
        Channel.PUSH: (State.SUPPRESSED, Reason.OPTED_OUT_CHANNEL),
        Channel.EMAIL: (State.QUEUED, None),
        Channel.SMS: (State.QUEUED, None),
    }


def _quiet_around(now: datetime, inside: bool) -> QuietHours:
    minute = now.hour * 60 + now.minute
    start = (minute - 60) % 1440 if inside else (minute + 120) % 1440
    return QuietHours(start_minute=start, end_minute=(start + 180) % 1440, timezone="UTC")


def test_quiet_hours_defer_now_not_later_and_critical_bypasses(pipeline: Pipeline) -> None:
    now = datetime.now(UTC)
    sleeping, awake, alarmed = user("sleep"), user("awake"), user("alarm")
    pipeline.profiles(
        prefs=[
            UserPreferences(sleeping, quiet_hours=_quiet_around(now, inside=True)),
            UserPreferences(awake, quiet_hours=_quiet_around(now, inside=False)),
            UserPreferences(alarmed, quiet_hours=_quiet_around(now, inside=True)),
        ],
        contacts=[reachable(sleeping), reachable(awake), reachable(alarmed)],
    )
    normal = request([sleeping, awake], channels=(Channel.PUSH,))
    critical = request([alarmed], channels=(Channel.PUSH,), priority=Priority.CRITICAL)
    pipeline.publisher.publish_batch([normal, critical])

    outcome = pipeline.outcome([normal, critical], per_user=1)
    deferred = outcome[(sleeping, Channel.PUSH)]
    assert (deferred.state, deferred.reason) == (State.DEFERRED, Reason.QUIET_HOURS)
    assert deferred.detail is not None and "until" in deferred.detail
    assert outcome[(awake, Channel.PUSH)].state == State.QUEUED
    assert outcome[(alarmed, Channel.PUSH)].state == State.QUEUED


def test_the_message_over_the_rate_limit_is_suppressed(pipeline: Pipeline) -> None:
    chatty = user("chatty")
    pipeline.profiles(contacts=[reachable(chatty)])
    requests = [request([chatty], channels=(Channel.SMS,)) for _ in range(4)]  # sms: 3 an hour
    for sent in requests:
        pipeline.publisher.publish(sent)

    outcome = pipeline.outcome(requests, per_user=1)
    mine = [s for s in pipeline.readers[-1].seen if s.user_id == chatty]
    # Requests fan out from their own partitions, so which one comes fourth to the user's
    # partition is not fixed; that exactly one of four goes over the limit of three is.
    assert sorted((s.state, s.reason or "") for s in mine) == [
        (State.QUEUED, ""),
        (State.QUEUED, ""),
        (State.QUEUED, ""),
        (State.SUPPRESSED, Reason.RATE_LIMITED),
    ]
    assert len(outcome) == 1


def test_a_replayed_request_is_suppressed_as_duplicate(pipeline: Pipeline) -> None:
    twice = user("twice")
    pipeline.profiles(contacts=[reachable(twice)])
    sent = request([twice], channels=(Channel.EMAIL,))
    pipeline.publisher.publish(sent)
    pipeline.publisher.publish(sent)

    reader = pipeline.statuses()
    reader.wait_until(lambda seen: len([s for s in seen if s.user_id == twice]) >= 2)
    mine = [(s.state, s.reason) for s in reader.seen if s.user_id == twice]
    assert mine == [(State.QUEUED, None), (State.SUPPRESSED, Reason.DUPLICATE)]


def test_broken_and_unknown_templates_are_suppressed_with_detail(pipeline: Pipeline) -> None:
    someone = user("tmpl")
    pipeline.profiles(contacts=[reachable(someone)])
    broken = request([someone], template="broken")
    unknown = request([someone], template="no_such_template")
    pipeline.publisher.publish_batch([broken, unknown])

    reader = pipeline.statuses()
    reader.wait_until(
        lambda seen: {s.request_id for s in seen} >= {broken.request_id, unknown.request_id}
    )
    for sent in (broken, unknown):
        status = next(s for s in reader.seen if s.request_id == sent.request_id)
        assert (status.state, status.reason) == (State.SUPPRESSED, Reason.TEMPLATE_ERROR)
        assert status.detail


def test_malformed_bytes_and_a_wrong_schema_are_dead_lettered(pipeline: Pipeline) -> None:
    from tests.integration.infra.test_smoke import GREETING

    wrong = pipeline.codec.encode(
        pipeline.codec.register("tests-greeting-value", GREETING),
        {"id": "x", "count": 1, "note": None},
    )
    producer = Producer(pipeline.settings.kafka.client_config())
    producer.produce(
        pipeline.names.requests,
        key=b"bad-1",
        value=b"\x00not avro at all",
        headers=[("traceparent", b"00-trace-01")],
        timestamp=1_700_000_000_123,
    )
    producer.produce(pipeline.names.requests, key=b"bad-2", value=wrong)
    producer.flush(10)
    after = request([user("after")])  # the worker keeps going
    pipeline.publisher.publish(after)

    letters = read_records(pipeline, pipeline.names.dead_letter, 2)
    # different keys, different partitions: either may be dead-lettered first
    assert sorted(value for _, value, _ in letters) == sorted([b"\x00not avro at all", wrong])
    for headers, _, _ in letters:
        assert headers["herald.dlq.topic"] == pipeline.names.requests
        assert headers["herald.dlq.reason"].startswith("CodecError")
        assert int(headers["herald.dlq.offset"]) >= 0
        assert headers["herald.dlq.stage"] == "streams.fan-out"
        assert headers["herald.dlq.exception"] == "CodecError"
    assert pipeline.outcome([after])
    # the record as it came: its own headers and timestamp too
    consumer = Consumer(
        pipeline.settings.kafka.client_config(
            **{"group.id": f"t-{uuid.uuid4().hex}", "enable.auto.commit": False}
        )
    )
    try:
        [first] = [
            d
            for d in deadletter.read_all(consumer, pipeline.names.dead_letter)
            if d.key == b"bad-1"
        ]
    finally:
        consumer.close()
    assert first.headers == (("traceparent", b"00-trace-01"),)
    assert first.timestamp_ms == 1_700_000_000_123


def test_scheduled_request_waits_in_redis_then_goes_out(pipeline: Pipeline) -> None:
    later = user("later")
    pipeline.profiles(contacts=[reachable(later)])
    sent = request(
        [later], channels=(Channel.PUSH,), send_at=datetime.now(UTC) + timedelta(seconds=3)
    )
    pipeline.publisher.publish(sent)

    reader = pipeline.statuses()
    reader.wait_until(
        lambda seen: any(s.state == State.QUEUED and s.user_id == later for s in seen), timeout_s=45
    )
    mine = [(s.state, s.reason) for s in reader.seen if s.user_id == later]
    assert mine == [(State.DEFERRED, Reason.NOT_DUE), (State.QUEUED, None)]


def test_an_expired_request_gives_expired_statuses(pipeline: Pipeline) -> None:
    gone = user("gone")
    sent = request([gone], expires_at=datetime.now(UTC) - timedelta(seconds=1))
    pipeline.publisher.publish(sent)
    outcome = pipeline.outcome([sent], per_user=1)
    assert outcome[(gone, None)].state == State.EXPIRED


def test_invalid_requests_are_refused_before_publishing(pipeline: Pipeline) -> None:
    from herald.errors import ValidationError

    with pytest.raises(ValidationError, match="recipients"):
        pipeline.publisher.publish(request([]))


def test_dlq_list_shows_dead_letters_and_replay_sends_them_back(pipeline: Pipeline) -> None:
    from typer.testing import CliRunner

    from herald.cli import app

    producer = Producer(pipeline.settings.kafka.client_config())
    producer.produce(pipeline.names.requests, key=b"bad-cli", value=b"\x00\x00\x00\x00\x01junk")
    producer.flush(10)
    before = 0
    for _ in range(40):  # until this test's own letter is there
        current = read_records(pipeline, pipeline.names.dead_letter, 10_000, timeout_s=2)
        if any(value and b"junk" in value for _, value, _ in current):
            before = len(current)
            break
    assert before
    env = {"HERALD_KAFKA__TOPIC_PREFIX": pipeline.settings.kafka.topic_prefix}

    listed = CliRunner().invoke(app, ["dlq", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert f"{pipeline.names.requests}[" in listed.output
    assert "CodecError" in listed.output
    as_json = CliRunner().invoke(app, ["dlq", "list", "--json"], env=env)
    assert as_json.exit_code == 0, as_json.output
    mine = [d for d in json.loads(as_json.stdout) if d["key"] == "bad-cli"]
    assert [(d["topic"], d["size"]) for d in mine] == [(pipeline.names.requests, 9)]
    assert "CodecError" in mine[0]["reason"]

    replayed = CliRunner().invoke(app, ["dlq", "replay", "--offset", "0"], env=env)
    assert replayed.exit_code == 0, replayed.output
    assert "replayed 1 dead letter(s)" in replayed.output
    # still malformed, so the worker dead-letters it again: exactly one more on the topic
    letters = read_records(pipeline, pipeline.names.dead_letter, before + 1, timeout_s=20)
    assert len(letters) == before + 1
    assert letters[-1][1] == letters[0][1]  # the original bytes, untouched


def test_an_invalid_profile_is_dead_lettered_and_the_valid_one_stays(pipeline: Pipeline) -> None:
    """Published past the SDK's checks (a stock producer would): the worker applies them."""
    import time

    from herald.contracts import CONTACTS, PREFERENCES, TopicCodec
    from herald.publisher import producer_config

    bea = user("bea")
    pipeline.profiles(contacts=[reachable(bea)])
    bad_phone = "0800 CALL BEA"
    names = pipeline.names
    producer = Producer(producer_config(pipeline.settings))
    contacts = TopicCodec(pipeline.codec, names.user_contacts, CONTACTS)
    prefs = TopicCodec(pipeline.codec, names.user_preferences, PREFERENCES)
    bad_zone = UserPreferences(bea, quiet_hours=QuietHours(0, 1439, "Mars/Olympus"))
    producer.produce(
        names.user_contacts,
        key=bea.encode(),
        value=contacts.encode(dataclasses.replace(reachable(bea), phone=bad_phone)),
    )
    producer.produce(names.user_preferences, key=bea.encode(), value=prefs.encode(bad_zone))
    assert producer.flush(10) == 0

    deadline, reasons = time.monotonic() + 30, {}
    while len(reasons) < 2 and time.monotonic() < deadline:
        consumer = Consumer(
            pipeline.settings.kafka.client_config(
                **{"group.id": f"t-{uuid.uuid4().hex}", "enable.auto.commit": False}
            )
        )
        try:
            for letter in deadletter.read_all(consumer, names.dead_letter):
                if letter.key == bea.encode():
                    reasons[letter.topic] = letter.reason
        finally:
            consumer.close()
    assert reasons == {
        names.user_contacts: "ValidationError: phone: is not a phone number with its country "
        "code (+ and digits)",
        names.user_preferences: "ValidationError: quiet_hours.timezone: is not an IANA time "
        "zone name",
    }
    # the profile bea had still holds: no quiet hours, and the phone she gave before
    sent = request([bea], channels=(Channel.SMS,))
    pipeline.publisher.publish(sent)
    assert _states(pipeline.outcome([sent], per_user=1), bea) == {Channel.SMS: (State.QUEUED, None)}
    sms = read_records(pipeline, names.channel("sms"), 10_000, timeout_s=5)
    assert [r["address"] for _, _, r in sms if r and r["user_id"] == bea] == [reachable(bea).phone]
