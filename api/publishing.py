"""Publishing from the event loop: librdkafka's confirmation (acks=all) resolves a future, so
a request is answered 202 only once its record is on the broker."""

from __future__ import annotations

import asyncio
import threading

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from herald.codec import AvroCodec
from herald.contracts import REQUEST, TopicCodec
from herald.errors import KafkaOutage
from herald.models import NotificationRequest
from herald.publisher import PublishError, producer_config
from herald.settings import HeraldSettings
from herald.topics import TopicNames


class AsyncPublisher:
    def __init__(self, settings: HeraldSettings, codec: AvroCodec) -> None:
        timeout_ms = int(settings.api.publish_timeout_s * 1000)
        self._producer = Producer(
            producer_config(settings, **{"message.timeout.ms": timeout_ms, "linger.ms": 1})
        )
        topic = TopicNames(settings.kafka.topic_prefix).requests
        self._requests = TopicCodec(codec, topic, REQUEST)
        self._stopped = threading.Event()
        # librdkafka calls back from poll(): a thread of its own serves them
        self._poller = threading.Thread(target=self._poll, name="api-producer", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stopped.is_set():
            self._producer.poll(0.1)

    async def publish(self, request: NotificationRequest) -> None:
        """Returns once the broker confirmed the record; ``PublishError`` when it did not
        within ``api.publish_timeout_s``."""
        loop = asyncio.get_running_loop()
        confirmed: asyncio.Future[KafkaError | None] = loop.create_future()

        def delivered(error: KafkaError | None, message: Message) -> None:
            loop.call_soon_threadsafe(_settle, confirmed, error)

        value = self._requests.encode(request)
        try:
            self._producer.produce(
                self._requests.topic,
                key=request.request_id.encode(),
                value=value,
                on_delivery=delivered,
            )
        except (BufferError, KafkaException) as error:
            raise KafkaOutage(f"producing the request: {type(error).__name__}") from error
        failure = await confirmed
        if failure is not None:
            raise PublishError(f"the broker did not confirm the request: {failure.name()}")

    def reachable(self, timeout_s: float = 2.0) -> bool:
        try:
            self._producer.list_topics(self._requests.topic, timeout=timeout_s)
        except KafkaException:
            return False
        return True

    def close(self) -> None:
        self._producer.flush(10)
        self._stopped.set()
        self._poller.join(5)


def _settle(future: asyncio.Future[KafkaError | None], error: KafkaError | None) -> None:
    if not future.done():
        future.set_result(error)
