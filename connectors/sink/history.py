"""Reading the history back: a notification's timeline, and a user's recent notifications."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from cassandra.cluster import Session

from connectors.sink.migrate import keyspace_name
from connectors.sink.rows import StatusRow, channel_of, day_bucket
from connectors.sink.store import STATUS_TABLE, USER_TABLE
from herald.models import State
from herald.settings import CassandraSettings

_COLUMNS = (
    "notification_id, occurred_at, channel, state, attempt, request_id, user_id, day, reason, "
    "detail, provider, provider_message_id, tenant"
)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _row(found: Any, day: date) -> StatusRow:
    return StatusRow(
        notification_id=found.notification_id,
        occurred_at=_utc(found.occurred_at),
        channel=channel_of(found.channel),
        state=State(found.state),
        attempt=found.attempt,
        request_id=found.request_id,
        user_id=found.user_id,
        day=day,
        reason=found.reason,
        detail=found.detail,
        provider=found.provider,
        provider_message_id=found.provider_message_id,
        tenant=found.tenant,
    )


def _keyspace(keyspace: str) -> str:
    return keyspace_name(CassandraSettings(keyspace=keyspace))


def timeline(
    session: Session, keyspace: str, notification_id: str, tz: str = "UTC"
) -> list[StatusRow]:
    """Every status of one notification, oldest first."""
    columns = _COLUMNS.replace(" day,", "")
    query = f"SELECT {columns} FROM {_keyspace(keyspace)}.{STATUS_TABLE} WHERE notification_id = %s"  # noqa: S608
    rows = session.execute(query, (notification_id,))
    return [_row(found, day_bucket(_utc(found.occurred_at), tz)) for found in rows]


def recent_for_user(
    session: Session,
    keyspace: str,
    user_id: str,
    days: int = 7,
    *,
    now: datetime | None = None,
    tz: str = "UTC",
    limit: int = 1000,
) -> list[StatusRow]:
    """A user's statuses of the last ``days`` day buckets (today included), newest first,
    at most ``limit`` of them."""
    today = day_bucket(now or datetime.now(UTC), tz)
    query = (
        f"SELECT {_COLUMNS} FROM {_keyspace(keyspace)}.{USER_TABLE} "  # noqa: S608
        "WHERE user_id = %s AND day = %s LIMIT %s"
    )
    found: list[StatusRow] = []
    for back in range(days):
        if len(found) >= limit:
            break
        day = today - timedelta(days=back)
        rows = session.execute(query, (user_id, day, limit - len(found)))
        found.extend(_row(row, row.day.date()) for row in rows)
    return found
