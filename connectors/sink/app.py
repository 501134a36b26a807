"""Wiring the sink worker from settings: the clients it needs, signals, start and close."""

from __future__ import annotations

import signal
import threading
from types import FrameType

from cassandra.cluster import Cluster
from cassandra.policies import ConstantReconnectionPolicy
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from connectors.sink.migrate import keyspace_name, pending
from connectors.sink.store import StatusStore
from connectors.sink.worker import SinkWorker, consumer_config
from herald.cassandra import CASSANDRA_ERRORS, cassandra_cluster
from herald.codec import AvroCodec
from herald.contracts import STATUS, TopicCodec
from herald.errors import CassandraOutage, ConfigurationError
from herald.metrics import SinkMetrics
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
    wanted = {names.status, names.dead_letter}
    specs = pipeline_topics(names, settings.pipeline.partitions)
    ensure_topics(
        AdminClient(settings.kafka.client_config()), [s for s in specs if s.name in wanted]
    )


def run_sink(settings: HeraldSettings, metrics: SinkMetrics | None = None) -> int:
    """Run until SIGTERM or SIGINT, counting into ``metrics`` (serve its registry to expose
    them); returns the status events written."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
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
            worker = SinkWorker(
                settings.sink,
                names,
                Consumer(consumer_config(settings)),
                Producer(producer_config(settings)),
                TopicCodec(codec, names.status, STATUS),
                store,
                stop,
                metrics or SinkMetrics(),
            )
            worker.run()
        return worker.written
    finally:
        cluster.shutdown()
