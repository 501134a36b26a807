"""Creating and describing topics through the Kafka admin API."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from herald.errors import HeraldError
from herald.kafka import KAFKA


class TopicError(HeraldError):
    """A topic could not be created or described."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 1
    replication_factor: int = 1
    config: dict[str, str] = field(default_factory=dict)


def ensure_topics(admin: AdminClient, specs: Iterable[TopicSpec], timeout_s: float = 30) -> None:
    """Create the topics that do not exist yet; existing ones are left as they are."""
    new = [
        NewTopic(
            s.name,
            num_partitions=s.partitions,
            replication_factor=s.replication_factor,
            config=dict(s.config),
        )
        for s in specs
    ]
    if not new:
        return
    for name, future in admin.create_topics(new, operation_timeout=timeout_s).items():
        try:
            future.result(timeout=timeout_s)
        except KafkaException as exc:
            error = exc.args[0]
            if isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            raise TopicError(f"creating topic {name}: {exc}") from exc


def partition_count(admin: AdminClient, topic: str, timeout_s: float = 10) -> int:
    metadata = admin.list_topics(topic, timeout=timeout_s)
    described = metadata.topics.get(topic)
    if described is None or described.error is not None:
        raise TopicError(f"topic {topic} is not there: {described.error if described else ''}")
    return len(described.partitions)


@KAFKA
def describe(admin: AdminClient, topics: Iterable[str], timeout_s: float = 10) -> dict[str, int]:
    """The partition count of each of ``topics`` that exists (missing ones are left out)."""
    metadata = admin.list_topics(timeout=timeout_s)
    return {
        name: len(metadata.topics[name].partitions)
        for name in topics
        if name in metadata.topics and metadata.topics[name].error is None
    }


@dataclass(frozen=True)
class TopicNames:
    """The pipeline's topics, all under one configurable prefix."""

    prefix: str

    @property
    def requests(self) -> str:
        return f"{self.prefix}requests"

    @property
    def per_user(self) -> str:
        """Requests split by the partition of their recipients (streams/shards.py)."""
        return f"{self.prefix}requests-by-user"

    @property
    def status(self) -> str:
        return f"{self.prefix}status"

    @property
    def dead_letter(self) -> str:
        return f"{self.prefix}dead-letter"

    @property
    def user_preferences(self) -> str:
        return f"{self.prefix}user-preferences"

    @property
    def user_contacts(self) -> str:
        return f"{self.prefix}user-contacts"

    @property
    def address_invalidations(self) -> str:
        return f"{self.prefix}address-invalidations"

    @property
    def templates(self) -> str:
        """Every template, keyed by id; each worker reads it whole (herald.template_feed)."""
        return f"{self.prefix}templates"

    def channel(self, channel: str) -> str:
        return f"{self.prefix}channel.{channel}"

    @property
    def deferred_keys(self) -> tuple[str, str]:
        """The Redis sorted sets of deferred notifications: waiting, and being released."""
        return f"{self.prefix}deferred", f"{self.prefix}deferred:processing"

    def retry_keys(self, channel: str) -> tuple[str, str]:
        """The Redis sorted sets of channel messages waiting for another attempt."""
        return f"{self.prefix}retry.{channel}", f"{self.prefix}retry.{channel}:processing"

    def ledger_key(self, notification_id: str, channel: str, device: str = "") -> str:
        """The idempotency ledger entry of one delivery (Redis). ``device`` tells apart the
        push deliveries of one notification to a user's several devices (a digest, never the
        token itself)."""
        suffix = f":{device}" if device else ""
        return f"{self.prefix}ledger:{notification_id}:{channel}{suffix}"

    def message_key(self, provider: str, provider_message_id: str) -> str:
        """What a provider's message id stands for (Redis; herald.receipts.MessageRef),
        written with the ledger entry of the delivery that got it, read by receipts."""
        return f"{self.prefix}message:{provider}:{provider_message_id}"

    def receipt_once_key(self, once: str) -> str:
        """Set by the first receipt of an event (herald.receipts.ProviderEvent.once_key)."""
        return f"{self.prefix}receipt:{once}"

    def bucket_key(self, provider: str) -> str:
        """The token bucket of one provider account, shared by every sender worker (Redis)."""
        return f"{self.prefix}bucket:{provider}"

    def breaker_key(self, provider: str) -> str:
        """The circuit breaker of one provider, shared by every sender worker (Redis)."""
        return f"{self.prefix}breaker:{provider}"

    def pipeline(self) -> frozenset[str]:
        """The topics records may be sent back to (by `herald dlq replay`)."""
        return frozenset(
            {
                self.requests,
                self.per_user,
                self.user_preferences,
                self.user_contacts,
                self.address_invalidations,
                self.status,
                *(self.channel(c) for c in ("push", "sms", "email")),
            }
        )


# Large fan-out requests carry up to 100,000 recipients in one record.
REQUEST_MAX_BYTES = 16 * 1024 * 1024


def pipeline_topics(names: TopicNames, partitions: int) -> list[TopicSpec]:
    """Every topic the pipeline needs. Per-user, profile and channel topics share a partition
    count so that a user's events, preferences and contacts land on the same partition number."""
    compacted = {"cleanup.policy": "compact"}
    return [
        TopicSpec(names.requests, partitions, config={"max.message.bytes": str(REQUEST_MAX_BYTES)}),
        TopicSpec(names.per_user, partitions),
        TopicSpec(names.user_preferences, partitions, config=compacted),
        TopicSpec(names.user_contacts, partitions, config=compacted),
        TopicSpec(names.address_invalidations, partitions),
        TopicSpec(names.templates, 1, config=compacted),
        *(TopicSpec(names.channel(c), partitions) for c in ("push", "sms", "email")),
        TopicSpec(names.status, partitions),
        TopicSpec(names.dead_letter, 1, config={"retention.ms": str(30 * 24 * 3600 * 1000)}),
    ]
