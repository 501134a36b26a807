"""What the API takes and answers, as pydantic models: FastAPI checks bodies against them
and publishes them as the OpenAPI spec."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from herald.analytics import funnel
from herald.history import RequestCounts, StatusRow
from herald.models import (
    Channel,
    NotificationRequest,
    Platform,
    Priority,
    State,
    UserContacts,
    UserPreferences,
)
from herald.profiles import (
    contacts_from_json,
    contacts_json,
    preferences_from_json,
    preferences_json,
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class NotificationIn(_Body):
    """The SDK's request (herald.models.NotificationRequest). ``request_id`` may be left out:
    the Idempotency-Key header gives it, or the API makes one up."""

    request_id: str | None = Field(default=None, min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=200)
    category: str = Field(min_length=1, max_length=200)
    priority: Priority = Priority.NORMAL
    template_id: str = Field(min_length=1, max_length=200)
    recipients: list[str] = Field(min_length=1)
    data: dict[str, str] = Field(default_factory=dict)
    channels: list[Channel] | None = None
    send_at: datetime | None = None
    expires_at: datetime | None = None
    tenant: str | None = None

    def to_request(self, request_id: str, now: datetime) -> NotificationRequest:
        return NotificationRequest(
            request_id=request_id,
            source=self.source,
            category=self.category,
            priority=self.priority,
            template_id=self.template_id,
            recipients=list(self.recipients),
            created_at=now,
            data=dict(self.data),
            channels=None if self.channels is None else tuple(self.channels),
            send_at=_aware(self.send_at),
            expires_at=_aware(self.expires_at),
            tenant=self.tenant,
        )


class SeedSendIn(_Body):
    """The seed design's body (`POST /api/v1/notifications/send`)."""

    user_ids: list[str] = Field(min_length=1)
    channels: list[Channel] | None = None
    template_id: str = Field(min_length=1, max_length=200)
    data: dict[str, Any] = Field(default_factory=dict)
    schedule_time: datetime | None = None
    category: str = Field(default="general", min_length=1, max_length=200)
    priority: Priority = Priority.NORMAL

    def as_notification(self) -> NotificationIn:
        return NotificationIn(
            source="api",
            category=self.category,
            priority=self.priority,
            template_id=self.template_id,
            recipients=self.user_ids,
            data={key: str(value) for key, value in self.data.items()},
            channels=self.channels,
            send_at=self.schedule_time,
        )


class Accepted(BaseModel):
    request_id: str
    recipients: int


class Status(BaseModel):
    notification_id: str
    request_id: str
    user_id: str
    state: State
    occurred_at: datetime
    channel: Channel | None
    attempt: int
    reason: str | None
    detail: str | None
    provider: str | None
    provider_message_id: str | None
    tenant: str | None

    @classmethod
    def of(cls, row: StatusRow) -> Status:
        return cls(
            notification_id=row.notification_id,
            request_id=row.request_id,
            user_id=row.user_id,
            state=row.state,
            occurred_at=row.occurred_at,
            channel=row.channel,
            attempt=row.attempt,
            reason=row.reason,
            detail=row.detail,
            provider=row.provider,
            provider_message_id=row.provider_message_id,
            tenant=row.tenant,
        )


class Timeline(BaseModel):
    notification_id: str
    statuses: list[Status]


class HistoryPage(BaseModel):
    items: list[Status]
    next_cursor: str | None


class Delivery(BaseModel):
    """How far the messages got: each stage counts those that reached it or went beyond (an
    opened message was delivered); rates are of the sent (null before any was sent)."""

    sent: int
    delivered: int
    opened: int
    clicked: int
    bounced: int
    delivery_rate: float | None
    open_rate: float | None
    click_rate: float | None

    @classmethod
    def of(cls, latest: Mapping[State, int]) -> Delivery:
        found = funnel(latest)
        return cls(
            sent=found.sent,
            delivered=found.delivered,
            opened=found.opened,
            clicked=found.clicked,
            bounced=found.bounced,
            delivery_rate=found.rate(found.delivered),
            open_rate=found.rate(found.opened),
            click_rate=found.rate(found.clicked),
        )


class ChannelCounts(BaseModel):
    channel: Channel | None = Field(description="null: decided before a channel (expired)")
    states: dict[State, int]
    delivery: Delivery


class RequestSummary(BaseModel):
    """A request's notifications counted by their latest state, in all and per channel."""

    request_id: str
    notifications: int
    states: dict[State, int]
    delivery: Delivery
    channels: list[ChannelCounts]

    @classmethod
    def of(cls, counts: RequestCounts) -> RequestSummary:
        total = counts.total()
        return cls(
            request_id=counts.request_id,
            notifications=counts.notifications,
            states=dict(total),
            delivery=Delivery.of(total),
            channels=[
                ChannelCounts(channel=channel, states=dict(states), delivery=Delivery.of(states))
                for channel, states in sorted(
                    counts.by_channel.items(), key=lambda item: item[0] or ""
                )
            ],
        )


class Problem(BaseModel):
    detail: str


Answers = dict[int | str, dict[str, object]]


def answers(extra: Answers) -> Answers:
    """A route's answers for the spec: the 401 and 403 of every keyed route, and ``extra``."""
    return {401: {"model": Problem}, 403: {"model": Problem}, **extra}


class Checks(BaseModel):
    ready: bool
    checks: dict[str, bool]


# -- preferences and contacts ---------------------------------------------------------------
_CLOCK = r"^([01]\d|2[0-3]):[0-5]\d$"


class QuietHoursBody(_Body):
    """Local wall-clock times; ``end`` before ``start`` spans midnight."""

    start: str = Field(pattern=_CLOCK, examples=["22:00"])
    end: str = Field(pattern=_CLOCK, examples=["07:00"])
    timezone: str = Field(min_length=1, max_length=64, examples=["Europe/Paris"])


class PreferencesIn(_Body):
    """What a user wants: channels and categories opted out of, quiet hours, limits, locale."""

    opted_out_channels: list[Channel] = Field(default_factory=list)
    opted_out_categories: list[str] = Field(default_factory=list, max_length=200)
    quiet_hours: QuietHoursBody | None = None
    limit_overrides: dict[Channel, int] = Field(
        default_factory=dict, description="Notifications a window per channel (0: none)."
    )
    locale: str | None = Field(default=None, max_length=35, examples=["fr-CA"])

    def to_model(self, user_id: str) -> UserPreferences:
        return preferences_from_json(user_id, self.model_dump(mode="json"))

    @classmethod
    def of(cls, prefs: UserPreferences) -> PreferencesIn:
        return cls.model_validate(preferences_json(prefs))


class PreferencesPatch(_Body):
    """The fields to change; the others keep their value. ``null`` clears one."""

    opted_out_channels: list[Channel] | None = None
    opted_out_categories: list[str] | None = Field(default=None, max_length=200)
    quiet_hours: QuietHoursBody | None = None
    limit_overrides: dict[Channel, int] | None = None
    locale: str | None = Field(default=None, max_length=35)


class DeviceBody(_Body):
    token: str = Field(min_length=1, max_length=4096)
    platform: Platform


class ContactsIn(_Body):
    """Where a user is reached: push devices, a phone (E.164 once stored) and an email."""

    devices: list[DeviceBody] = Field(default_factory=list, max_length=50)
    phone: str | None = Field(default=None, max_length=40, examples=["+12015550123"])
    email: str | None = Field(default=None, max_length=320, examples=["ann@example.com"])

    def to_model(self, user_id: str) -> UserContacts:
        return contacts_from_json(user_id, self.model_dump(mode="json"))

    @classmethod
    def of(cls, contacts: UserContacts) -> ContactsIn:
        return cls.model_validate(contacts_json(contacts))


class ContactsPatch(_Body):
    """The fields to change; the others keep their value. ``null`` clears one."""

    devices: list[DeviceBody] | None = Field(default=None, max_length=50)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=320)


class Preferences(PreferencesIn):
    user_id: str
    updated_at: datetime | None = Field(description="When the broker took it; null: never set")


class Contacts(ContactsIn):
    user_id: str
    updated_at: datetime | None = Field(description="When the broker took it; null: never set")
