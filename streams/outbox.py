"""Everything the stream processors emit, encoded in the Confluent wire format."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import faust
from aiokafka.errors import KafkaError

from herald import deadletter
from herald.codec import AvroCodec
from herald.contracts import CHANNEL_MESSAGE, CONTACTS, STATUS, USER_NOTIFICATION, TopicCodec
from herald.errors import Boundary, KafkaOutage
from herald.models import (
    Channel,
    ChannelMessage,
    DeliveryStatus,
    State,
    UserContacts,
    UserNotification,
)
from herald.topics import TopicNames
from streams.batches import BatchProducer, Record

log = logging.getLogger(__name__)
# Faust's producer (aiokafka) failing to take a record: the broker, not the event.
FAUST_SENDS = Boundary(KafkaOutage, (KafkaError, OSError))


def raw_topic(app: faust.App, name: str, partitions: int | None = None) -> Any:
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )


def aiokafka_producer(app: faust.App) -> Any:
    """The aiokafka producer under Faust's (Faust has no public accessor for it)."""
    return cast(Any, app.producer)._ensure_producer()


@dataclass
class _Pending:
    flush_every: int
    records: list[Record] = field(default_factory=list)


# Per task: the fan-out and the decide agents share one Outbox and batch independently.
_PENDING: ContextVar[_Pending | None] = ContextVar("herald_outbox_pending", default=None)


class Outbox:
    def __init__(self, app: faust.App, codec: AvroCodec, names: TopicNames) -> None:
        self._app = app
        self._crash: asyncio.Future[None] | None = None
        self._per_user = raw_topic(app, names.per_user)
        self._status = raw_topic(app, names.status)
        self._dead = raw_topic(app, names.dead_letter)
        self._contacts = raw_topic(app, names.user_contacts)
        self._contacts_codec = TopicCodec(codec, names.user_contacts, CONTACTS)
        self._channels = {c: raw_topic(app, names.channel(c.value)) for c in Channel}
        self._per_user_codec = TopicCodec(codec, names.per_user, USER_NOTIFICATION)
        self._status_codec = TopicCodec(codec, names.status, STATUS)
        self._channel_codecs = {
            c: TopicCodec(codec, names.channel(c.value), CHANNEL_MESSAGE) for c in Channel
        }
        self._batches = BatchProducer(lambda: aiokafka_producer(app))

    @asynccontextmanager
    async def batched(self, flush_every: int) -> AsyncIterator[None]:
        """Messages, statuses and per-user records emitted by this task inside the block are
        produced a batch at a time (at most ``flush_every`` held back), all of them before the
        block ends. Dead letters and re-released deferrals still go one by one."""
        token = _PENDING.set(_Pending(flush_every))
        try:
            yield
        finally:  # also on the way out of a crash: what was decided before it still goes out
            pending = _PENDING.get()
            _PENDING.reset(token)
            if pending is not None:
                await self._produce(pending.records)

    @FAUST_SENDS
    async def _emit(self, topic: Any, key: bytes, value: bytes) -> None:
        pending = _PENDING.get()
        if pending is None:
            self._watch(await topic.send(key=key, value=value))
            return
        pending.records.append((topic.get_topic_name(), key, value))
        if len(pending.records) >= pending.flush_every:
            records, pending.records = pending.records, []
            await self._produce(records)

    @FAUST_SENDS
    async def _produce(self, records: list[Record]) -> None:
        for delivery in await self._batches.send(records):
            self._watch(delivery)

    def _watch(self, delivery: Any) -> Any:
        """A failed delivery crashes the worker: its offsets are not committed past it, so the
        events are processed again after a restart. Only the topic is logged (the record
        holds addresses); Faust's own log line for it is silenced by the worker command."""
        delivery.add_done_callback(self._delivered)
        return delivery

    def _delivered(self, delivery: Any) -> None:
        if delivery.cancelled() or delivery.exception() is None:
            return
        error = delivery.exception()
        log.error("a record could not be delivered: %s", type(error).__name__)
        self._crash = asyncio.ensure_future(self._app.crash(error))

    def encode_per_user(self, note: UserNotification) -> bytes:
        return self._per_user_codec.encode(note)

    async def per_user(self, note: UserNotification) -> None:
        await self._emit(self._per_user, note.user_id.encode(), self.encode_per_user(note))

    @FAUST_SENDS
    async def per_user_raw(self, user_id: str, payload: bytes) -> Any:
        """Returns a future that resolves once the broker confirmed the record."""
        return self._watch(await self._per_user.send(key=user_id.encode(), value=payload))

    async def message(self, message: ChannelMessage) -> None:
        value = self._channel_codecs[message.channel].encode(message)
        await self._emit(self._channels[message.channel], message.user_id.encode(), value)

    @FAUST_SENDS
    async def contacts(self, contacts: UserContacts) -> bytes:
        """Publish a user's updated contacts; returns them encoded (as the table keeps them)."""
        value = self._contacts_codec.encode(contacts)
        self._watch(await self._contacts.send(key=contacts.user_id.encode(), value=value))
        return value

    async def status(
        self,
        note: UserNotification,
        state: State,
        now: datetime,
        *,
        channel: Channel | None = None,
        reason: str | None = None,
        detail: str | None = None,
    ) -> None:
        status = DeliveryStatus.of(note, state, now, channel=channel, reason=reason, detail=detail)
        await self._emit(
            self._status, note.notification_id.encode(), self._status_codec.encode(status)
        )

    @FAUST_SENDS
    async def dead_letter(
        self, source: deadletter.Source, reason: str, stage: str, error: str, now: datetime
    ) -> None:
        dead = deadletter.letter(source, reason, stage, error, now)
        stamp = None if dead.timestamp_ms is None else dead.timestamp_ms / 1000
        self._watch(
            await self._dead.send(
                key=dead.key, value=dead.value, headers=dead.headers, timestamp=stamp
            )
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
