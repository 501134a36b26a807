"""Reading the status topic: what data teams see, and what the demo and tests wait on."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

from confluent_kafka import Consumer

from herald.codec import AvroCodec
from herald.contracts import STATUS, TopicCodec
from herald.models import DeliveryStatus
from herald.settings import HeraldSettings
from herald.topics import TopicNames
from lab.errors import WaitTimedOut


class StatusReader:
    """Consumes ``herald.status`` from the beginning with a throwaway consumer group."""

    def __init__(self, settings: HeraldSettings, codec: AvroCodec) -> None:
        topic = TopicNames(settings.kafka.topic_prefix).status
        self._codec = TopicCodec(codec, topic, STATUS)
        self._consumer = Consumer(
            settings.kafka.client_config(
                **{
                    "group.id": f"herald-status-reader-{uuid.uuid4().hex}",
                    "auto.offset.reset": "earliest",
                    "enable.auto.commit": False,
                }
            )
        )
        self._consumer.subscribe([topic])
        self.seen: list[DeliveryStatus] = []

    def close(self) -> None:
        self._consumer.close()

    def assigned(self, timeout_s: float = 30.0) -> StatusReader:
        """Poll until the group has given this reader its partitions, so what is published
        from now on is read as it arrives (a new group's first join takes seconds)."""
        deadline = time.monotonic() + timeout_s
        while not self._consumer.assignment():
            if time.monotonic() > deadline:
                raise WaitTimedOut(f"no partitions assigned after {timeout_s:.0f}s")
            self.poll(0.2)
        return self

    def poll(self, timeout_s: float = 0.5, max_records: int = 10_000) -> list[DeliveryStatus]:
        fresh = []
        for message in self._consumer.consume(max_records, timeout_s):
            if message.error() is None:
                fresh.append(self._codec.decode(message.value()))
        self.seen.extend(fresh)
        return fresh

    def wait_until(
        self, done: Callable[[list[DeliveryStatus]], bool], timeout_s: float = 60.0
    ) -> list[DeliveryStatus]:
        """Poll until ``done(all statuses so far)``; raise with what was seen on time-out."""
        deadline = time.monotonic() + timeout_s
        while not done(self.seen):
            if time.monotonic() > deadline:
                raise WaitTimedOut(
                    f"statuses not complete after {timeout_s:.0f}s; saw {len(self.seen)}"
                )
            self.poll()
        return self.seen

    def __iter__(self) -> Iterator[DeliveryStatus]:
        return iter(self.seen)
