"""Taking a batch of records from a consumer as soon as there are some.

``Consumer.consume(n, timeout)`` returns only when ``n`` records are there or the timeout has
passed, so below a full batch every record waits out the timeout. ``take`` waits for the first
record only, then adds what the client has already fetched: a batch follows the load (one
record when idle, full batches when behind) and a record waits for no timer.
"""

from __future__ import annotations

from confluent_kafka import Consumer, Message


def take(consumer: Consumer, batch_size: int, wait_s: float) -> list[Message]:
    """Up to ``batch_size`` records (or error events): waits at most ``wait_s`` for the
    first, then takes what is buffered without waiting; empty when nothing came."""
    first = consumer.poll(wait_s)
    if first is None:
        return []
    if batch_size <= 1:
        return [first]
    return [first, *consumer.consume(batch_size - 1, 0)]
