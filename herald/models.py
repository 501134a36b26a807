"""Typed records mirroring the Avro contracts in schemas/ (the .avsc files are the source of truth).

Each record converts to and from the plain dicts fastavro reads and writes. Timestamps are
timezone-aware UTC datetimes; enums are StrEnums, which fastavro writes as their symbols.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol


class Priority(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class Channel(StrEnum):
    PUSH = "push"
    SMS = "sms"
    EMAIL = "email"


class Platform(StrEnum):
    ANDROID = "android"
    IOS = "ios"
    WEB = "web"


class State(StrEnum):
    ACCEPTED = "accepted"
    SUPPRESSED = "suppressed"
    DEFERRED = "deferred"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    BOUNCED = "bounced"
    OPENED = "opened"
    CLICKED = "clicked"
    EXPIRED = "expired"
    DEAD_LETTERED = "dead_lettered"
    UNKNOWN = "unknown"


class Reason(StrEnum):
    """Herald's own reasons; providers' error codes travel as plain strings."""

    OPTED_OUT_CHANNEL = "opted_out_channel"
    OPTED_OUT_CATEGORY = "opted_out_category"
    QUIET_HOURS = "quiet_hours"
    RATE_LIMITED = "rate_limited"
    DUPLICATE = "duplicate"
    NO_ADDRESS = "no_address"
    TEMPLATE_ERROR = "template_error"
    EXPIRED = "expired"
    NOT_DUE = "not_due"


class AvroRecord:
    """``to_record``: the plain dict fastavro writes, derived from the dataclass fields.

    On the hot path (four records per notification), so the field names are looked up once per
    class and scalars, most of the values, pass straight through.
    """

    __slots__ = ()

    def to_record(self) -> dict[str, Any]:
        return {name: _plain(getattr(self, name)) for name in _field_names(type(self))}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # per dataclass, filled on first use


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | datetime):  # StrEnums are str
        return value
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}  # StrEnum keys: values
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: _plain(getattr(value, name)) for name in _field_names(type(value))}
    return value


def _channels(value: list[str] | None) -> tuple[Channel, ...] | None:
    return None if value is None else tuple(Channel(c) for c in value)


def notification_id(request_id: str, user_id: str) -> str:
    """Deterministic: replaying a request gives its recipients the same ids."""
    digest = hashlib.blake2b(f"{request_id}\x1f{user_id}".encode(), digest_size=16)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class NotificationRequest(AvroRecord):
    request_id: str
    source: str
    category: str
    priority: Priority
    template_id: str
    recipients: list[str]
    created_at: datetime
    data: dict[str, str] = field(default_factory=dict)
    channels: tuple[Channel, ...] | None = None
    send_at: datetime | None = None
    expires_at: datetime | None = None
    tenant: str | None = None

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> NotificationRequest:
        return cls(
            request_id=r["request_id"],
            source=r["source"],
            category=r["category"],
            priority=Priority(r["priority"]),
            template_id=r["template_id"],
            recipients=r["recipients"],
            created_at=r["created_at"],
            data=r["data"],
            channels=_channels(r["channels"]),
            send_at=r["send_at"],
            expires_at=r["expires_at"],
            tenant=r["tenant"],
        )

    def for_user(self, user_id: str) -> UserNotification:
        return UserNotification(
            notification_id=notification_id(self.request_id, user_id),
            request_id=self.request_id,
            user_id=user_id,
            source=self.source,
            category=self.category,
            priority=self.priority,
            template_id=self.template_id,
            data=self.data,
            channels=self.channels,
            send_at=self.send_at,
            expires_at=self.expires_at,
            created_at=self.created_at,
            tenant=self.tenant,
        )


@dataclass(frozen=True, slots=True)
class UserNotification(AvroRecord):
    notification_id: str
    request_id: str
    user_id: str
    source: str
    category: str
    priority: Priority
    template_id: str
    created_at: datetime
    data: dict[str, str] = field(default_factory=dict)
    channels: tuple[Channel, ...] | None = None
    send_at: datetime | None = None
    expires_at: datetime | None = None
    tenant: str | None = None

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> UserNotification:
        return cls(
            notification_id=r["notification_id"],
            request_id=r["request_id"],
            user_id=r["user_id"],
            source=r["source"],
            category=r["category"],
            priority=Priority(r["priority"]),
            template_id=r["template_id"],
            created_at=r["created_at"],
            data=r["data"],
            channels=_channels(r["channels"]),
            send_at=r["send_at"],
            expires_at=r["expires_at"],
            tenant=r["tenant"],
        )

    def as_request(self) -> NotificationRequest:
        """The request for this user alone: ``for_user`` of it gives this notification back
        (its id is derived from the request id and the user id)."""
        return NotificationRequest(
            request_id=self.request_id,
            source=self.source,
            category=self.category,
            priority=self.priority,
            template_id=self.template_id,
            recipients=[self.user_id],
            created_at=self.created_at,
            data=self.data,
            channels=self.channels,
            send_at=self.send_at,
            expires_at=self.expires_at,
            tenant=self.tenant,
        )


@dataclass(frozen=True, slots=True)
class ChannelMessage(AvroRecord):
    notification_id: str
    request_id: str
    user_id: str
    channel: Channel
    address: str
    body: str
    category: str
    priority: Priority
    platform: Platform | None = None
    title: str | None = None
    html: str | None = None
    attempt: int = 0
    deadline: datetime | None = None
    tenant: str | None = None

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> ChannelMessage:
        return cls(
            notification_id=r["notification_id"],
            request_id=r["request_id"],
            user_id=r["user_id"],
            channel=Channel(r["channel"]),
            address=r["address"],
            body=r["body"],
            category=r["category"],
            priority=Priority(r["priority"]),
            platform=None if r["platform"] is None else Platform(r["platform"]),
            title=r["title"],
            html=r["html"],
            attempt=r["attempt"],
            deadline=r["deadline"],
            tenant=r["tenant"],
        )


class StatusSubject(Protocol):
    """What a status is about: a notification, or one of its channel messages."""

    @property
    def notification_id(self) -> str: ...
    @property
    def request_id(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def tenant(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class DeliveryStatus(AvroRecord):
    notification_id: str
    request_id: str
    user_id: str
    state: State
    occurred_at: datetime
    channel: Channel | None = None
    reason: str | None = None
    detail: str | None = None
    provider: str | None = None
    provider_message_id: str | None = None
    attempt: int = 0
    tenant: str | None = None

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> DeliveryStatus:
        return cls(
            notification_id=r["notification_id"],
            request_id=r["request_id"],
            user_id=r["user_id"],
            state=State(r["state"]),
            occurred_at=r["occurred_at"],
            channel=None if r["channel"] is None else Channel(r["channel"]),
            reason=r["reason"],
            detail=r["detail"],
            provider=r["provider"],
            provider_message_id=r["provider_message_id"],
            attempt=r["attempt"],
            tenant=r["tenant"],
        )

    @classmethod
    def of(
        cls,
        subject: StatusSubject,
        state: State,
        at: datetime,
        *,
        channel: Channel | None = None,
        reason: str | None = None,
        detail: str | None = None,
        provider: str | None = None,
        provider_message_id: str | None = None,
        attempt: int = 0,
    ) -> DeliveryStatus:
        """The one way every stage makes a status event: ``subject`` reached ``state``."""
        return cls(
            notification_id=subject.notification_id,
            request_id=subject.request_id,
            user_id=subject.user_id,
            state=state,
            occurred_at=at,
            channel=channel,
            reason=reason,
            detail=detail,
            provider=provider,
            provider_message_id=provider_message_id,
            attempt=attempt,
            tenant=subject.tenant,
        )


@dataclass(frozen=True, slots=True)
class QuietHours:
    start_minute: int  # minutes after local midnight
    end_minute: int  # before start_minute: the window spans midnight
    timezone: str  # IANA name


@dataclass(frozen=True, slots=True)
class UserPreferences(AvroRecord):
    user_id: str
    opted_out_channels: frozenset[Channel] = frozenset()
    opted_out_categories: frozenset[str] = frozenset()
    quiet_hours: QuietHours | None = None
    limit_overrides: dict[Channel, int] = field(default_factory=dict)
    locale: str | None = None

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> UserPreferences:
        quiet = r["quiet_hours"]
        return cls(
            user_id=r["user_id"],
            opted_out_channels=frozenset(Channel(c) for c in r["opted_out_channels"]),
            opted_out_categories=frozenset(r["opted_out_categories"]),
            quiet_hours=None if quiet is None else QuietHours(**quiet),
            limit_overrides={Channel(k): v for k, v in r["limit_overrides"].items()},
            locale=r["locale"],
        )


@dataclass(frozen=True, slots=True)
class Device:
    token: str
    platform: Platform


@dataclass(frozen=True, slots=True)
class UserContacts(AvroRecord):
    user_id: str
    devices: tuple[Device, ...] = ()
    phone: str | None = None
    email: str | None = None

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> UserContacts:
        return cls(
            user_id=r["user_id"],
            devices=tuple(Device(d["token"], Platform(d["platform"])) for d in r["devices"]),
            phone=r["phone"],
            email=r["email"],
        )


@dataclass(frozen=True, slots=True)
class AddressInvalidated(AvroRecord):
    user_id: str
    channel: Channel
    address: str
    provider: str
    reason: str
    occurred_at: datetime
    notification_id: str | None = None

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> AddressInvalidated:
        return cls(
            user_id=r["user_id"],
            channel=Channel(r["channel"]),
            address=r["address"],
            provider=r["provider"],
            reason=r["reason"],
            occurred_at=r["occurred_at"],
            notification_id=r["notification_id"],
        )


@dataclass(frozen=True, slots=True)
class TemplateVariant:
    locale: str
    channel: Channel
    fields: dict[str, str]  # jinja2 sources by field name (herald.templating checks them)


@dataclass(frozen=True, slots=True)
class NotificationTemplate(AvroRecord):
    template_id: str
    channels: tuple[Channel, ...]
    default_locale: str
    variants: tuple[TemplateVariant, ...]
    updated_at: datetime
    track_email: bool = False

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> NotificationTemplate:
        return cls(
            template_id=r["template_id"],
            channels=tuple(Channel(c) for c in r["channels"]),
            default_locale=r["default_locale"],
            variants=tuple(
                TemplateVariant(v["locale"], Channel(v["channel"]), dict(v["fields"]))
                for v in r["variants"]
            ),
            updated_at=r["updated_at"],
            track_email=r["track_email"],
        )
