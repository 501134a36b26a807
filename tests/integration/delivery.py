"""Sender workers on their own topic prefix against the provider sandboxes, and helpers to
publish channel messages and wait for their outcomes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from herald.codec import AvroCodec
from herald.contracts import CHANNEL_MESSAGE, TopicCodec
from herald.deadletter import DeadLetter, read_all
from herald.models import Channel, ChannelMessage, DeliveryStatus, Platform, Priority, State
from herald.publisher import producer_config
from herald.settings import HeraldSettings
from herald.topics import TopicNames, ensure_topics, pipeline_topics
from lab.statuses import StatusReader
from lab.workers import WorkerProcess

TERMINAL = frozenset({State.SENT, State.FAILED, State.DEAD_LETTERED, State.UNKNOWN})

# Quick retries and quickly stale claims, so failure paths play out in seconds.
FAST: dict[str, dict[str, object]] = {
    "delivery": {"backoff_base_s": 0.2, "backoff_max_s": 1, "in_flight_stale_s": 4, "poll_s": 0.2},
    "pipeline": {"session_timeout_s": 6},
}


def message(
    channel: Channel, address: str, platform: Platform | None = None, **fields: object
) -> ChannelMessage:
    values: dict[str, object] = {
        "notification_id": uuid.uuid4().hex,
        "request_id": f"req-{uuid.uuid4().hex[:8]}",
        "user_id": f"u-{uuid.uuid4().hex[:8]}",
        "channel": channel,
        "address": address,
        "platform": platform,
        "title": "Your order shipped",
        "body": "Order 42 is on its way.",
        "category": "transactional",
        "priority": Priority.NORMAL,
    }
    values.update(fields)
    return ChannelMessage(**values)  # type: ignore[arg-type]


@dataclass
class Delivery:
    settings: HeraldSettings
    names: TopicNames
    codec: AvroCodec
    producer: Producer
    workdir: Path
    workers: list[WorkerProcess] = field(default_factory=list)
    readers: list[StatusReader] = field(default_factory=list)

    def sender(self, channel: Channel, **sections: dict[str, object]) -> WorkerProcess:
        """Start a sender worker of ``channel``, with some settings changed (``updated``)."""
        worker = WorkerProcess(
            "sender",
            self.settings.updated(**sections),
            self.workdir / f"sender-{channel.value}.log",
            args=("--channel", channel.value),
        )
        self.workers.append(worker)
        return worker.start()

    def publish(self, messages: Iterable[ChannelMessage]) -> list[ChannelMessage]:
        batch = list(messages)
        for item in batch:
            codec = TopicCodec(self.codec, self.names.channel(item.channel.value), CHANNEL_MESSAGE)
            self.producer.produce(codec.topic, key=item.user_id.encode(), value=codec.encode(item))
        assert self.producer.flush(30) == 0
        return batch

    def publish_raw(self, channel: Channel, value: bytes) -> None:
        self.producer.produce(self.names.channel(channel.value), key=b"junk", value=value)
        assert self.producer.flush(30) == 0

    def statuses(self) -> StatusReader:
        reader = StatusReader(self.settings, self.codec)
        self.readers.append(reader)
        return reader

    def outcomes(
        self, messages: Iterable[ChannelMessage], timeout_s: float = 60
    ) -> dict[str, DeliveryStatus]:
        """Wait until each message has a terminal status; the first one of each."""
        ids = {m.notification_id for m in messages}
        reader = self.statuses()

        def done(seen: list[DeliveryStatus]) -> bool:
            return ids <= {s.notification_id for s in seen if s.state in TERMINAL}

        reader.wait_until(done, timeout_s)
        return first_terminal(reader.seen, ids)


def first_terminal(seen: list[DeliveryStatus], ids: set[str]) -> dict[str, DeliveryStatus]:
    found: dict[str, DeliveryStatus] = {}
    for status in seen:
        if status.notification_id in ids and status.state in TERMINAL:
            found.setdefault(status.notification_id, status)
    return found


def of(seen: list[DeliveryStatus], notification_id: str) -> list[DeliveryStatus]:
    return [s for s in seen if s.notification_id == notification_id]


@contextmanager
def running_delivery(
    sandboxed: HeraldSettings, workdir: Path, prefix: str | None = None
) -> Iterator[Delivery]:
    """Topics under a fresh prefix (or ``prefix``), sender workers started on demand; all of it
    (workers, topics, Redis keys) removed at the end."""
    own_prefix = prefix is None
    prefix = prefix or f"d{uuid.uuid4().hex[:8]}."
    settings = sandboxed.with_prefix(prefix).updated(**FAST)
    names = TopicNames(prefix)
    admin = AdminClient(settings.kafka.client_config())
    ensure_topics(admin, pipeline_topics(names, settings.pipeline.partitions))
    with ExitStack() as cleanup:
        if own_prefix:
            cleanup.callback(_delete_topics, admin, names)
        cleanup.callback(_delete_keys, settings, names)
        codec = cleanup.enter_context(AvroCodec.from_settings(settings.registry))
        producer = Producer(producer_config(settings))
        delivery = Delivery(settings, names, codec, producer, workdir)
        cleanup.callback(_stop, delivery)
        yield delivery


def _stop(delivery: Delivery) -> None:
    for worker in delivery.workers:
        worker.stop()
    for reader in delivery.readers:
        reader.close()


def _delete_topics(admin: AdminClient, names: TopicNames) -> None:
    ours = [t for t in admin.list_topics(timeout=10).topics if t.startswith(names.prefix)]
    if ours:
        for future in admin.delete_topics(ours, operation_timeout=30).values():
            future.result(timeout=30)


def _delete_keys(settings: HeraldSettings, names: TopicNames) -> None:
    client = redis.Redis.from_url(settings.redis.url.get_secret_value())
    keys = list(client.scan_iter(match=f"{names.prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def dead_letters(delivery: Delivery) -> list[DeadLetter]:
    consumer = Consumer(
        delivery.settings.kafka.client_config(
            **{"group.id": f"test-dlq-{uuid.uuid4().hex}", "enable.partition.eof": True}
        )
    )
    try:
        return list(read_all(consumer, delivery.names.dead_letter))
    finally:
        consumer.close()
