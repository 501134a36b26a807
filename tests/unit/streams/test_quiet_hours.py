from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from herald.models import QuietHours
from streams.quiet_hours import quiet_until

NIGHT = (22 * 60, 7 * 60)


def at(zone: str, y: int, mo: int, d: int, h: int, mi: int, fold: int = 0) -> datetime:
    """The UTC instant at which the clock in ``zone`` reads the given wall time."""
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def test_no_quiet_hours_and_empty_windows_never_defer() -> None:
    now = utc(2024, 6, 1, 3)
    assert quiet_until(now, None) is None
    assert quiet_until(now, QuietHours(180, 180, "UTC")) is None


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2024, 6, 1, 23, 0), utc(2024, 6, 2, 7)),
        (utc(2024, 6, 1, 22, 0), utc(2024, 6, 2, 7)),  # the start is inside
        (utc(2024, 6, 1, 0, 0), utc(2024, 6, 1, 7)),
        (utc(2024, 6, 1, 6, 59, 59), utc(2024, 6, 1, 7)),
        (utc(2024, 6, 1, 7, 0), None),  # the end is outside
        (utc(2024, 6, 1, 12, 0), None),
        (utc(2024, 6, 1, 21, 59, 59), None),
    ],
)
def test_a_window_across_midnight(now: datetime, expected: datetime | None) -> None:
    assert quiet_until(now, QuietHours(*NIGHT, "UTC")) == expected


def test_a_window_within_one_day() -> None:
    lunch = QuietHours(12 * 60, 13 * 60 + 30, "UTC")
    assert quiet_until(utc(2024, 6, 1, 12, 10), lunch) == utc(2024, 6, 1, 13, 30)
    assert quiet_until(utc(2024, 6, 1, 11, 59), lunch) is None
    assert quiet_until(utc(2024, 6, 1, 13, 30), lunch) is None


def test_the_window_is_read_on_the_users_clock() -> None:
    paris = QuietHours(*NIGHT, "Europe/Paris")
    assert quiet_until(utc(2024, 1, 15, 21, 30), paris) == utc(2024, 1, 16, 6)  # 22:30 CET
    assert quiet_until(utc(2024, 7, 15, 5, 30), paris) is None  # 07:30 CEST
    kolkata = QuietHours(*NIGHT, "Asia/Kolkata")  # +05:30
    assert quiet_until(utc(2024, 7, 15, 1, 0), kolkata) == utc(2024, 7, 15, 1, 30)


def test_an_unknown_time_zone_is_read_as_utc() -> None:
    for name in ("Mars/Olympus_Mons", "", "../etc/passwd", "zone1970.tab"):
        assert quiet_until(utc(2024, 6, 1, 23), QuietHours(*NIGHT, name)) == utc(2024, 6, 2, 7)


def test_an_end_skipped_by_spring_forward_ends_the_window_after_the_gap() -> None:
    # New York, 2024-03-10: 02:00 EST -> 03:00 EDT, so 02:30 never happens.
    quiet = QuietHours(60, 150, "America/New_York")
    until = quiet_until(at("America/New_York", 2024, 3, 10, 1, 50), quiet)
    assert until == at("America/New_York", 2024, 3, 10, 3, 0) == utc(2024, 3, 10, 7)


def test_a_half_hour_gap() -> None:
    # Lord Howe, 2024-10-06: 02:00 +10:30 -> 02:30 +11, so 02:15 never happens.
    quiet = QuietHours(0, 135, "Australia/Lord_Howe")
    until = quiet_until(utc(2024, 10, 5, 14, 30), quiet)  # 01:00 local
    assert until == utc(2024, 10, 5, 15, 30)
    assert until is not None
    assert until.astimezone(ZoneInfo("Australia/Lord_Howe")).strftime("%H:%M") == "02:30"


def test_an_end_on_a_skipped_day() -> None:
    # Samoa skipped 2011-12-30 entirely, moving from UTC-10 to UTC+14.
    quiet = QuietHours(*NIGHT, "Pacific/Apia")
    until = quiet_until(at("Pacific/Apia", 2011, 12, 29, 23, 0), quiet)
    assert until == at("Pacific/Apia", 2011, 12, 31, 0, 0) == utc(2011, 12, 30, 10)


def test_an_ambiguous_end_is_its_first_occurrence() -> None:
    # New York, 2024-11-03: 02:00 EDT -> 01:00 EST, so 01:30 happens twice.
    quiet = QuietHours(0, 90, "America/New_York")
    first, second = utc(2024, 11, 3, 5, 30), utc(2024, 11, 3, 6, 30)
    assert quiet_until(at("America/New_York", 2024, 11, 3, 0, 30), quiet) == first
    assert quiet_until(at("America/New_York", 2024, 11, 3, 1, 10), quiet) == first
    # Once the clock has been turned back, 01:10 is quiet again, until the second 01:30.
    assert quiet_until(at("America/New_York", 2024, 11, 3, 1, 10, fold=1), quiet) == second
    assert quiet_until(at("America/New_York", 2024, 11, 3, 1, 40), quiet) is None


def test_minutes_past_a_day_are_clamped_to_midnight() -> None:
    evening = QuietHours(20 * 60, 24 * 60, "UTC")
    assert quiet_until(utc(2024, 6, 1, 23, 59), evening) == utc(2024, 6, 2)


# Properties, over zones with whole-hour, half-hour and 45-minute offsets and DST shifts.

ZONES = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/St_Johns",
    "Pacific/Chatham",
]


@cache
def transitions(zone: str, year: int) -> tuple[datetime, ...]:
    """The instants in ``year`` at which ``zone`` changes its UTC offset."""
    tz = ZoneInfo(zone)
    found = []
    step = timedelta(hours=6)
    t = datetime(year, 1, 1, tzinfo=UTC)
    while t.year == year:
        low, high = t, t + step
        if low.astimezone(tz).utcoffset() != high.astimezone(tz).utcoffset():
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                same = middle.astimezone(tz).utcoffset() == low.astimezone(tz).utcoffset()
                low, high = (middle, high) if same else (low, middle)
            found.append(high)
        t += step
    return tuple(found)


def wall_minute(instant: datetime, offset: timedelta) -> int:
    wall = instant + offset
    return wall.hour * 60 + wall.minute


@st.composite
def cases(draw: st.DrawFn) -> tuple[datetime, QuietHours]:
    """An instant and quiet hours; often an end near a DST shift and an instant before it."""
    zone = draw(st.sampled_from(ZONES))
    year = draw(st.integers(2000, 2040))
    start = draw(st.integers(0, 1439))
    shifts = transitions(zone, year)
    if shifts and draw(st.booleans()):
        shift = draw(st.sampled_from(shifts))
        offset = (shift - timedelta(seconds=1)).astimezone(ZoneInfo(zone)).utcoffset()
        assert offset is not None
        end = (wall_minute(shift, offset) + draw(st.integers(-30, 90))) % 1440
        now = shift + timedelta(seconds=draw(st.integers(-36 * 3600, 6 * 3600)))
        return now, QuietHours(start, end, zone)
    now = draw(
        st.datetimes(datetime(year, 1, 1), datetime(year, 12, 31, 23, 59), timezones=st.just(UTC))
    )
    return now, QuietHours(start, draw(st.integers(0, 1439)), zone)


def local_minute(instant: datetime, zone: str) -> float:
    local = instant.astimezone(ZoneInfo(zone))
    return local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 60e6


def inside(minute: float, start: int, end: int) -> bool:
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end


def skipped(zone: str, until: datetime, end: int) -> bool:
    """Whether ``until`` is a spring-forward shift that jumped over ``end`` on the clock."""
    tz = ZoneInfo(zone)
    before, after = (until - timedelta(seconds=1)).astimezone(tz), until.astimezone(tz)
    if before.utcoffset() == after.utcoffset():
        return False
    wall = datetime.combine(after.date(), datetime.min.time()) + timedelta(minutes=end)
    earlier = wall - timedelta(days=1)
    return any(
        before.replace(tzinfo=None) < w < after.replace(tzinfo=None) for w in (wall, earlier)
    )


@settings(max_examples=600, deadline=None)
@given(cases())
def test_quiet_until_agrees_with_the_local_clock(case: tuple[datetime, QuietHours]) -> None:
    now, quiet = case
    zone, start, end = quiet.timezone, quiet.start_minute, quiet.end_minute
    until = quiet_until(now, quiet)
    if until is None:
        assert not inside(local_minute(now, zone), start, end)
        return
    assert until > now
    assert until.tzinfo is not None and until.utcoffset() == timedelta(0)
    assert inside(local_minute(now, zone), start, end)
    if local_minute(until, zone) != end:
        assert skipped(zone, until, end)
    # The window does not end before `until`: just before it, the clock is still inside.
    just_before = until - timedelta(seconds=1)
    if just_before > now:
        assert inside(local_minute(just_before, zone), start, end)


@settings(max_examples=300, deadline=None)
@given(cases(), st.floats(0, 1, exclude_max=True))
def test_asking_again_before_the_end_gives_the_same_end(
    case: tuple[datetime, QuietHours], fraction: float
) -> None:
    """None only where a fall-back shift turned the clock back out of the window for a while."""
    now, quiet = case
    until = quiet_until(now, quiet)
    if until is not None:
        later = now + (until - now) * fraction
        assert quiet_until(later, quiet) in (until, None)


def test_a_fall_back_out_of_the_window_does_not_end_it() -> None:
    # New York, 2024-11-03: at 02:00 EDT the clock goes back to 01:00 EST, before the start.
    quiet = QuietHours(90, 180, "America/New_York")
    now = at("America/New_York", 2024, 11, 3, 1, 45)
    end = at("America/New_York", 2024, 11, 3, 3, 0)
    assert quiet_until(now, quiet) == end
    assert quiet_until(at("America/New_York", 2024, 11, 3, 1, 15, fold=1), quiet) is None
    assert quiet_until(at("America/New_York", 2024, 11, 3, 1, 45, fold=1), quiet) == end
