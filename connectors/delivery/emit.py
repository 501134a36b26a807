"""What a sender worker produces: statuses, address invalidations and dead letters, through
one idempotent confluent-kafka producer. ``confirm`` waits until the broker acknowledged all of
it; only then may the worker commit the offsets of what led to them."""

from __future__ import annotations

import asyncio
from datetime import datetime

from confluent_kafka import KafkaError, Message, Producer

from connectors.delivery.ledger import Outcome
from herald import deadletter
from herald.codec import AvroCodec
from herald.contracts import INVALIDATION, STATUS, TopicCodec
from herald.errors import KafkaOutage
from herald.kafka import KAFKA
from herald.models import AddressInvalidated, ChannelMessage, DeliveryStatus
from herald.topics import TopicNames

KafkaHeaders = list[tuple[str, str | bytes | None]]
# What differs between a round's statuses; the rest (request, channel, state, provider,
# reason, attempt) repeats and is encoded once (herald.encoders).
STATUS_VARIES = ("notification_id", "user_id", "detail", "provider_message_id", "occurred_at")


class EmitError(KafkaOutage):
    """The broker did not acknowledge what the worker produced: nothing is committed."""


class Emitter:
    def __init__(
        self,
        producer: Producer,
        codec: AvroCodec,
        names: TopicNames,
        stage: str,
        timeout_s: float = 30.0,
    ) -> None:
        self._producer = producer
        self._stage = stage  # in dead letters: who gave up on a record
        self._timeout_s = timeout_s
        self._dead_letter_topic = names.dead_letter
        self._status_topic = names.status
        self._status = TopicCodec(codec, names.status, STATUS).repeating(STATUS_VARIES)
        self._invalidations = TopicCodec(codec, names.address_invalidations, INVALIDATION)
        self._failures: list[str] = []

    def status(self, message: ChannelMessage, outcome: Outcome, now: datetime) -> None:
        status = DeliveryStatus.of(
            message,
            outcome.state,
            now,
            channel=message.channel,
            reason=outcome.reason,
            detail=outcome.detail,
            provider=outcome.provider,
            provider_message_id=outcome.provider_message_id,
            attempt=outcome.attempt,
        )
        self._produce(self._status_topic, message.notification_id, self._status.encode(status))

    def invalidated(self, message: ChannelMessage, provider: str, code: str, now: datetime) -> None:
        record = AddressInvalidated(
            user_id=message.user_id,
            channel=message.channel,
            address=message.address,
            provider=provider,
            reason=code,
            occurred_at=now,
            notification_id=message.notification_id,
        )
        self._produce(
            self._invalidations.topic, message.user_id, self._invalidations.encode(record)
        )

    def dead_letter(
        self, source: deadletter.Source, reason: str, error: str, now: datetime
    ) -> None:
        """The record as it came (from the channel topic, or the retry set)."""
        dead = deadletter.letter(source, reason, self._stage, error, now)
        self._send(self._dead_letter_topic, dead.key, dead.value, dead.headers, dead.timestamp_ms)

    def _produce(self, topic: str, key: str, value: bytes) -> None:
        self._send(topic, key.encode(), value, None)

    @KAFKA
    def _send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: KafkaHeaders | None,
        timestamp_ms: int | None = None,
    ) -> None:
        while True:
            try:
                self._producer.produce(
                    topic,
                    key=key,
                    value=value,
                    headers=headers,
                    on_delivery=self._delivered,
                    timestamp=timestamp_ms or 0,  # 0: now
                )
                return
            except BufferError:  # the local queue is full: let deliveries drain
                self._producer.poll(0.1)

    def _delivered(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:  # the topic only: the record holds addresses
            self._failures.append(f"{message.topic()}: {error.str()}")

    async def confirm(self) -> None:
        """Return once the broker acknowledged everything produced so far."""
        remaining = await asyncio.to_thread(self._producer.flush, self._timeout_s)
        failures, self._failures = self._failures, []
        if remaining > 0:
            raise EmitError(f"{remaining} record(s) not acknowledged in {self._timeout_s:.0f}s")
        if failures:
            raise EmitError(f"{len(failures)} record(s) refused: {'; '.join(failures[:3])}")
