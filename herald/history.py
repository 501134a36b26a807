"""The history tables' rows, and reading them back: a notification's timeline, and a user's
notifications newest first, a page at a time.

The sink writes these rows (connectors/sink/); the HTTP API, the demo and the tests read them.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.query import PreparedStatement

from herald.errors import ConfigurationError, HeraldError
from herald.migrate import keyspace_name
from herald.models import Channel, State
from herald.settings import CassandraSettings

STATUS_TABLE = "notification_status"
USER_TABLE = "user_notifications"
REQUEST_TABLE = "request_outcomes"
# A request's outcomes are spread over this many partitions (changing it orphans old rows).
REQUEST_BUCKETS = 16
# A clustering column cannot be null: a status decided before any channel (expired) is
# stored under the empty channel and read back as None.
NO_CHANNEL = ""

_COLUMNS = (
    "notification_id, occurred_at, channel, state, attempt, request_id, user_id, day, reason, "
    "detail, provider, provider_message_id, tenant"
)


@dataclass(frozen=True, slots=True)
class StatusRow:
    """One event as stored: the same columns in both tables (``day`` keys the user's table)."""

    notification_id: str
    occurred_at: datetime  # aware, UTC, millisecond precision (as Cassandra keeps it)
    channel: Channel | None
    state: State
    attempt: int
    request_id: str
    user_id: str
    day: date
    reason: str | None = None
    detail: str | None = None
    provider: str | None = None
    provider_message_id: str | None = None
    tenant: str | None = None


@cache
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(f"day_bucket_tz {name!r} is not an IANA time zone") from exc


def day_bucket(occurred_at: datetime, tz: str = "UTC") -> date:
    """The calendar day of ``occurred_at`` in ``tz``: the user table's partition bucket."""
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=UTC)
    return occurred_at.astimezone(zone(tz)).date()


def channel_column(channel: Channel | None) -> str:
    return NO_CHANNEL if channel is None else channel.value


def channel_of(column: str) -> Channel | None:
    return None if column == NO_CHANNEL else Channel(column)


def request_bucket(notification_id: str) -> int:
    """Which of its request's partitions a notification's outcome lives in."""
    return zlib.crc32(notification_id.encode()) % REQUEST_BUCKETS


_STATE_RANK = {state: rank for rank, state in enumerate(State)}


def write_time(row: StatusRow) -> int:
    """The write timestamp (µs) of a row of ``request_outcomes``: the event's time, so the
    latest event wins in any arrival order; events of one millisecond in State's order."""
    return int(row.occurred_at.timestamp() * 1000) * 1000 + _STATE_RANK[row.state]


@dataclass(frozen=True, slots=True)
class RequestCounts:
    """A request's notifications by their latest state, per channel."""

    request_id: str
    notifications: int
    by_channel: dict[Channel | None, Counter[State]] = field(default_factory=dict)

    def total(self) -> Counter[State]:
        return sum(self.by_channel.values(), Counter())


def count_outcomes(request_id: str, rows: Iterable[Any]) -> RequestCounts:
    """Pure: outcome rows (notification_id, channel, state) counted."""
    notifications: set[str] = set()
    by_channel: dict[Channel | None, Counter[State]] = {}
    for row in rows:
        notifications.add(row.notification_id)
        by_channel.setdefault(channel_of(row.channel), Counter())[State(row.state)] += 1
    return RequestCounts(request_id, len(notifications), by_channel)


class BadCursor(HeraldError):
    """A page cursor that this reader did not hand out."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next page of a user's history starts: a day bucket, the driver's paging
    state inside it (None: its start), and the oldest day the listing reaches."""

    day: date
    paging_state: bytes | None
    oldest: date

    def encode(self) -> str:
        state = None if self.paging_state is None else self.paging_state.hex()
        raw = json.dumps({"d": self.day.isoformat(), "p": state, "o": self.oldest.isoformat()})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            state = raw["p"]
            return cls(
                day=date.fromisoformat(raw["d"]),
                paging_state=None if state is None else bytes.fromhex(state),
                oldest=date.fromisoformat(raw["o"]),
            )
        except (ValueError, KeyError, TypeError, binascii.Error) as error:
            raise BadCursor("the cursor is not one this API handed out") from error


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[StatusRow]
    cursor: Cursor | None  # None: this was the last page


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


def _raised(ok: bool, result: Any) -> bool:
    if not ok:
        raise result
    return True


class HistoryReader:
    """Both history tables of one keyspace, their queries prepared once."""

    def __init__(self, session: Session, keyspace: str, tz: str = "UTC") -> None:
        space = keyspace_name(CassandraSettings(keyspace=keyspace))
        self._session = session
        self._tz = tz
        timeline_columns = _COLUMNS.replace(" day,", "")
        self._timeline: PreparedStatement = session.prepare(
            f"SELECT {timeline_columns} FROM {space}.{STATUS_TABLE} WHERE notification_id = ?"  # noqa: S608
        )
        self._day: PreparedStatement = session.prepare(
            f"SELECT {_COLUMNS} FROM {space}.{USER_TABLE} WHERE user_id = ? AND day = ?"  # noqa: S608
        )
        self._outcomes: PreparedStatement = session.prepare(
            f"SELECT notification_id, channel, state FROM {space}.{REQUEST_TABLE} "  # noqa: S608
            "WHERE request_id = ? AND bucket = ?"
        )

    def request_counts(self, request_id: str) -> RequestCounts:
        """A request's notifications counted by latest state: every bucket read at once, each
        a page at a time (a campaign's million rows take seconds, not memory)."""
        results = execute_concurrent_with_args(
            self._session,
            self._outcomes,
            [(request_id, bucket) for bucket in range(REQUEST_BUCKETS)],
            concurrency=REQUEST_BUCKETS,
            results_generator=False,
        )
        rows = (row for ok, result in results if _raised(ok, result) for row in result)
        return count_outcomes(request_id, rows)

    def timeline(self, notification_id: str) -> list[StatusRow]:
        """Every status of one notification, oldest first."""
        rows = self._session.execute(self._timeline, (notification_id,))
        return [_row(found, day_bucket(_utc(found.occurred_at), self._tz)) for found in rows]

    def first_page(self, user_id: str, days: int, now: datetime | None = None) -> Cursor:
        """Where a listing of the last ``days`` day buckets (today included) starts."""
        today = day_bucket(now or datetime.now(UTC), self._tz)
        return Cursor(day=today, paging_state=None, oldest=today - timedelta(days=days - 1))

    def page(self, user_id: str, cursor: Cursor, limit: int) -> Page:
        """Up to ``limit`` of a user's statuses from ``cursor`` on, newest first."""
        found: list[StatusRow] = []
        day, state = cursor.day, cursor.paging_state
        while day >= cursor.oldest:
            bound = self._day.bind((user_id, day))
            bound.fetch_size = limit - len(found)
            result = self._session.execute(bound, paging_state=state)
            found.extend(_row(row, row.day.date()) for row in result.current_rows)
            state = result.paging_state
            if state is None:
                day -= timedelta(days=1)
            if len(found) >= limit:
                break
        more = day >= cursor.oldest
        return Page(found, Cursor(day, state, cursor.oldest) if more else None)


def timeline(
    session: Session, keyspace: str, notification_id: str, tz: str = "UTC"
) -> list[StatusRow]:
    """Every status of one notification, oldest first."""
    return HistoryReader(session, keyspace, tz).timeline(notification_id)


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
    reader = HistoryReader(session, keyspace, tz)
    return reader.page(user_id, reader.first_page(user_id, days, now), limit).rows
