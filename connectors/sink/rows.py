"""Pure mapping from a status event to its history rows, and the keys those rows live under.

Every status event becomes exactly one row in ``notification_status``, one in
``user_notifications`` and one in ``request_outcomes``. The rows' primary keys are derived from
the event alone, so a redelivered event overwrites the same rows instead of adding new ones;
``request_outcomes`` keeps one row per notification and channel, the latest event's.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from cassandra.query import UNSET_VALUE

from herald.history import StatusRow, channel_column, day_bucket, request_bucket, write_time
from herald.models import DeliveryStatus

ROWS_PER_STATUS = 3  # the rows each status event writes, one per history table
UNSET: object = UNSET_VALUE  # the driver's marker for a column left out of an insert


def to_millis(moment: datetime) -> datetime:
    """Truncated to milliseconds, as Cassandra's ``timestamp`` stores it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)


def to_row(status: DeliveryStatus, tz: str = "UTC") -> StatusRow:
    occurred_at = to_millis(status.occurred_at)
    return StatusRow(
        notification_id=status.notification_id,
        occurred_at=occurred_at,
        channel=status.channel,
        state=status.state,
        attempt=status.attempt,
        request_id=status.request_id,
        user_id=status.user_id,
        day=day_bucket(occurred_at, tz),
        reason=status.reason,
        detail=status.detail,
        provider=status.provider,
        provider_message_id=status.provider_message_id,
        tenant=status.tenant,
    )


Key = tuple[object, ...]


def status_key(row: StatusRow) -> Key:
    """``notification_status``'s primary key: partition, then the timeline's clustering."""
    return (
        row.notification_id,
        row.occurred_at,
        channel_column(row.channel),
        row.state.value,
        row.attempt,
    )


def user_key(row: StatusRow) -> Key:
    """``user_notifications``'s primary key: the (user, day) partition, then clustering."""
    return (
        row.user_id,
        row.day,
        row.occurred_at,
        row.notification_id,
        channel_column(row.channel),
        row.state.value,
        row.attempt,
    )


def request_params(row: StatusRow) -> Key:
    """What ``REQUEST_COLUMNS`` bind, then the write's timestamp (``USING TIMESTAMP ?``)."""
    return (
        row.request_id,
        request_bucket(row.notification_id),
        row.notification_id,
        channel_column(row.channel),
        row.state.value,
        row.user_id,
        row.occurred_at,
        write_time(row),
    )


def _unset_if_none(value: str | None) -> object:
    return UNSET if value is None else value


def _details(row: StatusRow) -> Key:
    # An absent value is left unset rather than bound as null: a null writes a tombstone.
    return (
        row.request_id,
        _unset_if_none(row.reason),
        _unset_if_none(row.detail),
        _unset_if_none(row.provider),
        _unset_if_none(row.provider_message_id),
        _unset_if_none(row.tenant),
    )


def status_params(row: StatusRow) -> Key:
    """What ``STATUS_COLUMNS`` bind: the key, the user, then the details."""
    return (*status_key(row), row.user_id, *_details(row))


def user_params(row: StatusRow) -> Key:
    """What ``USER_COLUMNS`` bind: the key, then the details."""
    return (*user_key(row), *_details(row))


_DETAILS = ("request_id", "reason", "detail", "provider", "provider_message_id", "tenant")
STATUS_COLUMNS = (
    "notification_id",
    "occurred_at",
    "channel",
    "state",
    "attempt",
    "user_id",
    *_DETAILS,
)
USER_COLUMNS = (
    "user_id",
    "day",
    "occurred_at",
    "notification_id",
    "channel",
    "state",
    "attempt",
    *_DETAILS,
)

REQUEST_COLUMNS = (
    "request_id",
    "bucket",
    "notification_id",
    "channel",
    "state",
    "user_id",
    "occurred_at",
)


# Unlogged batches group rows whose partitions live on the same replicas (one request, no
# forwarding by the coordinator), kept small: Cassandra warns about batches over 5 KiB, and
# counts about half again what ``params_size`` does (measured: 4,096 estimated, 5,760 counted).
# Past 10 partitions it warns too, unless ``unlogged_batch_across_partitions_warn_threshold``
# is raised to BATCH_MAX_ROWS, as the local stack does (docs/stack.md).
BATCH_MAX_ROWS = 32
BATCH_MAX_BYTES = 3 * 1024

T = TypeVar("T")


def params_size(params: Key) -> int:
    return sum(len(v) if isinstance(v, str) else 8 for v in params)


def batch_groups(
    items: Sequence[T],
    group_of: Callable[[T], Hashable],
    size_of: Callable[[T], int],
    max_rows: int = BATCH_MAX_ROWS,
    max_bytes: int = BATCH_MAX_BYTES,
) -> list[list[T]]:
    """Items grouped by ``group_of`` (first-seen order), each group cut to at most
    ``max_rows`` items and about ``max_bytes``; a group of one is written as a plain insert."""
    by_group: dict[Hashable, list[tuple[list[T], list[int]]]] = {}
    for item in items:
        chunks = by_group.setdefault(group_of(item), [([], [0])])
        last, size = chunks[-1]
        item_size = size_of(item)
        if last and (len(last) >= max_rows or size[0] + item_size > max_bytes):
            last, size = [], [0]
            chunks.append((last, size))
        last.append(item)
        size[0] += item_size
    return [chunk for chunks in by_group.values() for chunk, _ in chunks]
