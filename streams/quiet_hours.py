"""Quiet hours: whether a user's local clock is inside their quiet window, and until when.

Windows are read on the local wall clock: ``[start_minute, end_minute)`` minutes after local
midnight, spanning midnight when ``end_minute < start_minute``; equal ends mean no quiet hours.
Minutes are clamped to ``[0, 1440]``. An unknown time zone name is read as UTC, so a bad
preference record still gets quiet hours, an offset away, rather than stopping the pipeline.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from herald.models import QuietHours

_DAY_MINUTES = 24 * 60


def zone(name: str) -> tzinfo:
    """The IANA zone ``name``, or UTC when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return UTC


def _minutes(value: int) -> timedelta:
    return timedelta(minutes=min(max(value, 0), _DAY_MINUTES))


def in_window(local: datetime, start: timedelta, end: timedelta) -> bool:
    """Whether the wall time of ``local`` lies in ``[start, end)`` after midnight."""
    since_midnight = local.replace(tzinfo=None) - datetime.combine(local.date(), time())
    if start < end:
        return start <= since_midnight < end
    if end < start:
        return since_midnight >= start or since_midnight < end
    return False


def _gap_end(lower: datetime, upper: datetime, tz: tzinfo) -> datetime:
    """First whole second in ``(lower, upper]`` whose UTC offset differs from ``lower``'s."""
    low, high = int(lower.timestamp()), int(upper.timestamp())
    before = lower.astimezone(tz).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).utcoffset() == before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def wall_instants(day: date, at: timedelta, tz: tzinfo) -> list[datetime]:
    """The UTC instants at which the clock in ``tz`` reads ``at`` after midnight of ``day``.

    Two for an ambiguous (fall-back) time, earliest first; for a time skipped by a
    spring-forward gap, the first instant after the gap.
    """
    wall = datetime.combine(day, time()) + at
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) != wall:
        # In a gap, fold=0 uses the offset before it and fold=1 the one after, so the
        # transition lies between the two readings (PEP 495).
        low, high = sorted((first, second))
        return [_gap_end(low, high, tz)]
    return sorted({first, second})


def quiet_until(now: datetime, quiet: QuietHours | None) -> datetime | None:
    """When the quiet window holding ``now`` ends (aware UTC), or None outside quiet hours.

    The end is the earliest instant after ``now`` at which the local clock reads
    ``end_minute``: its first occurrence when ambiguous, the end of the gap when skipped.
    A fall-back shift that turns the clock back out of the window for a while does not end it.
    """
    if quiet is None:
        return None
    tz = zone(quiet.timezone)
    local = now.astimezone(tz)
    start, end = _minutes(quiet.start_minute), _minutes(quiet.end_minute)
    if not in_window(local, start, end):
        return None
    days = (local.date() + timedelta(days=offset) for offset in range(2))  # today, tomorrow
    return min(t for day in days for t in wall_instants(day, end, tz) if t > now)
