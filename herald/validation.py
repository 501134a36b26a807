"""Checks a notification request before it is published or fanned out (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from herald.errors import ValidationError
from herald.models import Channel, NotificationRequest, Priority
from herald.settings import PipelineSettings


def validate(request: NotificationRequest, limits: PipelineSettings) -> None:
    for name in ("request_id", "source", "category", "template_id"):
        if not getattr(request, name).strip():
            raise ValidationError(name, "must not be empty")
    if not request.recipients:
        raise ValidationError("recipients", "must name at least one user")
    if len(request.recipients) > limits.max_recipients:
        raise ValidationError(
            "recipients", f"{len(request.recipients)} is over the limit of {limits.max_recipients}"
        )
    if any(not user.strip() for user in request.recipients):
        raise ValidationError("recipients", "contains an empty user id")
    if request.channels is not None and not request.channels:
        raise ValidationError("channels", "must be omitted or name at least one channel")
    if request.send_at and request.expires_at and request.expires_at <= request.send_at:
        raise ValidationError("expires_at", "must be after send_at")
    size = len(json.dumps(request.data, ensure_ascii=False).encode())
    if size > limits.max_data_bytes:
        raise ValidationError("data", f"{size} bytes is over the limit of {limits.max_data_bytes}")


def _enum(enum: type[Channel] | type[Priority], field: str, value: Any) -> Any:
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise ValidationError(field, f"{value!r} is not one of {allowed}") from None


def _time(field: str, value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(field, f"{value!r} is not an ISO 8601 time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _strings(field: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(field, "must be a list of strings")
    return value


def request_from_json(obj: Mapping[str, Any], now: datetime) -> NotificationRequest:
    """A request from its JSON form (what `herald publish` and the HTTP API take)."""
    for name in ("request_id", "source", "category", "template_id", "recipients"):
        if name not in obj:
            raise ValidationError(name, "is required")
    data = obj.get("data") or {}
    if not isinstance(data, dict):
        raise ValidationError("data", "must be an object")
    channels = obj.get("channels")
    return NotificationRequest(
        request_id=str(obj["request_id"]),
        source=str(obj["source"]),
        category=str(obj["category"]),
        priority=_enum(Priority, "priority", obj.get("priority", "normal")),
        template_id=str(obj["template_id"]),
        recipients=_strings("recipients", obj["recipients"]),
        created_at=_time("created_at", obj.get("created_at")) or now,
        data={str(k): str(v) for k, v in data.items()},
        channels=None
        if channels is None
        else tuple(_enum(Channel, "channels", c) for c in _strings("channels", channels)),
        send_at=_time("send_at", obj.get("send_at")),
        expires_at=_time("expires_at", obj.get("expires_at")),
        tenant=None if obj.get("tenant") is None else str(obj["tenant"]),
    )
