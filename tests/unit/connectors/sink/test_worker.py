"""The sink worker's pure parts: backoff and the offsets it commits."""

from __future__ import annotations

from confluent_kafka import TopicPartition

from connectors.sink.worker import backoff_s, next_offsets


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff_s(a, cap_s=5.0) for a in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert backoff_s(10_000, cap_s=10.0) == 10.0


def test_commits_one_past_the_highest_offset_per_partition() -> None:
    positions = [("s", 0, 5), ("s", 1, 9), ("s", 0, 7), ("s", 0, 6), ("s", 1, 8)]
    committed = next_offsets(positions)
    assert [(tp.topic, tp.partition, tp.offset) for tp in committed] == [
        ("s", 0, 8),
        ("s", 1, 10),
    ]
    assert all(isinstance(tp, TopicPartition) for tp in committed)
    assert next_offsets([]) == []
