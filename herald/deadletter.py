"""Dead letters: records that could not be decoded or validated, kept byte for byte on
``herald.dead-letter`` with headers that say why and where they came from."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from herald.errors import HeraldError, KafkaOutage

REASON = "herald.dlq.reason"
SOURCE_TOPIC = "herald.dlq.topic"
SOURCE_PARTITION = "herald.dlq.partition"
SOURCE_OFFSET = "herald.dlq.offset"
FAILED_AT = "herald.dlq.failed_at"

Headers = list[tuple[str, bytes]]


class ReplayRefused(HeraldError):
    """A dead letter names a source outside the pipeline: it is not sent anywhere."""


RawHeaders = Sequence[tuple[str, str | bytes | None]] | dict[str, str | bytes | None] | None


def headers(reason: str, topic: str, partition: int, offset: int, at: datetime) -> Headers:
    return [
        (REASON, reason.encode()[:4000]),
        (SOURCE_TOPIC, topic.encode()),
        (SOURCE_PARTITION, str(partition).encode()),
        (SOURCE_OFFSET, str(offset).encode()),
        (FAILED_AT, at.isoformat().encode()),
    ]


def _text(data: str | bytes | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""


@dataclass(frozen=True)
class DeadLetter:
    offset: int
    reason: str
    topic: str
    partition: int
    source_offset: int
    failed_at: str
    key: bytes | None
    value: bytes | None

    @classmethod
    def parse(
        cls,
        offset: int,
        raw_headers: RawHeaders,
        key: bytes | None,
        value: bytes | None,
    ) -> DeadLetter:
        pairs = raw_headers.items() if isinstance(raw_headers, dict) else raw_headers or []
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
        yield DeadLetter.parse(
            message.offset() or 0, message.headers(), message.key(), message.value()
        )


def replay(
    letters: Sequence[DeadLetter],
    producer: Producer,
    allowed: Collection[str],
    timeout_s: float = 30,
    advance: Callable[[float], None] = lambda done: None,
) -> int:
    """Send the original bytes back to their source topics, marked as a replay. Only to
    ``allowed`` topics: a header written by anyone must not pick an arbitrary target."""
    strays = sorted({letter.topic for letter in letters if letter.topic not in allowed})
    if strays:
        raise ReplayRefused(f"refusing to replay to topics outside the pipeline: {strays}")
    now = datetime.now(UTC).isoformat().encode()
    for letter in letters:
        producer.produce(
            letter.topic,
            key=letter.key,
            value=letter.value,
            headers=[("herald.dlq.replayed_at", now)],
        )
        advance(1)
    if producer.flush(timeout_s) > 0:
        raise KafkaOutage("the broker did not confirm every replayed record")
    return len(letters)
