"""Publishing from the event loop: librdkafka's confirmation (acks=all) resolves a future, so
a request is answered 202 (a profile or a template 200) only once its record is on the broker."""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from herald.codec import AvroCodec
from herald.contracts import CONTACTS, PREFERENCES, REQUEST, STATUS, TEMPLATE, R, TopicCodec
from herald.deadletter import Letter
from herald.errors import KafkaOutage
from herald.models import (
    DeliveryStatus,
    NotificationRequest,
    NotificationTemplate,
    UserContacts,
    UserPreferences,
)
from herald.publisher import PublishError, producer_config
from herald.settings import HeraldSettings
from herald.topics import TopicNames

Outcome = tuple[KafkaError | None, int]  # the broker's error, or None; the record's timestamp
Confirmation = asyncio.Future[Outcome]


class AsyncPublisher:
    def __init__(self, settings: HeraldSettings, codec: AvroCodec) -> None:
        timeout_ms = int(settings.api.publish_timeout_s * 1000)
        self._producer = Producer(
            producer_config(
                settings,
                **{"message.timeout.ms": timeout_ms, "linger.ms": settings.api.publish_linger_ms},
            )
        )
        names = TopicNames(settings.kafka.topic_prefix)
        self._requests = TopicCodec(codec, names.requests, REQUEST)
        self._preferences = TopicCodec(codec, names.user_preferences, PREFERENCES)
        self._contacts = TopicCodec(codec, names.user_contacts, CONTACTS)
        self._templates = TopicCodec(codec, names.templates, TEMPLATE)
        self._status = TopicCodec(codec, names.status, STATUS)
        self._dead_letter = names.dead_letter
        # confirmations served by one poll, handed to their loops in one call each: a call
        # per record wakes the loop once per record
        self._confirmed: list[tuple[asyncio.AbstractEventLoop, Confirmation, Outcome]] = []
        self._confirmed_lock = threading.Lock()
        self._stopped = threading.Event()
        # librdkafka calls back from poll(): a thread of its own serves them
        self._poller = threading.Thread(target=self._poll, name="api-producer", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stopped.is_set():
            self._producer.poll(0.1)
            self._hand_over()

    def _hand_over(self) -> None:
        with self._confirmed_lock:
            confirmed, self._confirmed = self._confirmed, []
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Confirmation, Outcome]]]
        by_loop = defaultdict(list)
        for loop, future, outcome in confirmed:
            by_loop[loop].append((future, outcome))
        for loop, settled in by_loop.items():
            if not loop.is_closed():
                loop.call_soon_threadsafe(_settle, settled)

    async def publish(self, request: NotificationRequest) -> None:
        """Returns once the broker confirmed the record; ``PublishError`` when it did not
        within ``api.publish_timeout_s``."""
        await self._produce(self._requests, request.request_id, request)

    async def publish_preferences(self, prefs: UserPreferences) -> int:
        """As ``publish``; returns the record's timestamp (ms)."""
        return await self._produce(self._preferences, prefs.user_id, prefs)

    async def publish_contacts(self, contacts: UserContacts) -> int:
        """As ``publish``; returns the record's timestamp (ms)."""
        return await self._produce(self._contacts, contacts.user_id, contacts)

    async def publish_template(self, template: NotificationTemplate) -> int:
        """As ``publish``; returns the record's timestamp (ms)."""
        return await self._produce(self._templates, template.template_id, template)

    async def publish_status(self, status: DeliveryStatus) -> None:
        """As ``publish``: a status event of a notification (a provider's receipt)."""
        await self._produce(self._status, status.notification_id, status)

    async def publish_dead_letter(self, letter: Letter) -> None:
        """As ``publish``: a record kept on the dead-letter topic with its reason."""
        await self._send(
            self._dead_letter, letter.key, letter.value, letter.headers, letter.timestamp_ms
        )

    async def _produce(self, codec: TopicCodec[R], key: str, record: R) -> int:
        return await self._send(codec.topic, key.encode(), codec.encode(record))

    async def _send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, str | bytes | None]] | None = None,
        timestamp_ms: int | None = None,
    ) -> int:
        loop = asyncio.get_running_loop()
        confirmed: Confirmation = loop.create_future()

        def delivered(error: KafkaError | None, message: Message) -> None:
            _, timestamp_ms = message.timestamp()
            with self._confirmed_lock:
                self._confirmed.append((loop, confirmed, (error, timestamp_ms)))

        try:
            self._producer.produce(
                topic,
                key=key,
                value=value,
                headers=headers,
                timestamp=timestamp_ms or 0,
                on_delivery=delivered,
            )
        except (BufferError, KafkaException) as error:
            raise KafkaOutage(f"producing to {topic}: {type(error).__name__}") from error
        failure, timestamp_ms = await confirmed
        if failure is not None:
            raise PublishError(f"the broker did not confirm the record: {failure.name()}")
        return timestamp_ms

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
        self._hand_over()


def _settle(settled: list[tuple[Confirmation, Outcome]]) -> None:
    for future, outcome in settled:
        if not future.done():
            future.set_result(outcome)
