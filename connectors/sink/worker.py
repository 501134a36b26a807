"""`herald worker sink`: ``{prefix}status`` into Cassandra, at least once, in bounded memory.

One batch at a time: take up to ``sink.batch_size`` records (as soon as one is there, plus
what arrives within ``sink.linger_s``: ``herald.polling.take``), decode them (the undecodable go
to the dead-letter topic), write a row per status in each history table with
``sink.concurrency`` writes in flight, and commit the batch's offsets only once every row is
written. While Cassandra (or the registry, or the broker for dead letters) fails, the same
batch is retried with capped backoff and nothing more is polled; a redelivered record
rewrites the same rows.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from cassandra.query import BoundStatement
from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition

from connectors.sink.rows import to_row
from connectors.sink.store import (
    SinkUnavailable,
    StatusStore,
    Write,
    request_kinds,
)
from herald import deadletter
from herald.contracts import TopicCodec
from herald.errors import CodecError, HeraldError, KafkaOutage, OutageError, RecordError
from herald.history import REQUEST_TABLE, STATUS_TABLE, USER_TABLE, StatusRow
from herald.lag import assigned_lag
from herald.lifecycle import Stop
from herald.metrics import SinkMetrics
from herald.models import DeliveryStatus
from herald.polling import take
from herald.profile_store import PROFILE_TABLE, ProfileKind, ProfileStore
from herald.settings import HeraldSettings, SinkSettings
from herald.topics import TopicNames

log = logging.getLogger("herald.sink")
T = TypeVar("T")


class Stopped(HeraldError):
    """The worker was asked to stop while a batch was still being retried."""


class DeadLetterUnconfirmed(KafkaOutage):
    """The broker did not confirm every dead letter yet."""


def backoff_s(attempt: int, cap_s: float, base_s: float = 0.5) -> float:
    """Seconds before retry ``attempt`` (0-based): doubling from ``base_s``, capped."""
    return float(min(cap_s, base_s * 2 ** min(attempt, 30)))


def next_offsets(positions: Iterable[tuple[str, int, int]]) -> list[TopicPartition]:
    """What to commit after records at (topic, partition, offset): per partition, one past
    the highest offset."""
    highest: dict[tuple[str, int], int] = {}
    for topic, partition, offset in positions:
        highest[(topic, partition)] = max(highest.get((topic, partition), -1), offset)
    return [TopicPartition(t, p, offset + 1) for (t, p), offset in sorted(highest.items())]


def position(message: Message) -> tuple[str, int, int]:
    return message.topic() or "", message.partition() or 0, message.offset() or 0


def consumer_config(settings: HeraldSettings) -> dict[str, object]:
    return settings.kafka.client_config(
        **{
            "group.id": f"{settings.kafka.topic_prefix}status-sink",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            # A batch retried while Cassandra is down does not poll; past this the group
            # moves its partitions, and the uncommitted records are simply written again.
            "max.poll.interval.ms": 600_000,
        }
    )


@dataclass
class Decoded:
    rows: list[StatusRow] = field(default_factory=list)
    dead: list[tuple[Message, CodecError]] = field(default_factory=list)
    profiles: list[BoundStatement] = field(default_factory=list)


@dataclass(frozen=True)
class ProfileTopic:
    """A profile topic the sink stores in ``user_profiles``, and the check its records pass
    (those that fail are the streams worker's to dead-letter: here they are skipped)."""

    codec: TopicCodec[Any]
    kind: ProfileKind
    check: Callable[[Any], object]


class SinkWorker:
    def __init__(
        self,
        settings: SinkSettings,
        names: TopicNames,
        consumer: Consumer,
        producer: Producer,
        codec: TopicCodec[DeliveryStatus],
        store: StatusStore,
        stop: Stop,
        metrics: SinkMetrics,
        profiles: ProfileStore,
        profile_topics: Sequence[ProfileTopic],
    ) -> None:
        self.settings = settings
        self.names = names
        self.consumer = consumer
        self.producer = producer
        self.codec = codec
        self.store = store
        self.stop = stop
        self.metrics = metrics
        self.profiles = profiles
        self.profile_topics = {t.codec.topic: t for t in profile_topics}
        self.written = 0  # status events written (each is ROWS_PER_STATUS rows)
        self._assigned = False

    def subscribe(self) -> None:
        topics = [self.names.status, *self.profile_topics]
        self.consumer.subscribe(topics, on_assign=self._on_assign)

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._assigned = True

    @property
    def ready(self) -> bool:
        """It holds partitions of the status topic (herald.lifecycle)."""
        return self._assigned

    async def round(self) -> int:
        """One step, in a thread (the consumer and the driver block); a batch that was still
        being retried when the worker was asked to stop is left uncommitted."""
        try:
            return await asyncio.to_thread(self.step)
        except Stopped:
            log.warning("stopped while retrying a batch; it was not committed")
            return 0

    def step(self) -> int:
        """One batch: poll, decode, write, dead-letter, commit. Returns records handled."""
        messages = take(
            self.consumer, self.settings.batch_size, self.settings.poll_s, self.settings.linger_s
        )
        records = []
        for message in messages:
            error = message.error()
            if error is None:
                records.append(message)
            else:
                log.warning("consuming %s: %s", self.names.status, error.str())
        if records:
            self._sink(records)
        self.metrics.lag.set(assigned_lag(self.consumer))
        return len(records)

    def _sink(self, records: list[Message]) -> None:
        decoded = self._retrying("decode", "decoding statuses", lambda: self.decode(records))
        writes = self.store.writes(decoded.rows) + [(p, ()) for p in decoded.profiles]
        self._retrying("write", "writing statuses to Cassandra", lambda: self._write(writes))
        if decoded.dead:
            self._dead_letter(decoded.dead)
        self.written += len(decoded.rows)  # counted before the commit a lag check waits for
        self.metrics.written((STATUS_TABLE, USER_TABLE, REQUEST_TABLE), len(decoded.rows))
        self.metrics.written((PROFILE_TABLE,), len(decoded.profiles))
        self.metrics.stored((r.channel, r.provider, r.state) for r in decoded.rows)
        self.metrics.batches.observe(len(records))
        self._commit(next_offsets(position(m) for m in records))

    def decode(self, records: Sequence[Message]) -> Decoded:
        decoded = Decoded()
        tz = self.settings.day_bucket_tz
        for message in records:
            profile = self.profile_topics.get(message.topic() or "")
            if profile is not None:
                self._profile(message, profile, decoded)
                continue
            try:
                decoded.rows.append(to_row(self.codec.decode(message.value()), tz))
            except CodecError as exc:
                decoded.dead.append((message, exc))
        return decoded

    def _profile(self, message: Message, topic: ProfileTopic, decoded: Decoded) -> None:
        _, timestamp_ms = message.timestamp()
        key = (message.key() or b"").decode(errors="replace")
        if message.value() is None:  # a tombstone: the user's profile is gone
            decoded.profiles.append(self.profiles.delete_statement(key, topic.kind, timestamp_ms))
            return
        try:
            record = topic.codec.decode(message.value())
            if record.user_id != key:
                raise RecordError("the key is not the record's user_id")
            topic.check(record)
        except RecordError as exc:
            log.warning(
                "not stored: %s[%s]@%s: %s (the streams worker dead-letters it)",
                message.topic(),
                message.partition(),
                message.offset(),
                exc,
            )
            self.metrics.profiles_skipped.inc()
            return
        decoded.profiles.append(self.profiles.put_statement(record, timestamp_ms))

    def _write(self, writes: list[Write]) -> None:
        batches, singles = request_kinds(writes)
        started, failed = time.monotonic(), 0
        try:
            self.store.write(writes)
        except SinkUnavailable as exc:
            failed = len(exc.remaining)
            writes[:] = exc.remaining  # only the failed ones are tried again
            raise
        finally:
            self.metrics.write_attempt(batches, singles, failed, time.monotonic() - started)

    def _dead_letter(self, rejected: list[tuple[Message, CodecError]]) -> None:
        now = datetime.now(UTC)
        for message, error in rejected:
            log.warning(
                "dead letter: %s[%s]@%s: %s",
                message.topic(),
                message.partition(),
                message.offset(),
                error,
            )
            source = deadletter.Source.of(message)
            reason = f"{type(error).__name__}: {error}"
            dead = deadletter.letter(source, reason, "sink", type(error).__name__, now)
            self.producer.produce(
                self.names.dead_letter,
                key=dead.key,
                value=dead.value,
                headers=dead.headers,
                timestamp=dead.timestamp_ms or 0,  # 0: now
            )
        self._retrying("dead_letter", "confirming dead letters", self._flush)
        self.metrics.dead_letters.inc(len(rejected))

    def _flush(self) -> None:
        if self.producer.flush(10) > 0:
            raise DeadLetterUnconfirmed("the broker has not confirmed every dead letter")

    def _commit(self, offsets: list[TopicPartition]) -> None:
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # The group moved on (a rebalance): whoever owns the partitions now reads these
            # records again and rewrites the same rows.
            log.warning("commit failed, the batch will be written again: %s", exc)

    def _retrying(self, stage: str, what: str, action: Callable[[], T]) -> T:
        attempt, since = 0, time.monotonic()
        while True:
            try:
                result = action()
            except OutageError as exc:  # not the batch's fault: wait, try it again
                self.metrics.retries.labels(stage).inc()
                delay = backoff_s(attempt, self.settings.retry_backoff_max_s)
                log.warning(
                    "%s failed for %.0fs (%s); retrying the same batch in %.1fs, polling nothing",
                    what,
                    time.monotonic() - since,
                    exc,
                    delay,
                )
                if self.stop.wait(delay):
                    raise Stopped(what) from exc
                attempt += 1
                continue
            if attempt:
                log.warning("%s succeeded after %.0fs of failures", what, time.monotonic() - since)
            return result
