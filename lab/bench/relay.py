"""The bare relay the pipeline is measured against: plain confluent-kafka, one process, the
same hops (requests -> per-user -> channel.push) and the same Avro, but no decisions.

Run as ``python -m lab.bench.relay``; settings come from the environment like any worker.
"""

from __future__ import annotations

import signal
from pathlib import Path
from types import FrameType

from confluent_kafka import Consumer, Message, Producer

from herald.codec import AvroCodec
from herald.contracts import CHANNEL_MESSAGE, REQUEST, USER_NOTIFICATION, TopicCodec
from herald.lifecycle import report_ready
from herald.models import Channel, ChannelMessage
from herald.publisher import producer_config
from herald.settings import HeraldSettings
from herald.topics import TopicNames


class Relay:
    def __init__(self, settings: HeraldSettings, codec: AvroCodec) -> None:
        names = TopicNames(settings.kafka.topic_prefix)
        self.names = names
        self.requests = TopicCodec(codec, names.requests, REQUEST)
        self.per_user = TopicCodec(codec, names.per_user, USER_NOTIFICATION)
        self.push = TopicCodec(codec, names.channel("push"), CHANNEL_MESSAGE)
        self.producer = Producer(producer_config(settings, **{"linger.ms": 20}))
        self.consumer = Consumer(
            settings.kafka.client_config(
                **{
                    "group.id": f"{settings.kafka.topic_prefix}relay",
                    "auto.offset.reset": "earliest",
                }
            )
        )
        self.consumer.subscribe([names.requests, names.per_user])

    def handle(self, message: Message) -> None:
        if message.topic() == self.names.requests:
            request = self.requests.decode(message.value())
            for user_id in request.recipients:
                note = request.for_user(user_id)
                self._produce(self.names.per_user, user_id, self.per_user.encode(note))
        else:
            note = self.per_user.decode(message.value())
            channel_message = ChannelMessage(
                notification_id=note.notification_id,
                request_id=note.request_id,
                user_id=note.user_id,
                channel=Channel.PUSH,
                address="token",
                body=note.template_id,
                category=note.category,
                priority=note.priority,
            )
            self._produce(
                self.names.channel("push"), note.user_id, self.push.encode(channel_message)
            )

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
            for message in self.consumer.consume(1000, 0.2):
                if message.error() is None:
                    self.handle(message)
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
