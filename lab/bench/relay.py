"""The bare relay the pipeline is measured against: plain confluent-kafka, one process, the
same hops (requests -> one record per user -> channel.push) and the same Avro, but no
decisions, no state and no guarantees beyond librdkafka's. Written as a ceiling: records are
consumed and produced in batches, and fastavro reuses the parsed schemas on plain dicts.

Run as ``python -m lab.bench.relay``; settings come from the environment like any worker.
"""

from __future__ import annotations

import io
import signal
from pathlib import Path
from types import FrameType
from typing import Any

import fastavro
from confluent_kafka import Consumer, Producer

from herald.codec import AvroCodec, frame, unframe
from herald.contracts import CHANNEL_MESSAGE, REQUEST, USER_NOTIFICATION, TopicCodec
from herald.lifecycle import report_ready
from herald.models import notification_id
from herald.publisher import producer_config
from herald.settings import HeraldSettings
from herald.topics import TopicNames


def relay_per_user_topic(names: TopicNames) -> str:
    """The relay's own middle hop: one UserNotification record per recipient."""
    return f"{names.prefix}relay-per-user"


class _Schema:
    def __init__(self, codec: AvroCodec, topic_codec: TopicCodec[Any]) -> None:
        self.id = topic_codec.schema_id
        self.parsed = codec.schema(self.id)

    def read(self, data: bytes) -> Any:
        _, body = unframe(data)
        return fastavro.schemaless_reader(io.BytesIO(body), self.parsed, None)

    def write(self, record: dict[str, Any]) -> bytes:
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, self.parsed, record)
        return frame(self.id, buffer.getvalue())


class Relay:
    def __init__(self, settings: HeraldSettings, codec: AvroCodec) -> None:
        names = TopicNames(settings.kafka.topic_prefix)
        self.requests_topic = names.requests
        self.per_user_topic = relay_per_user_topic(names)
        self.push_topic = names.channel("push")
        self.requests = _Schema(codec, TopicCodec(codec, names.requests, REQUEST))
        self.per_user = _Schema(codec, TopicCodec(codec, self.per_user_topic, USER_NOTIFICATION))
        self.push = _Schema(codec, TopicCodec(codec, self.push_topic, CHANNEL_MESSAGE))
        self.producer = Producer(
            producer_config(settings, **{"linger.ms": 20, "batch.size": 1024 * 1024})
        )
        self.consumer = Consumer(
            settings.kafka.client_config(
                **{
                    "group.id": f"{settings.kafka.topic_prefix}relay",
                    "auto.offset.reset": "earliest",
                }
            )
        )
        self.consumer.subscribe([names.requests, self.per_user_topic])

    def fan_out(self, value: bytes) -> None:
        request = self.requests.read(value)
        recipients = request.pop("recipients")
        for user_id in recipients:
            note = {
                **request,
                "notification_id": notification_id(request["request_id"], user_id),
                "user_id": user_id,
            }
            self._produce(self.per_user_topic, user_id, self.per_user.write(note))

    def relay(self, value: bytes) -> None:
        note = self.per_user.read(value)
        message = {
            "notification_id": note["notification_id"],
            "request_id": note["request_id"],
            "user_id": note["user_id"],
            "channel": "push",
            "address": "token",
            "platform": None,
            "title": None,
            "body": note["template_id"],
            "html": None,
            "category": note["category"],
            "priority": note["priority"],
            "attempt": 0,
            "deadline": None,
            "tenant": None,
        }
        self._produce(self.push_topic, note["user_id"], self.push.write(message))

    def _produce(self, topic: str, key: str, value: bytes) -> None:
        while True:
            try:
                self.producer.produce(topic, key=key.encode(), value=value)
                return
            except BufferError:
                self.producer.poll(0.05)

    def run(self, stop: list[bool], ready_file: Path | None) -> None:
        report_ready(ready_file)
        while not stop:
            for message in self.consumer.consume(10_000, 0.1):
                value = message.value()
                if message.error() is not None or value is None:
                    continue
                if message.topic() == self.requests_topic:
                    self.fan_out(value)
                else:
                    self.relay(value)
            self.producer.poll(0)
        self.producer.flush(30)
        self.consumer.close()


def main() -> None:
    settings = HeraldSettings()
    stop: list[bool] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.append(True)

    signal.signal(signal.SIGTERM, on_signal)
    with AvroCodec.from_settings(settings.registry) as codec:
        Relay(settings, codec).run(stop, settings.lifecycle.ready_file)


if __name__ == "__main__":
    main()
