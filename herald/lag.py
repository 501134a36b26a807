"""How far a worker trails its assigned partitions, for its lag metric."""

from __future__ import annotations

from confluent_kafka import Consumer


def assigned_lag(consumer: Consumer) -> int:
    """Records on ``consumer``'s assigned partitions past its position (what it has taken),
    from the high watermarks its fetches brought back: no request to the broker. Partitions it
    has taken nothing from since their assignment are not counted."""
    lag = 0
    for tp in consumer.position(consumer.assignment()):
        if tp.offset < 0:
            continue
        _, high = consumer.get_watermark_offsets(tp, cached=True)
        lag += max(high - tp.offset, 0)
    return lag
