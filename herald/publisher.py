"""The SDK services use to publish: notification requests, users' preferences and contacts, and
templates.

Idempotent producer with acks=all; ``publish`` returns only after the broker confirmed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from herald.codec import AvroCodec
from herald.contracts import CONTACTS, PREFERENCES, REQUEST, TEMPLATE, R, TopicCodec
from herald.errors import KafkaOutage
from herald.models import (
    NotificationRequest,
    NotificationTemplate,
    UserContacts,
    UserPreferences,
)
from herald.profiles import check_contacts, check_preferences
from herald.settings import HeraldSettings
from herald.templating import check_record
from herald.topics import REQUEST_MAX_BYTES, TopicNames
from herald.validation import validate


class PublishError(KafkaOutage):
    """The broker did not confirm every record: try again."""


def producer_config(settings: HeraldSettings, **overrides: Any) -> dict[str, Any]:
    return settings.kafka.client_config(
        **{
            # Java's (so aiokafka's, so Faust's) key hashing: a user's profiles and
            # notifications must land on the same partition number, whoever produced them.
            "partitioner": "murmur2_random",
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
            "message.max.bytes": REQUEST_MAX_BYTES,
            **overrides,
        }
    )


class Publisher:
    def __init__(
        self,
        settings: HeraldSettings,
        *,
        producer: Producer | None = None,
        codec: AvroCodec | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        names = TopicNames(settings.kafka.topic_prefix)
        self._limits = settings.pipeline
        self._timeout_s = timeout_s
        self._owns_codec = codec is None
        self._codec = codec or AvroCodec.from_settings(settings.registry)
        self._producer = producer or Producer(producer_config(settings))
        self._requests = TopicCodec(self._codec, names.requests, REQUEST)
        self._preferences = TopicCodec(self._codec, names.user_preferences, PREFERENCES)
        self._contacts = TopicCodec(self._codec, names.user_contacts, CONTACTS)
        self._templates = TopicCodec(self._codec, names.templates, TEMPLATE)

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._producer.flush(self._timeout_s)
        if self._owns_codec:
            self._codec.close()

    def publish(self, request: NotificationRequest) -> None:
        self.publish_batch([request])

    def publish_batch(self, requests: Iterable[NotificationRequest]) -> int:
        """Validate every request first (nothing is sent if one is invalid), then send all."""
        batch = list(requests)
        for request in batch:
            validate(request, self._limits)
        return self._send(self._requests, [(r.request_id, r) for r in batch])

    def publish_preferences(self, profiles: Iterable[UserPreferences]) -> int:
        """Check every profile first (nothing is sent if one is invalid), then send all."""
        checked = [check_preferences(p) for p in profiles]
        return self._send(self._preferences, [(p.user_id, p) for p in checked])

    def publish_contacts(self, contacts: Iterable[UserContacts]) -> int:
        """Check and normalize every profile first (E.164 phones), then send all."""
        checked = [check_contacts(c) for c in contacts]
        return self._send(self._contacts, [(c.user_id, c) for c in checked])

    def publish_templates(self, templates: Iterable[NotificationTemplate]) -> int:
        """Check every template first (structure, every field compiled), then send all;
        every worker renders them from its next request on."""
        batch = list(templates)
        for template in batch:
            check_record(template)
        return self._send(self._templates, [(t.template_id, t) for t in batch])

    def remove_templates(self, template_ids: Iterable[str]) -> int:
        """Tombstones: the topic's templates removed (an installed file of the id is back)."""
        return self._deliver(self._templates.topic, [(i, None) for i in template_ids])

    def _send(self, codec: TopicCodec[R], keyed: list[tuple[str, R]]) -> int:
        return self._deliver(codec.topic, [(key, codec.encode(record)) for key, record in keyed])

    def _deliver(self, topic: str, keyed: list[tuple[str, bytes | None]]) -> int:
        failures: list[str] = []

        def delivered(error: KafkaError | None, message: Message) -> None:
            if error is not None:
                failures.append(f"{message.key()!r}: {error.str()}")

        for key, value in keyed:
            while True:
                try:
                    self._producer.produce(
                        topic, key=key.encode(), value=value, on_delivery=delivered
                    )
                    break
                except BufferError:  # the local queue is full: let deliveries drain
                    self._producer.poll(0.1)
        if self._producer.flush(self._timeout_s) > 0:
            raise PublishError(f"the broker did not confirm every record in {self._timeout_s}s")
        if failures:
            raise PublishError(f"{len(failures)} record(s) failed: {'; '.join(failures[:5])}")
        return len(keyed)
