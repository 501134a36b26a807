"""What the API takes and answers, as pydantic models: FastAPI checks bodies against them
and publishes them as the OpenAPI spec."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from herald.history import RequestCounts, StatusRow
from herald.models import Channel, NotificationRequest, Priority, State


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


class ChannelCounts(BaseModel):
    channel: Channel | None = Field(description="null: decided before a channel (expired)")
    states: dict[State, int]


class RequestSummary(BaseModel):
    """A request's notifications counted by their latest state, in all and per channel."""

    request_id: str
    notifications: int
    states: dict[State, int]
    channels: list[ChannelCounts]

    @classmethod
    def of(cls, counts: RequestCounts) -> RequestSummary:
        return cls(
            request_id=counts.request_id,
            notifications=counts.notifications,
            states=dict(counts.total()),
            channels=[
                ChannelCounts(channel=channel, states=dict(states))
                for channel, states in sorted(
                    counts.by_channel.items(), key=lambda item: item[0] or ""
                )
            ],
        )


class Problem(BaseModel):
    detail: str


class Checks(BaseModel):
    ready: bool
    checks: dict[str, bool]
