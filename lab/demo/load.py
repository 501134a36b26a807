"""The demo's load: its requests, the statuses they must produce, and what is still missing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from herald.models import Channel, DeliveryStatus, NotificationRequest, Priority
from lab.demo.users import PERSONAS, DemoUser
from streams.quiet_hours import quiet_until

Key = tuple[str, str]  # (request_id, user_id): one notification
Load = list[tuple[str, NotificationRequest]]  # (label, request), in publishing order


def _clear_for_push(user: DemoUser, now: datetime) -> bool:
    """Push would be queued for this user: a device, no opt-out, no quiet hours, no limit."""
    prefs = user.prefs
    return (
        bool(user.contacts.devices)
        and Channel.PUSH not in prefs.opted_out_channels
        and quiet_until(now, prefs.quiet_hours) is None
        and not prefs.limit_overrides
    )


ORDER = {"name": "Alex", "order_id": "A-1042"}
ALERT = {"name": "Alex", "device": "a new laptop"}
DIGEST = {"name": "Alex", "count": "3"}


@dataclass(frozen=True)
class _Spec:
    label: str
    recipients: list[str]
    template: str = "order_shipped"
    category: str = "transactional"
    priority: Priority = Priority.NORMAL
    data: Mapping[str, str] = field(default_factory=lambda: ORDER)
    channels: tuple[Channel, ...] | None = None
    expires_at: datetime | None = None


def _specs(users: Sequence[DemoUser], now: datetime) -> list[_Spec]:
    ids = [u.user_id for u in users]
    quiet = [u.user_id for u in users if quiet_until(now, u.prefs.quiet_hours) is not None]
    clear = [u.user_id for u in users if _clear_for_push(u, now)]
    return [
        _Spec("order shipped", ids[: max(len(ids) // 3, len(PERSONAS))]),
        _Spec("weekly digest", ids, "weekly_digest", "marketing", Priority.LOW, DIGEST),
        _Spec("security alert", ids[::6], "security_alert", "security", Priority.HIGH, ALERT),
        _Spec("critical alert", quiet[:10], "security_alert", "security", Priority.CRITICAL, ALERT),
        *[_Spec("sms burst", ids[:1], channels=(Channel.SMS,)) for _ in range(5)],
        _Spec("broken template", clear[:3], "broken"),
        _Spec("expired", ids[:5], expires_at=now - timedelta(minutes=5)),
    ]


def demo_load(users: Sequence[DemoUser], now: datetime, run_id: str) -> Load:
    """The demo's requests; those that would have no recipients are left out."""
    return [
        (
            spec.label,
            NotificationRequest(
                request_id=f"demo-{run_id}-{number:02d}",
                source="herald-demo",
                category=spec.category,
                priority=spec.priority,
                template_id=spec.template,
                recipients=spec.recipients,
                created_at=now,
                data=dict(spec.data),
                channels=spec.channels,
                expires_at=spec.expires_at,
            ),
        )
        for number, spec in enumerate(_specs(users, now), 1)
        if spec.recipients
    ]


def expected_channels(
    load: Load, channels_of: Callable[[str], tuple[Channel, ...]]
) -> dict[Key, frozenset[Channel]]:
    """Per notification, the channels that must each get a status."""
    return {
        (r.request_id, user_id): frozenset(
            r.channels if r.channels is not None else channels_of(r.template_id)
        )
        for _, r in load
        for user_id in r.recipients
    }


def gaps(
    expected: Mapping[Key, frozenset[Channel]], statuses: Sequence[DeliveryStatus]
) -> dict[Key, frozenset[Channel]]:
    """The channels still without a status; a status with no channel covers them all."""
    seen: dict[Key, set[Channel | None]] = defaultdict(set)
    for status in statuses:
        seen[(status.request_id, status.user_id)].add(status.channel)
    missing = {}
    for key, wanted in expected.items():
        got = seen.get(key, set())
        if None not in got and (left := wanted - got):
            missing[key] = frozenset(left)
    return missing


def describe_gaps(
    missing: Mapping[Key, frozenset[Channel]], labels: Mapping[str, str]
) -> list[str]:
    return [
        f"{labels.get(request_id, request_id)} to {user_id}: {', '.join(sorted(channels))}"
        for (request_id, user_id), channels in sorted(missing.items())
    ]
