"""What the stream processors emit goes through librdkafka (confluent-kafka), not Faust.

Faust's ``Topic.send`` spent as much Python on each record as the decision that made it (a
future message, an event, sensors, then aiokafka's accumulator and its pure-Python request
encoding); ``Producer.produce`` hands the record to librdkafka's own threads in a few
microseconds. Faust commits an event's offset once the agent acknowledged it, and only flushes
its own producer first, so every batch ends by awaiting ``confirmed()``: each of its records
acknowledged by the broker (acks=all) before its events are.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from herald.errors import KafkaOutage
from herald.publisher import producer_config
from herald.settings import HeraldSettings

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 60.0


class StreamProducer:
    def __init__(self, settings: HeraldSettings, **overrides: Any) -> None:
        config = producer_config(
            settings,
            **{
                "linger.ms": settings.pipeline.producer_linger_ms,
                "batch.size": 1024 * 1024,
                "queue.buffering.max.messages": 500_000,
                # a Python callback per record costs more than producing it: failures only
                "delivery.report.only.error": True,
                **overrides,
            },
        )
        self._producer = Producer(config)
        self._failure: KafkaError | None = None
        self._produced = 0

    def produce(
        self, topic: str, key: bytes | None, value: bytes | None, partition: int | None = None
    ) -> None:
        """Queue one record: on ``partition``, or where librdkafka's murmur2 puts ``key``."""
        args: dict[str, Any] = {"key": key, "value": value, "on_delivery": self._delivered}
        if partition is not None:
            args["partition"] = partition
        while True:
            try:
                self._producer.produce(topic, **args)
                break
            except BufferError:  # librdkafka's queue is full: let it drain
                self._producer.poll(0.05)
            except KafkaException as error:
                raise KafkaOutage(f"producing to {topic}: {error}") from error
        self._produced += 1
        if self._produced % 1_000 == 0:
            self._producer.poll(0)  # serve delivery callbacks as we go

    def produce_with_headers(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, str | bytes | None]],
        timestamp_ms: int | None,
    ) -> None:
        """A dead letter: the record's own headers and time kept."""
        args: dict[str, Any] = {"key": key, "value": value, "headers": headers}
        if timestamp_ms is not None:
            args["timestamp"] = timestamp_ms
        try:
            self._producer.produce(topic, on_delivery=self._delivered, **args)
        except (BufferError, KafkaException) as error:
            raise KafkaOutage(f"producing to {topic}: {type(error).__name__}") from error

    def _delivered(self, error: KafkaError | None, message: Message) -> None:
        if error is not None and self._failure is None:
            self._failure = error

    async def confirmed(self) -> None:
        """Returns once the broker has every record produced so far; raises ``KafkaOutage``
        when one of them could not be delivered (the events behind it must not be committed).
        librdkafka waits in a thread, so the event loop keeps serving Faust meanwhile."""
        self._producer.poll(0)  # the reports of what was delivered meanwhile
        if len(self._producer) == 0 and self._failure is None:
            return  # nothing in flight: no need to wait (most profile events emit nothing)
        remaining = await asyncio.get_running_loop().run_in_executor(
            None, self._producer.flush, FLUSH_TIMEOUT_S
        )
        failure, self._failure = self._failure, None
        if failure is not None:
            # the error's name only: the record holds addresses
            raise KafkaOutage(f"a record could not be delivered: {failure.name()}")
        if remaining:
            raise KafkaOutage(f"{remaining} records not confirmed within {FLUSH_TIMEOUT_S:.0f}s")

    def close(self) -> None:
        remaining = self._producer.flush(FLUSH_TIMEOUT_S)
        if remaining:
            log.error("%d records were not confirmed before the producer closed", remaining)
