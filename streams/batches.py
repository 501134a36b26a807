"""Records produced a batch at a time: one aiokafka batch per topic-partition.

Faust's ``Topic.send`` spends as much Python on each record as the decision that made it
(a future message, an event, sensors, then aiokafka's accumulator); appending to an aiokafka
``BatchBuilder`` is a fraction of that. Records keep their order within a topic-partition, and
go through Faust's own producer, so a commit (which flushes that producer first) still never
passes a record that was not delivered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

Record = tuple[str, bytes, bytes]  # topic, key, value


def partition_for(key: bytes, partitions: Sequence[int]) -> int:
    """Where ``key`` goes: murmur2 like Java, aiokafka and every other Herald producer."""
    return int(DefaultPartitioner()(key, partitions, partitions))


class BatchProducer:
    """``producer`` returns the started aiokafka producer (Faust's, resolved when first used)."""

    def __init__(self, producer: Callable[[], Any]) -> None:
        self._producer = producer
        self._partitions: dict[str, list[int]] = {}  # partition counts never change at runtime

    async def send(self, records: Sequence[Record]) -> list[Any]:
        """Queue ``records``; returns the delivery futures, one per aiokafka batch."""
        producer = self._producer()
        builders: dict[tuple[str, int], Any] = {}
        deliveries: list[Any] = []
        for topic, key, value in records:
            partition = partition_for(key, await self._partitions_of(producer, topic))
            builder = builders.get((topic, partition))
            if builder is None:
                builder = builders[(topic, partition)] = producer.create_batch()
            if builder.append(key=key, value=value, timestamp=None) is None:  # full
                deliveries.append(await producer.send_batch(builder, topic, partition=partition))
                builder = builders[(topic, partition)] = producer.create_batch()
                builder.append(key=key, value=value, timestamp=None)  # a first record always fits
        for (topic, partition), builder in builders.items():
            deliveries.append(await producer.send_batch(builder, topic, partition=partition))
        return deliveries

    async def _partitions_of(self, producer: Any, topic: str) -> list[int]:
        known = self._partitions.get(topic)
        if known is None:
            known = self._partitions[topic] = sorted(await producer.partitions_for(topic))
        return known
