"""Herald's producers and Faust's place a key on the same partition (co-partitioning)."""

from __future__ import annotations

from collections.abc import Callable

from aiokafka.partitioner import DefaultPartitioner
from confluent_kafka import KafkaError, Message, Producer

from herald.publisher import producer_config
from herald.settings import HeraldSettings


def test_sdk_and_faust_agree_on_each_users_partition(
    stack: HeraldSettings, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("partitioning", partitions=6)
    producer = Producer(producer_config(stack))
    placed: dict[bytes, int] = {}

    def delivered(error: KafkaError | None, message: Message) -> None:
        assert error is None
        placed[message.key()] = message.partition()  # type: ignore[index]

    keys = [f"user-{i}".encode() for i in range(60)]
    for key in keys:
        producer.produce(topic, key=key, value=b"x", on_delivery=delivered)
    assert producer.flush(10) == 0

    faust_side = DefaultPartitioner()
    partitions = list(range(6))
    assert placed == {key: faust_side(key, partitions, partitions) for key in keys}
    assert len(set(placed.values())) > 1  # spread over partitions, not all on one
