from __future__ import annotations

from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herald.models import Channel, UserPreferences
from streams.decision import Policy
from streams.limiter import allowed, limit_for, record

POLICY = Policy(
    mandatory_categories=frozenset(),
    limits=MappingProxyType({Channel.PUSH: 10, Channel.SMS: 3, Channel.EMAIL: 20}),
    category_limits=MappingProxyType({"marketing": MappingProxyType({Channel.SMS: 1})}),
    window_s=3600.0,
)


def test_the_channel_default_applies_without_prefs_or_category_limit() -> None:
    assert limit_for(Channel.SMS, "orders", None, POLICY) == 3
    assert limit_for(Channel.SMS, "orders", UserPreferences("u"), POLICY) == 3


def test_a_category_limit_beats_the_channel_default_on_its_channels_only() -> None:
    assert limit_for(Channel.SMS, "marketing", None, POLICY) == 1
    assert limit_for(Channel.PUSH, "marketing", None, POLICY) == 10


def test_a_users_override_beats_everything_on_its_channel_only() -> None:
    prefs = UserPreferences("u", limit_overrides={Channel.SMS: 7})
    assert limit_for(Channel.SMS, "marketing", prefs, POLICY) == 7
    assert limit_for(Channel.SMS, "orders", prefs, POLICY) == 7
    assert limit_for(Channel.EMAIL, "orders", prefs, POLICY) == 20


def test_the_nth_send_over_the_limit_is_refused() -> None:
    log: tuple[float, ...] = ()
    verdicts = []
    for second in range(5):
        now = 1000.0 + second
        verdicts.append(allowed(log, now, 3, 60.0))
        if verdicts[-1]:
            log = record(log, now, 60.0)
    assert verdicts == [True, True, True, False, False]
    assert log == (1000.0, 1001.0, 1002.0)


def test_a_send_exactly_one_window_old_has_left_the_window() -> None:
    now, window = 5000.0, 60.0
    assert allowed([now - window], now, 1, window)
    assert not allowed([now - window + 0.001], now, 1, window)
    assert record([now - window, now - 30], now, window) == (now - 30, now)


@pytest.mark.parametrize("limit", [0, -1])
def test_a_limit_of_zero_or_less_refuses_every_send(limit: int) -> None:
    assert not allowed((), 0.0, limit, 60.0)


def test_record_drops_old_entries_and_appends_now() -> None:
    assert record((1.0, 50.0, 90.0), 100.0, 60.0) == (50.0, 90.0, 100.0)
    assert record((), 100.0, 60.0) == (100.0,)


# A send at each attempt the limiter allows; attempts in time order, as a user's events are.
attempts = st.lists(st.integers(0, 10_000), max_size=60).map(sorted)


def simulate(times: list[int], limit: int, window: float) -> tuple[list[float], list[float]]:
    log: tuple[float, ...] = ()
    sent, refused = [], []
    for t in map(float, times):
        if allowed(log, t, limit, window):
            log = record(log, t, window)
            sent.append(t)
        else:
            refused.append(t)
    return sent, refused


def sends_in_window(sent: list[float], now: float, window: float) -> int:
    return sum(1 for t in sent if now - window < t <= now)


@given(attempts, st.integers(1, 6), st.sampled_from([1.0, 10.0, 60.0, 600.0]))
def test_never_more_than_the_limit_in_any_window(times: list[int], limit: int, w: float) -> None:
    sent, _ = simulate(times, limit, w)
    assert all(sends_in_window(sent, t, w) <= limit for t in sent)


@given(attempts, st.integers(1, 6), st.sampled_from([1.0, 10.0, 60.0, 600.0]))
def test_a_send_is_refused_only_when_the_window_is_full(
    times: list[int], limit: int, w: float
) -> None:
    sent, refused = simulate(times, limit, w)
    assert all(sends_in_window(sent, t, w) >= limit for t in refused)


@given(
    st.lists(st.floats(0, 1e6, allow_nan=False), max_size=30),
    st.floats(0, 1e6, allow_nan=False),
    st.floats(0.5, 1e5, allow_nan=False),
)
def test_record_keeps_only_the_window_and_ends_with_now(
    log: list[float], now: float, window: float
) -> None:
    after = record(log, now, window)
    assert after[-1] == now
    assert all(t > now - window for t in after[:-1])
    assert len(after) - 1 == sum(1 for t in log if t > now - window)
