"""The pipeline's Avro contracts: which schema goes on which topic, registered under the
topic-name strategy (``<topic>-value``) with BACKWARD compatibility enforced by the registry."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from herald.codec import AvroCodec
from herald.encoders import RepeatingEncoder
from herald.errors import CodecError
from herald.models import (
    AddressInvalidated,
    ChannelMessage,
    DeliveryStatus,
    NotificationRequest,
    NotificationTemplate,
    UserContacts,
    UserNotification,
    UserPreferences,
)
from herald.topics import TopicNames

SCHEMA_DIR = Path(str(resources.files("herald.schemas")))  # package data
COMPATIBILITY = "BACKWARD"


class Record(Protocol):
    def to_record(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=Record)


@cache
def load_schema(file_name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / file_name).read_text())
    return schema


@dataclass(frozen=True)
class Contract(Generic[R]):
    file_name: str
    from_record: Callable[[dict[str, Any]], R]


REQUEST = Contract("notification_request.avsc", NotificationRequest.from_record)
USER_NOTIFICATION = Contract("user_notification.avsc", UserNotification.from_record)
CHANNEL_MESSAGE = Contract("channel_message.avsc", ChannelMessage.from_record)
STATUS = Contract("delivery_status.avsc", DeliveryStatus.from_record)
PREFERENCES = Contract("user_preferences.avsc", UserPreferences.from_record)
CONTACTS = Contract("user_contacts.avsc", UserContacts.from_record)
INVALIDATION = Contract("address_invalidated.avsc", AddressInvalidated.from_record)
TEMPLATE = Contract("notification_template.avsc", NotificationTemplate.from_record)


def topic_contracts(names: TopicNames) -> dict[str, Contract[Any]]:
    return {
        names.requests: REQUEST,
        names.per_user: REQUEST,
        **{names.channel(c): CHANNEL_MESSAGE for c in ("push", "sms", "email")},
        names.status: STATUS,
        names.user_preferences: PREFERENCES,
        names.user_contacts: CONTACTS,
        names.address_invalidations: INVALIDATION,
        names.templates: TEMPLATE,
    }


def subject(topic: str) -> str:
    return f"{topic}-value"


class TopicCodec(Generic[R]):
    """Typed records of one contract on one topic; the schema is registered on creation."""

    def __init__(self, codec: AvroCodec, topic: str, contract: Contract[R]) -> None:
        self.topic = topic
        self._codec = codec
        self._contract = contract
        self.schema_id = codec.register(subject(topic), load_schema(contract.file_name))
        # Records that are read again and again (a user's profile, once per notification)
        # decode once: the same bytes always give the same frozen record.
        self.decode_cached: Callable[[bytes], R] = lru_cache(maxsize=100_000)(self.decode)

    def encode(self, record: R) -> bytes:
        return self._codec.encode(self.schema_id, record.to_record())

    def repeating(self, varying: Sequence[str]) -> RepeatingEncoder:
        """An encoder of this topic's records that encodes the fields outside ``varying``
        once for every run of records that repeat them (the same bytes as ``encode``)."""
        return RepeatingEncoder(self.schema_id, self._codec.schema(self.schema_id), varying)

    def decode(self, data: bytes | None) -> R:
        if data is None:
            raise CodecError(f"a record on {self.topic} has no value")
        try:
            return self._contract.from_record(self._codec.decode(data, self.schema_id))
        except (KeyError, ValueError, TypeError) as exc:
            raise CodecError(
                f"a record on {self.topic} is not a {self._contract.file_name}: {exc!r}"
            ) from exc


def register_all(codec: AvroCodec, names: TopicNames) -> dict[str, int]:
    """Enforce BACKWARD compatibility on every pipeline subject and register its schema."""
    ids = {}
    for topic, contract in topic_contracts(names).items():
        codec.set_compatibility(subject(topic), COMPATIBILITY)
        ids[topic] = codec.register(subject(topic), load_schema(contract.file_name))
    return ids
