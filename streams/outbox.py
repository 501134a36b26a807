"""Everything the stream processors emit, encoded in the Confluent wire format and produced
through librdkafka (streams/producer.py); a batch of events ends with ``confirmed()``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import faust

from herald import deadletter
from herald.codec import AvroCodec
from herald.contracts import CHANNEL_MESSAGE, CONTACTS, REQUEST, STATUS, TopicCodec
from herald.errors import KafkaOutage
from herald.models import (
    Channel,
    ChannelMessage,
    DeliveryStatus,
    NotificationRequest,
    State,
    StatusSubject,
    UserContacts,
)
from herald.topics import TopicNames
from streams.producer import StreamProducer

log = logging.getLogger(__name__)
Crash = Callable[[BaseException], Awaitable[None]]


def raw_topic(app: faust.App, name: str, partitions: int | None = None) -> Any:
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )


# What differs from one recipient of a request to the next; the rest is encoded once (a
# shard's users are decided at one instant, so their statuses share the time).
MESSAGE_VARIES = ("notification_id", "user_id", "address", "platform")
STATUS_VARIES = ("notification_id", "user_id")


class Outbox:
    def __init__(
        self, producer: StreamProducer, codec: AvroCodec, names: TopicNames, crash: Crash
    ) -> None:
        self._producer = producer
        self._crash = crash
        self._crashing: asyncio.Future[None] | None = None
        self._names = names
        self._contacts = TopicCodec(codec, names.user_contacts, CONTACTS)
        self._by_user = TopicCodec(codec, names.per_user, REQUEST)
        self._status_topic = names.status
        self._status = TopicCodec(codec, names.status, STATUS).repeating(STATUS_VARIES)
        self._channels = {
            c: (
                names.channel(c.value),
                TopicCodec(codec, names.channel(c.value), CHANNEL_MESSAGE).repeating(
                    MESSAGE_VARIES
                ),
            )
            for c in Channel
        }

    async def confirmed(self) -> None:
        """Every record emitted so far is on the broker. When one could not be delivered the
        worker crashes: the events behind it are not committed, and come again after a
        restart. Only the error's name is logged (records hold addresses)."""
        try:
            await self._producer.confirmed()
        except KafkaOutage as error:
            log.error("%s", error)
            self._crashing = asyncio.ensure_future(self._crash(error))
            raise

    def encode_shard(self, shard: NotificationRequest) -> bytes:
        return self._by_user.encode(shard)

    def shard(self, partition: int, shard: NotificationRequest) -> None:
        """A request for the recipients of one per-user partition, keyed by the first of them
        (so a replayed dead letter goes back to the same partition)."""
        self.shard_raw(partition, shard.recipients[0], self.encode_shard(shard))

    def shard_raw(self, partition: int, first_user: str, payload: bytes) -> None:
        self._producer.produce(self._names.per_user, first_user.encode(), payload, partition)

    def message(self, message: ChannelMessage) -> None:
        topic, encoder = self._channels[message.channel]
        self._producer.produce(topic, message.user_id.encode(), encoder.encode(message))

    def contacts(self, contacts: UserContacts) -> bytes:
        """Publish a user's updated contacts; returns them encoded (as the table keeps them)."""
        value = self._contacts.encode(contacts)
        self._producer.produce(self._contacts.topic, contacts.user_id.encode(), value)
        return value

    def changelog(self, topic: str, partition: int, key: bytes, value: bytes) -> None:
        self._producer.produce(topic, key, value, partition)

    def status(
        self,
        subject: StatusSubject,
        state: State,
        now: datetime,
        *,
        channel: Channel | None = None,
        reason: str | None = None,
        detail: str | None = None,
    ) -> None:
        status = DeliveryStatus.of(
            subject, state, now, channel=channel, reason=reason, detail=detail
        )
        self._producer.produce(
            self._status_topic, subject.notification_id.encode(), self._status.encode(status)
        )

    def dead_letter(
        self, source: deadletter.Source, reason: str, stage: str, error: str, now: datetime
    ) -> None:
        dead = deadletter.letter(source, reason, stage, error, now)
        self._producer.produce_with_headers(
            self._names.dead_letter, dead.key, dead.value, dead.headers, dead.timestamp_ms
        )


def source_of(event: Any) -> deadletter.Source:
    """The record behind a Faust event, for its dead letter."""
    message = event.message
    return deadletter.Source(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=event.key,
        value=event.value,
        headers=tuple(deadletter.header_pairs(message.headers)),
        timestamp_ms=None if message.timestamp is None else round(message.timestamp * 1000),
    )
