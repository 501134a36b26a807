"""The status sink through the real services: statuses on a status topic -> rows in Cassandra."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cassandra.cluster import Session
from confluent_kafka import Consumer, Producer

from connectors.sink.app import ensure_sink_topics
from herald import deadletter
from herald.codec import AvroCodec
from herald.contracts import CONTACTS, PREFERENCES, STATUS, TopicCodec, load_schema, subject
from herald.history import recent_for_user, timeline
from herald.migrate import load, migrate, pending
from herald.models import Channel, DeliveryStatus, State, UserContacts, UserPreferences
from herald.profile_store import ProfileStore
from herald.publisher import producer_config
from herald.settings import HeraldSettings
from herald.topics import TopicNames
from infra.stack.launcher import Stack
from lab.offsets import wait_caught_up
from lab.workers import WorkerProcess
from tests.integration.conftest import unique


class Sink:
    def __init__(self, settings: HeraldSettings, worker: WorkerProcess, codec: AvroCodec) -> None:
        self.settings = settings
        self.worker = worker
        self.names = TopicNames(settings.kafka.topic_prefix)
        self.keyspace = settings.cassandra.keyspace
        self.avro = codec
        self.codec = TopicCodec(codec, self.names.status, STATUS)
        self.producer = Producer(producer_config(settings))

    def produce(self, statuses: list[DeliveryStatus], raw: Sequence[bytes] = ()) -> None:
        for status in statuses:
            self.producer.produce(
                self.names.status,
                key=status.notification_id.encode(),
                value=self.codec.encode(status),
            )
            self.producer.poll(0)
        for value in raw:
            self.producer.produce(self.names.status, key=b"bad", value=value)
        assert self.producer.flush(30) == 0

    def dead_letters(self) -> list[deadletter.DeadLetter]:
        consumer = Consumer(
            self.settings.kafka.client_config(
                **{"group.id": unique("dlq"), "enable.auto.commit": False}
            )
        )
        try:
            return list(deadletter.read_all(consumer, self.names.dead_letter))
        finally:
            consumer.close()

    def caught_up(self, timeout_s: float = 120) -> None:
        group = f"{self.settings.kafka.topic_prefix}status-sink"
        wait_caught_up(self.settings, group, [self.names.status], timeout_s)


@pytest.fixture(scope="module")
def sink(
    stack: HeraldSettings, cql: Session, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sink]:
    keyspace = unique("herald_test_sink")
    settings = stack.with_prefix(f"{unique('herald-test.sink')}.").model_copy(
        update={"cassandra": stack.cassandra.model_copy(update={"keyspace": keyspace})}
    )
    migrate(cql, settings.cassandra)
    ensure_sink_topics(settings)
    workdir = tmp_path_factory.mktemp("sink")
    # A short registry time-out, so that a paused registry fails the sink's requests (its
    # client retries three times) well within the pause of the registry test below.
    worker_settings = settings.updated(registry={"timeout_s": 2})
    try:
        with (
            AvroCodec.from_settings(settings.registry) as codec,
            WorkerProcess("sink", worker_settings, workdir / "sink.log") as worker,
        ):
            yield Sink(settings, worker, codec)
    finally:
        cql.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)
        names = TopicNames(settings.kafka.topic_prefix)
        from confluent_kafka.admin import AdminClient

        AdminClient(settings.kafka.client_config()).delete_topics(
            [names.status, names.dead_letter, names.user_preferences, names.user_contacts]
        )


def status(
    notification_id: str, user_id: str, state: State, at: datetime, **fields: object
) -> DeliveryStatus:
    values: dict[str, object] = {
        "notification_id": notification_id,
        "request_id": f"req-{notification_id}",
        "user_id": user_id,
        "state": state,
        "occurred_at": at,
        "channel": Channel.PUSH,
    }
    values.update(fields)
    return DeliveryStatus(**values)  # type: ignore[arg-type]


def test_migrations_are_applied_once(cql: Session, keyspace: str, stack: HeraldSettings) -> None:
    settings = stack.cassandra.model_copy(update={"keyspace": keyspace})
    every = [m.name for m in load()]
    assert every[:4] == [
        "0001_status_tables",
        "0002_api_keys",
        "0003_request_outcomes",
        "0004_user_profiles",
    ]
    assert pending(cql, settings) == every
    assert migrate(cql, settings) == every
    assert migrate(cql, settings) == []
    assert pending(cql, settings) == []
    recorded = list(cql.execute(f"SELECT version, name FROM {keyspace}.schema_migrations"))
    assert sorted((r.version, r.name) for r in recorded) == [(n[:4], n) for n in every]
    tables = set(cql.cluster.metadata.keyspaces[keyspace].tables)
    assert {
        "notification_status",
        "user_notifications",
        "request_outcomes",
        "user_profiles",
        "api_keys",
    } <= tables


def test_statuses_become_rows_in_both_tables(sink: Sink, cql: Session) -> None:
    user, first, second = (
        f"u-{uuid.uuid4().hex[:8]}",
        f"n-{uuid.uuid4().hex}",
        f"n-{uuid.uuid4().hex}",
    )
    now = datetime.now(UTC).replace(microsecond=0)
    events = [
        status(first, user, State.QUEUED, now),
        status(
            first,
            user,
            State.SENT,
            now + timedelta(seconds=1),
            provider="fcm",
            provider_message_id="m-1",
            attempt=1,
            tenant="acme",
        ),
        status(
            second,
            user,
            State.EXPIRED,
            now + timedelta(seconds=2),
            channel=None,
            reason="expired",
            detail="too late",
        ),
    ]
    sink.produce(events)
    sink.caught_up()
    rows = timeline(cql, sink.keyspace, first)
    assert [(r.state, r.occurred_at, r.attempt) for r in rows] == [
        (State.QUEUED, now, 0),
        (State.SENT, now + timedelta(seconds=1), 1),
    ]
    sent = rows[1]
    assert (sent.provider, sent.provider_message_id, sent.tenant, sent.channel) == (
        "fcm",
        "m-1",
        "acme",
        Channel.PUSH,
    )
    assert (sent.user_id, sent.request_id, sent.reason, sent.detail) == (
        user,
        f"req-{first}",
        None,
        None,
    )
    expired = timeline(cql, sink.keyspace, second)
    assert [(r.state, r.channel, r.reason, r.detail) for r in expired] == [
        (State.EXPIRED, None, "expired", "too late")
    ]
    recent = recent_for_user(cql, sink.keyspace, user, days=2, now=now + timedelta(seconds=3))
    assert [(r.notification_id, r.state) for r in recent] == [
        (second, State.EXPIRED),
        (first, State.SENT),
        (first, State.QUEUED),
    ]


def test_redelivered_statuses_write_the_same_rows(sink: Sink, cql: Session) -> None:
    user = f"u-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    events = [
        status(f"n-{uuid.uuid4().hex}", user, State.SENT, now + timedelta(milliseconds=i))
        for i in range(20)
    ]
    sink.produce(events)
    sink.produce(events)
    sink.caught_up()
    assert len(recent_for_user(cql, sink.keyspace, user, now=now)) == 20
    assert all(len(timeline(cql, sink.keyspace, e.notification_id)) == 1 for e in events)


def test_malformed_record_goes_to_dead_letter_and_the_rest_is_written(
    sink: Sink, cql: Session
) -> None:
    user = f"u-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    good = [
        status(f"n-{uuid.uuid4().hex}", user, State.QUEUED, now + timedelta(milliseconds=i))
        for i in range(5)
    ]
    sink.produce(good[:2], raw=[b"not avro at all"])
    sink.produce(good[2:])
    sink.caught_up()
    assert len(recent_for_user(cql, sink.keyspace, user, now=now)) == 5
    letters = sink.dead_letters()
    assert [(d.value, d.topic, d.key) for d in letters] == [
        (b"not avro at all", sink.names.status, b"bad")
    ]
    assert (letters[0].stage, letters[0].exception) == ("sink", "CodecError")
    assert "Confluent wire format" in letters[0].reason or "magic" in letters[0].reason


def _cassandra_pid(settings: HeraldSettings) -> int:
    stack = Stack(settings)
    pid = stack.pid(stack.plans["cassandra"])
    if pid is None:
        pytest.skip("Cassandra is not the local stack's process (cannot pause it)")
    return pid


def test_cassandra_paused_for_30s_under_load_loses_nothing(sink: Sink, cql: Session) -> None:
    pid = _cassandra_pid(sink.settings)
    user_prefix = f"p-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    events = [
        status(
            f"{user_prefix}-n{i}",
            f"{user_prefix}-u{i % 50}",
            State.SENT,
            now + timedelta(milliseconds=i),
        )
        for i in range(6000)
    ]
    log_size = sink.worker.log_file.stat().st_size
    sink.produce(events[:1000])
    os.kill(pid, signal.SIGSTOP)
    paused = time.monotonic()
    try:
        for start in range(1000, 6000, 500):  # the load keeps coming while Cassandra is away
            sink.produce(events[start : start + 500])
            time.sleep(2)
        time.sleep(max(0.0, paused + 30 - time.monotonic()))
    finally:
        os.kill(pid, signal.SIGCONT)
    sink.caught_up(timeout_s=240)
    log = sink.worker.log_file.read_bytes()[log_size:].decode(errors="replace")
    assert "retrying the same batch" in log
    assert sink.worker.process is not None and sink.worker.process.poll() is None
    users = {e.user_id for e in events}
    found = sum(
        len(recent_for_user(cql, sink.keyspace, u, days=2, now=now, limit=10_000)) for u in users
    )
    assert found == len(events)
    missing = [e for e in events[::97] if len(timeline(cql, sink.keyspace, e.notification_id)) != 1]
    assert missing == []


def test_registry_paused_while_new_schema_ids_arrive_dead_letters_nothing(
    sink: Sink, cql: Session
) -> None:
    """Statuses written with a schema version the sink has never seen: it must fetch it, and
    cannot while the registry is stopped. That is an outage, not a bad record."""
    stack = Stack(sink.settings)
    pid = stack.pid(stack.plans["registry"])
    if pid is None:
        pytest.skip("the registry is not the local stack's process (cannot pause it)")
    evolved = load_schema(STATUS.file_name) | {
        "fields": [
            *load_schema(STATUS.file_name)["fields"],
            {"name": "test_extra", "type": ["null", "string"], "default": None},
        ]
    }
    with AvroCodec.from_settings(sink.settings.registry) as writer:
        new_id = writer.register(subject(sink.names.status), evolved)
        assert new_id != sink.codec.schema_id
        user = f"r-{uuid.uuid4().hex[:8]}"
        now = datetime.now(UTC)
        events = [
            status(f"n-{uuid.uuid4().hex}", user, State.SENT, now + timedelta(milliseconds=i))
            for i in range(200)
        ]
        values = [writer.encode(new_id, e.to_record() | {"test_extra": "x"}) for e in events]
    log_size = sink.worker.log_file.stat().st_size
    os.kill(pid, signal.SIGSTOP)
    try:
        for event, value in zip(events, values, strict=True):
            sink.producer.produce(
                sink.names.status, key=event.notification_id.encode(), value=value
            )
        assert sink.producer.flush(30) == 0
        time.sleep(25)  # the sink tries, times out and retries meanwhile
    finally:
        os.kill(pid, signal.SIGCONT)
    sink.caught_up(timeout_s=180)
    log = sink.worker.log_file.read_bytes()[log_size:].decode(errors="replace")
    assert "decoding statuses failed" in log
    assert "RegistryOutage" in log or "schema registry" in log
    assert len(recent_for_user(cql, sink.keyspace, user, now=now, days=2)) == 200
    letters = sink.dead_letters()
    assert not [d for d in letters if d.key in {e.notification_id.encode() for e in events}]


def test_profiles_from_any_producer_are_stored_newest_first_wins(sink: Sink, cql: Session) -> None:
    """What the API's GET reads for profiles it did not write itself: a stock producer's
    records, the newer one kept; an invalid one skipped; a tombstone deletes."""
    names = sink.names
    ann, bo = unique("ann"), unique("bo")
    contacts = TopicCodec(sink.avro, names.user_contacts, CONTACTS)
    prefs = TopicCodec(sink.avro, names.user_preferences, PREFERENCES)
    older, newer = 1_700_000_000_000, 1_700_000_005_000
    produce = sink.producer.produce
    # the newer record first: the older one, arriving after it, must not win
    produce(
        names.user_preferences,
        key=ann,
        value=prefs.encode(UserPreferences(ann, locale="fr")),
        timestamp=newer,
    )
    produce(
        names.user_preferences,
        key=ann,
        value=prefs.encode(UserPreferences(ann, locale="en")),
        timestamp=older,
    )
    good = UserContacts(ann, phone="+12015550123", email="ann@example.com")
    produce(names.user_contacts, key=ann, value=contacts.encode(good), timestamp=older)
    produce(
        names.user_contacts,
        key=ann,
        value=contacts.encode(replace(good, phone="+1 201 555 0123")),
        timestamp=newer,
    )
    produce(
        names.user_contacts, key=bo, value=contacts.encode(UserContacts(bo, email="bo@example.com"))
    )
    produce(names.user_contacts, key=bo, value=None)
    assert sink.producer.flush(30) == 0
    group = f"{sink.settings.kafka.topic_prefix}status-sink"
    wait_caught_up(sink.settings, group, [names.user_preferences, names.user_contacts], 120)

    store = ProfileStore(cql, sink.keyspace)
    stored_prefs = store.get(UserPreferences, ann)
    assert stored_prefs is not None and stored_prefs.profile.locale == "fr"
    assert stored_prefs.updated_at == datetime.fromtimestamp(newer / 1000, UTC)
    stored_contacts = store.get(UserContacts, ann)  # the invalid newer one was skipped
    assert stored_contacts is not None and stored_contacts.profile == good
    assert store.get(UserContacts, bo) is None  # deleted by its tombstone
