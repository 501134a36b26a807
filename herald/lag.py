"""Consumer lag: how far a consumer group's committed offsets trail the ends of its topics."""

from __future__ import annotations

import time
from collections.abc import Sequence

from confluent_kafka import Consumer, TopicPartition

from herald.errors import HeraldError
from herald.settings import HeraldSettings


def group_lag(settings: HeraldSettings, group: str, topics: Sequence[str]) -> int:
    """Messages on ``topics`` that ``group`` has not committed yet (0 when caught up)."""
    consumer = Consumer(
        settings.kafka.client_config(**{"group.id": group, "enable.auto.commit": False})
    )
    try:
        metadata = consumer.list_topics(timeout=10)
        partitions = [
            TopicPartition(topic, p) for topic in topics for p in metadata.topics[topic].partitions
        ]
        committed = consumer.committed(partitions, timeout=10)
        lag = 0
        for tp in committed:
            low, high = consumer.get_watermark_offsets(tp, timeout=10)
            position = tp.offset if tp.offset >= 0 else low
            lag += max(high - position, 0)
        return lag
    finally:
        consumer.close()


def wait_caught_up(
    settings: HeraldSettings, group: str, topics: Sequence[str], timeout_s: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout_s
    while (lag := group_lag(settings, group, topics)) > 0:
        if time.monotonic() > deadline:
            raise HeraldError(f"{group} still {lag} behind on {', '.join(topics)}")
        time.sleep(0.5)
