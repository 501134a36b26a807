"""Offsets: how far a consumer group trails its topics, and how many records topics hold
(what the demo, the benchmarks and the tests wait on)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition

from herald.errors import KafkaOutage
from herald.settings import HeraldSettings
from lab.errors import WaitTimedOut


def group_lag(settings: HeraldSettings, group: str, topics: Sequence[str]) -> int:
    """Messages on ``topics`` that ``group`` has not committed yet (0 when caught up)."""
    offsets = GroupOffsets(settings, group, topics)
    try:
        return offsets.read().lag
    finally:
        offsets.close()


@dataclass(frozen=True)
class Progress:
    committed: int  # records the group has committed, over all partitions
    lag: int  # records on the topics it has not committed yet


class GroupOffsets:
    """Reads, as often as asked, how far ``group`` got on ``topics`` (one client, kept open;
    it never joins the group)."""

    def __init__(self, settings: HeraldSettings, group: str, topics: Sequence[str]) -> None:
        self.group = group
        self._topics = list(topics)
        self._consumer = Consumer(
            settings.kafka.client_config(**{"group.id": group, "enable.auto.commit": False})
        )

    def read(self) -> Progress:
        metadata = self._consumer.list_topics(timeout=10)
        partitions = [
            TopicPartition(topic, p)
            for topic in self._topics
            for p in metadata.topics[topic].partitions
        ]
        committed, lag = 0, 0
        for tp in self._consumer.committed(partitions, timeout=10):
            low, high = self._consumer.get_watermark_offsets(tp, timeout=10)
            position = tp.offset if tp.offset >= 0 else low
            committed += max(position - low, 0)
            lag += max(high - position, 0)
        return Progress(committed, lag)

    def close(self) -> None:
        self._consumer.close()


def wait_caught_up(
    settings: HeraldSettings, group: str, topics: Sequence[str], timeout_s: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout_s
    while (lag := group_lag(settings, group, topics)) > 0:
        if time.monotonic() > deadline:
            raise WaitTimedOut(f"{group} still {lag} behind on {', '.join(topics)}")
        time.sleep(0.5)


class TopicSizes:
    """Records ever written to topics: the sum of their partitions' high watermarks."""

    def __init__(self, settings: HeraldSettings) -> None:
        group = f"herald-sizes-{uuid.uuid4().hex}"  # never joins: only reads watermarks
        self._consumer = Consumer(settings.kafka.client_config(**{"group.id": group}))

    def of(self, topics: Sequence[str], timeout_s: float = 30.0) -> dict[str, int]:
        """Retried while new topics' partitions are still electing their leaders."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self._read(topics)
            except KafkaException as error:
                if time.monotonic() > deadline:
                    raise KafkaOutage(
                        f"reading the sizes of {', '.join(topics)}: {error}"
                    ) from error
                time.sleep(0.5)

    def _read(self, topics: Sequence[str]) -> dict[str, int]:
        metadata = self._consumer.list_topics(timeout=10)
        return {
            topic: sum(
                self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                for p in metadata.topics[topic].partitions
            )
            for topic in topics
        }

    def close(self) -> None:
        self._consumer.close()
