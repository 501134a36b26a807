"""Wiring the sink worker from settings: the clients it needs, its opening and closing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from cassandra.cluster import Cluster
from cassandra.policies import ConstantReconnectionPolicy
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from connectors.sink.store import StatusStore
from connectors.sink.worker import ProfileTopic, SinkWorker, consumer_config
from herald.cassandra import CASSANDRA_ERRORS, cassandra_cluster
from herald.codec import AvroCodec
from herald.contracts import CONTACTS, PREFERENCES, STATUS, TopicCodec
from herald.errors import CassandraOutage, ConfigurationError
from herald.lifecycle import Stop
from herald.metrics import SinkMetrics
from herald.migrate import keyspace_name, pending
from herald.profile_store import ProfileKind, ProfileStore
from herald.profiles import check_contacts, check_preferences
from herald.publisher import producer_config
from herald.settings import HeraldSettings
from herald.topics import TopicNames, ensure_topics, pipeline_topics


def sink_cluster(settings: HeraldSettings) -> Cluster:
    """Reconnects every second while Cassandra is away (the driver's default backs off to
    ten minutes), so the sink catches up as soon as it is back."""
    return cassandra_cluster(
        settings.cassandra, reconnection_policy=ConstantReconnectionPolicy(1.0, None)
    )


def ensure_sink_topics(settings: HeraldSettings) -> None:
    names = TopicNames(settings.kafka.topic_prefix)
    wanted = {names.status, names.dead_letter, names.user_preferences, names.user_contacts}
    specs = pipeline_topics(names, settings.pipeline.partitions)
    ensure_topics(
        AdminClient(settings.kafka.client_config()), [s for s in specs if s.name in wanted]
    )


def profile_topics(codec: AvroCodec, names: TopicNames) -> list[ProfileTopic]:
    return [
        ProfileTopic(
            TopicCodec(codec, names.user_preferences, PREFERENCES),
            ProfileKind.PREFERENCES,
            check_preferences,
        ),
        ProfileTopic(
            TopicCodec(codec, names.user_contacts, CONTACTS),
            ProfileKind.CONTACTS,
            partial(check_contacts, strict=True),
        ),
    ]


@asynccontextmanager
async def open_sink(
    settings: HeraldSettings, stop: Stop, metrics: SinkMetrics | None = None
) -> AsyncIterator[SinkWorker]:
    """The sink worker, subscribed, counting into ``metrics`` (serve its registry to expose
    them); ``stop`` also ends the waits between retries of a batch. Closing flushes its dead
    letters, leaves the group and disconnects from Cassandra."""
    ensure_sink_topics(settings)
    names = TopicNames(settings.kafka.topic_prefix)
    cluster = sink_cluster(settings)
    try:
        session = cluster.connect()
    except CASSANDRA_ERRORS as exc:
        raise CassandraOutage(f"connecting to Cassandra: {exc}") from exc
    try:
        missing = pending(session, settings.cassandra)
        if missing:
            raise ConfigurationError(
                f"keyspace {settings.cassandra.keyspace} lacks migrations {missing}: "
                "run `herald db migrate`"
            )
        store = StatusStore(session, keyspace_name(settings.cassandra), settings.sink.concurrency)
        with AvroCodec.from_settings(settings.registry) as codec:
            consumer = Consumer(consumer_config(settings))
            producer = Producer(producer_config(settings))
            worker = SinkWorker(
                settings.sink,
                names,
                consumer,
                producer,
                TopicCodec(codec, names.status, STATUS),
                store,
                stop,
                metrics or SinkMetrics(),
                ProfileStore(session, keyspace_name(settings.cassandra)),
                profile_topics(codec, names),
            )
            worker.subscribe()
            try:
                yield worker
            finally:
                producer.flush(10)
                consumer.close()
    finally:
        cluster.shutdown()
