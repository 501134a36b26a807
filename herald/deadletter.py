"""Dead letters: records that could not be decoded or validated, kept byte for byte on
``herald.dead-letter`` with headers that say why and where they came from."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    Message,
    Producer,
    TopicPartition,
)

from herald.errors import HeraldError, KafkaOutage

REASON = "herald.dlq.reason"
SOURCE_TOPIC = "herald.dlq.topic"
SOURCE_PARTITION = "herald.dlq.partition"
SOURCE_OFFSET = "herald.dlq.offset"
FAILED_AT = "herald.dlq.failed_at"
STAGE = "herald.dlq.stage"
EXCEPTION = "herald.dlq.exception"
REPLAYED_AT = "herald.dlq.replayed_at"
# Written anew by each dead-lettering: an earlier one's are replaced, not piled up.
OURS = frozenset(
    {REASON, SOURCE_TOPIC, SOURCE_PARTITION, SOURCE_OFFSET, FAILED_AT, STAGE, EXCEPTION}
)

Headers = list[tuple[str, bytes]]
RawHeaders = Sequence[tuple[str, str | bytes | None]] | dict[str, str | bytes | None] | None


class ReplayRefused(HeraldError):
    """A dead letter names a source outside the pipeline: it is not sent anywhere."""


def header_pairs(raw: RawHeaders) -> Headers:
    """Headers as Kafka clients give them (pairs or a mapping, str or bytes) as (name, bytes)."""
    pairs = raw.items() if isinstance(raw, dict) else raw or []
    return [(name, data.encode() if isinstance(data, str) else data or b"") for name, data in pairs]


@dataclass(frozen=True)
class Source:
    """A record as a stage received it: where from, and everything it carried."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int | None = None

    @classmethod
    def of(cls, message: Message) -> Source:
        """A record from confluent-kafka's consumer."""
        kind, stamp = message.timestamp()
        return cls(
            topic=message.topic() or "",
            partition=message.partition() or 0,
            offset=message.offset() or 0,
            key=message.key(),
            value=message.value(),
            headers=tuple(header_pairs(message.headers())),
            timestamp_ms=stamp if kind != TIMESTAMP_NOT_AVAILABLE else None,
        )

    @classmethod
    def unplaced(cls, where: str, key: bytes | None, value: bytes | None) -> Source:
        """A record that came from somewhere other than a topic: a Redis set (a retry, a
        deferral), named by its key; partition and offset -1."""
        return cls(topic=where, partition=-1, offset=-1, key=key, value=value)


@dataclass(frozen=True)
class Letter:
    """A dead letter, ready to produce on the dead-letter topic."""

    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, str | bytes | None]]  # as confluent-kafka's produce takes them
    timestamp_ms: int | None


def letter(source: Source, reason: str, stage: str, error: str, at: datetime) -> Letter:
    """The one way every stage makes a dead letter: the record's key, value, headers and
    timestamp as they came, plus Herald's headers saying why (``reason``: never a record's
    addresses), where (``stage``) and what was raised (``error``: the exception's class;
    empty when a policy decided it, such as a passed deadline)."""
    kept = [(name, data) for name, data in source.headers if name not in OURS]
    return Letter(
        key=source.key,
        value=source.value,
        headers=[
            *kept,
            (REASON, reason.encode()[:4000]),
            (SOURCE_TOPIC, source.topic.encode()),
            (SOURCE_PARTITION, str(source.partition).encode()),
            (SOURCE_OFFSET, str(source.offset).encode()),
            (FAILED_AT, at.isoformat().encode()),
            (STAGE, stage.encode()),
            *([(EXCEPTION, error.encode())] if error else []),
        ],
        timestamp_ms=source.timestamp_ms,
    )


def _text(data: str | bytes | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""


@dataclass(frozen=True)
class DeadLetter:
    """A dead letter as read back from the topic."""

    offset: int
    reason: str
    topic: str
    partition: int
    source_offset: int
    failed_at: str
    key: bytes | None
    value: bytes | None
    stage: str = "?"
    exception: str = "?"
    headers: tuple[tuple[str, bytes], ...] = ()  # the original record's
    timestamp_ms: int | None = None  # the original record's

    @classmethod
    def parse(
        cls,
        offset: int,
        raw_headers: RawHeaders,
        key: bytes | None,
        value: bytes | None,
        timestamp_ms: int | None = None,
    ) -> DeadLetter:
        pairs = header_pairs(raw_headers)
        found = {name: _text(data) for name, data in pairs}
        return cls(
            offset=offset,
            reason=found.get(REASON, "?"),
            topic=found.get(SOURCE_TOPIC, "?"),
            partition=int(found.get(SOURCE_PARTITION, "-1")),
            source_offset=int(found.get(SOURCE_OFFSET, "-1")),
            failed_at=found.get(FAILED_AT, "?"),
            key=key,
            value=value,
            stage=found.get(STAGE, "?"),
            exception=found.get(EXCEPTION, "?"),
            headers=tuple((n, d) for n, d in pairs if n not in OURS and n != REPLAYED_AT),
            timestamp_ms=timestamp_ms,
        )


def read_all(consumer: Consumer, topic: str, timeout_s: float = 5.0) -> Iterator[DeadLetter]:
    """Every dead letter from the start of the topic's (single) partition to its end now."""
    low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=timeout_s)
    if high <= low:
        return
    consumer.assign([TopicPartition(topic, 0, low)])
    position = low
    while position < high:
        message = consumer.poll(timeout_s)
        if message is None:
            raise KafkaOutage(f"reading {topic} stalled at offset {position} of {high}")
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                break
            raise KafkaOutage(f"reading {topic}: {error.str()}")
        position = (message.offset() or 0) + 1
        kind, stamp = message.timestamp()
        yield DeadLetter.parse(
            message.offset() or 0,
            message.headers(),
            message.key(),
            message.value(),
            stamp if kind != TIMESTAMP_NOT_AVAILABLE else None,
        )


def replay(
    letters: Sequence[DeadLetter],
    producer: Producer,
    allowed: Collection[str],
    timeout_s: float = 30,
    advance: Callable[[float], None] = lambda done: None,
) -> int:
    """Send the original records back to their source topics (key, value and headers as
    they came), marked as a replay. Only to ``allowed`` topics: a header written by anyone
    must not pick an arbitrary target."""
    strays = sorted({letter.topic for letter in letters if letter.topic not in allowed})
    if strays:
        raise ReplayRefused(f"refusing to replay to topics outside the pipeline: {strays}")
    now = datetime.now(UTC).isoformat().encode()
    for dead in letters:
        producer.produce(
            dead.topic,
            key=dead.key,
            value=dead.value,
            headers=[*dead.headers, (REPLAYED_AT, now)],
        )
        advance(1)
    if producer.flush(timeout_s) > 0:
        raise KafkaOutage("the broker did not confirm every replayed record")
    return len(letters)
