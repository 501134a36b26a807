"""The templates topic, read whole by every process that renders or serves templates.

Templates are global: every streams worker renders any template, whatever partitions it owns,
so this is no consumer group but a plain consumer assigned the topic's one partition from its
start. A streams worker calls ``catch_up`` before it decides anything (a request must not
render an old file when the topic already replaced it); the API, which must start and answer
503s without a broker, tries for a while and then leaves it to the thread (its template routes
answer 503 until ``ready``). ``start`` follows the
topic in a thread of its own, so a change reaches every worker without a restart.
"""

from __future__ import annotations

import logging
import threading
import time

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from herald.codec import AvroCodec
from herald.contracts import TEMPLATE, TopicCodec
from herald.errors import CodecError, KafkaOutage
from herald.kafka import KAFKA
from herald.settings import HeraldSettings
from herald.templating import TemplateStore
from herald.topics import TopicNames

log = logging.getLogger(__name__)


class TemplateFeed:
    def __init__(self, settings: HeraldSettings, store: TemplateStore) -> None:
        self.topic = TopicNames(settings.kafka.topic_prefix).templates
        self._store = store
        # a codec of its own: the following thread decodes while the owner's encodes
        self._codec = AvroCodec.from_settings(settings.registry)
        self._templates = TopicCodec(self._codec, self.topic, TEMPLATE)
        self._consumer = Consumer(
            settings.kafka.client_config(
                **{
                    # never joined nor committed (the partition is assigned), but required
                    "group.id": f"{settings.kafka.topic_prefix}template-feed",
                    "enable.auto.commit": False,
                    "enable.partition.eof": True,
                }
            )
        )
        self._consumer.assign([TopicPartition(self.topic, 0, OFFSET_BEGINNING)])
        self._stopped = threading.Event()
        self.ready = threading.Event()  # the topic was read to its end once
        self._follower = threading.Thread(target=self._follow, name="template-feed", daemon=True)

    @KAFKA
    def catch_up(self, timeout_s: float = 30.0) -> int:
        """Apply every record on the topic now; returns how many. ``KafkaOutage`` when the
        end is not reached within ``timeout_s``."""
        applied = self._read_to_end(time.monotonic() + timeout_s)
        if applied is None:
            raise KafkaOutage(f"the end of {self.topic} was not reached in {timeout_s}s")
        return applied

    def start(self) -> None:
        """Follow the topic in a thread; one that has not caught up first reads to the end
        there, however long the broker takes, and then sets ``ready``."""
        self._follower.start()

    def close(self) -> None:
        self._stopped.set()
        if self._follower.is_alive():
            self._follower.join(5)
        self._consumer.close()
        self._codec.close()

    def _read_to_end(self, deadline: float | None) -> int | None:
        """The records up to the end applied (how many), or None at the deadline or stop."""
        applied = 0
        while not self._stopped.is_set() and (deadline is None or time.monotonic() < deadline):
            message = self._poll()
            if message is None:
                continue
            if _at_end(message):
                self.ready.set()
                return applied
            applied += self._apply(message)
        return None

    def _follow(self) -> None:
        if not self.ready.is_set():
            self._read_to_end(None)
        while not self._stopped.is_set():
            message = self._poll()
            if message is not None and not _at_end(message):
                self._apply(message)

    def _poll(self) -> Message | None:
        try:
            return self._consumer.poll(0.5)
        except KafkaException as error:  # librdkafka reconnects: the loop goes on
            log.warning("reading %s: %s", self.topic, type(error).__name__)
            return None

    def _apply(self, message: Message) -> int:
        error = message.error()
        if error is not None:
            log.warning("reading %s: %s", self.topic, error.str())
            return 0
        key = (message.key() or b"").decode(errors="replace")
        value = message.value()
        try:
            record = None if value is None else self._templates.decode(value)
        except CodecError as problem:  # the store keeps what it had; the record stays on Kafka
            log.error("template %r at offset %s is not read: %s", key, message.offset(), problem)
            return 0
        self._store.apply(key, record)
        log.info("template %r %s", key, "removed" if record is None else "updated")
        return 1


def _at_end(message: Message) -> bool:
    error = message.error()
    return error is not None and error.code() == KafkaError._PARTITION_EOF
