"""How many records topics have ever received, from their partitions' high watermarks."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaException, TopicPartition

from herald.errors import HeraldError
from herald.settings import HeraldSettings


class TopicSizes:
    """Records ever written to topics: the sum of their partitions' high watermarks."""

    def __init__(self, settings: HeraldSettings) -> None:
        group = f"herald-demo-{uuid.uuid4().hex}"  # never joins: only reads watermarks
        self._consumer = Consumer(settings.kafka.client_config(**{"group.id": group}))

    def of(self, topics: Sequence[str], timeout_s: float = 30.0) -> dict[str, int]:
        """Retried while new topics' partitions are still electing their leaders."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self._read(topics)
            except KafkaException as error:
                if time.monotonic() > deadline:
                    raise HeraldError(
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
