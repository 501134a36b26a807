"""Taking a batch of records from a consumer as soon as there are some.

``Consumer.consume(n, timeout)`` returns only when ``n`` records are there or the timeout has
passed, so below a full batch every record waits out the timeout. ``take`` waits for the first
record, then for what arrives within a short linger: a batch follows the load (a few records
when nearly idle, full batches at once when behind) and a record waits at most the linger.
"""

from __future__ import annotations

from confluent_kafka import Consumer, Message


def take(consumer: Consumer, batch_size: int, wait_s: float, linger_s: float) -> list[Message]:
    """Up to ``batch_size`` records (or error events): waits at most ``wait_s`` for the
    first, then at most ``linger_s`` more for the batch to fill; empty when nothing came."""
    first = consumer.poll(wait_s)
    if first is None:
        return []
    if batch_size <= 1:
        return [first]
    return [first, *consumer.consume(batch_size - 1, linger_s)]
