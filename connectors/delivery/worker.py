"""The sender worker of one channel: rounds of (Kafka batch + due retries) -> outcomes ->
broker acknowledgements -> offset commit.

A round takes up to ``batch_size`` records (as soon as one is there, plus what arrives within
``linger_s``: ``herald.polling.take``) from ``{prefix}channel.{channel}`` (consumer group
``{prefix}sender-{channel}``, manual commits) and the retries that are due in the Redis set
``{prefix}retry.{channel}``, runs them all concurrently (at most ``in_flight`` provider calls),
waits until the broker acknowledged every status, dead letter and invalidation they produced,
then commits the batch's offsets and removes the retries it took. A worker that dies mid-round
commits nothing: its records come back to whichever worker takes the partitions, and its
claimed retries go back to the set after ``in_flight_stale_s``; the ledger keeps either from
being delivered twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message

from connectors.delivery.deliver import Delivery, Undeliverable
from connectors.delivery.emit import Emitter
from herald.contracts import TopicCodec
from herald.deadletter import Source
from herald.deferred import DeferredStore
from herald.errors import CodecError, OutageError, where
from herald.lag import assigned_lag
from herald.models import ChannelMessage
from herald.polling import take
from herald.settings import HeraldSettings

log = logging.getLogger(__name__)


def consumer_config(settings: HeraldSettings, channel: str) -> dict[str, Any]:
    session_ms = int(settings.pipeline.session_timeout_s * 1000)
    return settings.kafka.client_config(
        **{
            "group.id": f"{settings.kafka.topic_prefix}sender-{channel}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": session_ms,
            "heartbeat.interval.ms": max(session_ms // 3, 100),
        }
    )


class SenderWorker:
    def __init__(
        self,
        consumer: Consumer,
        topic: str,
        delivery: Delivery,
        retries: DeferredStore,
        codec: TopicCodec[ChannelMessage],
        emitter: Emitter,
        *,
        batch_size: int,
        poll_s: float,
        linger_s: float = 0.0,
    ) -> None:
        self._consumer = consumer
        self._topic = topic
        self._delivery = delivery
        self._retries = retries
        self._codec = codec
        self._emit = emitter
        self._batch_size = batch_size
        self._poll_s = poll_s
        self._linger_s = linger_s
        self._assigned = False

    def subscribe(self) -> None:
        self._consumer.subscribe([self._topic], on_assign=self._assigned_to)

    def _assigned_to(self, consumer: Consumer, partitions: list[Any]) -> None:
        self._assigned = True

    @property
    def ready(self) -> bool:
        """It holds partitions of the channel topic (herald.lifecycle)."""
        return self._assigned

    async def round(self) -> int:
        """One round; returns how many records and retries it took."""
        records = await asyncio.to_thread(
            take, self._consumer, self._batch_size, self._poll_s, self._linger_s
        )
        await self._delivery.begin_round()
        now = datetime.now(UTC)
        await self._retries.requeue_stale(now)
        due = await self._retries.claim_due(now, self._batch_size)
        work = [self._record(r) for r in records] + [self._retry(p) for p in due]
        await asyncio.gather(*work)
        await self._emit.confirm()
        if records:
            await asyncio.to_thread(self._consumer.commit, asynchronous=False)
        await self._retries.done(due)
        await self._sample(len(records), len(due))
        return len(records) + len(due)

    async def _sample(self, records: int, retries: int) -> None:
        if not self._delivery.metrics.served:
            return
        await self._delivery.sample_breakers()
        pending = await self._retries.pending()
        self._delivery.metrics.round(records, retries, pending, assigned_lag(self._consumer))

    async def _record(self, record: Message) -> None:
        error = record.error()
        if error is not None:
            if error.fatal():
                raise KafkaException(error)
            if error.code() != KafkaError._PARTITION_EOF:
                log.warning("consuming %s: %s", self._topic, error.str())
            return
        await self._one(Source.of(record))

    async def _retry(self, payload: bytes) -> None:
        await self._one(Source.unplaced(self._retries.key, None, payload))

    async def _one(self, origin: Source) -> None:
        """Decode and deliver one message; a message that cannot be is dead-lettered with its
        reason (the error's type and place, never its text: it may quote an address)."""
        try:
            message = self._codec.decode(origin.value)
        except CodecError as error:
            self._reject(origin, f"CodecError: {error}", error, "undecodable")
            return
        try:
            await self._delivery.handle(message, origin)
        except Undeliverable as error:
            self._reject(origin, str(error), error, "undeliverable")
        except OutageError:
            raise
        except Exception as error:
            log.error("unexpected %s at %s", type(error).__name__, where(error))
            reason = f"unexpected {type(error).__name__} at {where(error)}"
            self._reject(origin, reason, error, "unexpected")

    def _reject(self, origin: Source, reason: str, error: BaseException, kind: str) -> None:
        self._emit.dead_letter(origin, reason, type(error).__name__, datetime.now(UTC))
        self._delivery.metrics.rejected_record(kind)
