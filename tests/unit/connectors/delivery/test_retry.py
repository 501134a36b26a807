"""The retry decision: due times, jitter bounds, Retry-After, attempts and deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.delivery.retry import GiveUp, GiveUpReason, RetryAt, after_failure, backoff_s
from herald.settings import DeliverySettings

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SETTINGS = DeliverySettings(max_attempts=5, backoff_base_s=1.0, backoff_max_s=300.0)


def test_the_first_failure_retries_within_the_base_delay() -> None:
    step = after_failure(0, None, None, NOW, SETTINGS, lambda: 0.5)
    assert step == RetryAt(NOW + timedelta(seconds=0.5), 1)


def test_backoff_doubles_per_attempt_until_the_cap() -> None:
    assert [backoff_s(a, 1.0, 300.0, lambda: 1.0) for a in range(11)] == [
        1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 300.0, 300.0,
    ]  # fmt: skip
    assert backoff_s(10_000, 1.0, 300.0, lambda: 1.0) == 300.0  # no overflow


def test_retry_after_is_honoured_exactly_instead_of_the_backoff() -> None:
    step = after_failure(3, None, 42.0, NOW, SETTINGS, lambda: 0.0)
    assert step == RetryAt(NOW + timedelta(seconds=42), 4)


def test_a_negative_retry_after_means_now() -> None:
    assert after_failure(0, None, -5.0, NOW, SETTINGS, lambda: 0.9) == RetryAt(NOW, 1)


def test_the_last_attempt_gives_up_as_exhausted() -> None:
    assert after_failure(4, None, None, NOW, SETTINGS, lambda: 0.0) == GiveUp(
        GiveUpReason.ATTEMPTS_EXHAUSTED
    )
    assert isinstance(after_failure(3, None, None, NOW, SETTINGS, lambda: 0.0), RetryAt)


def test_exhaustion_wins_over_a_passed_deadline() -> None:
    step = after_failure(4, NOW - timedelta(hours=1), None, NOW, SETTINGS, lambda: 0.0)
    assert step == GiveUp(GiveUpReason.ATTEMPTS_EXHAUSTED)


def test_a_due_time_after_the_deadline_gives_up() -> None:
    deadline = NOW + timedelta(seconds=10)
    assert after_failure(0, deadline, 11.0, NOW, SETTINGS, lambda: 0.0) == GiveUp(
        GiveUpReason.DEADLINE_PASSED
    )
    assert after_failure(0, deadline, 10.0, NOW, SETTINGS, lambda: 0.0) == RetryAt(deadline, 1)


@pytest.mark.parametrize("attempts", [1, 2])
def test_small_attempt_budgets(attempts: int) -> None:
    settings = DeliverySettings(max_attempts=attempts)
    outcomes = [after_failure(a, None, None, NOW, settings, lambda: 0.5) for a in range(3)]
    assert [isinstance(o, RetryAt) for o in outcomes] == [a + 1 < attempts for a in range(3)]


@given(
    attempt=st.integers(min_value=0, max_value=200),
    draw=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
    base=st.floats(min_value=0.01, max_value=10.0),
    cap=st.floats(min_value=0.01, max_value=3600.0),
    max_attempts=st.integers(min_value=1, max_value=50),
    retry_after=st.one_of(st.none(), st.floats(min_value=0.0, max_value=7200.0)),
    deadline_s=st.one_of(st.none(), st.floats(min_value=-100.0, max_value=10_000.0)),
)
def test_every_decision_keeps_the_rules(
    attempt: int,
    draw: float,
    base: float,
    cap: float,
    max_attempts: int,
    retry_after: float | None,
    deadline_s: float | None,
) -> None:
    settings = DeliverySettings(max_attempts=max_attempts, backoff_base_s=base, backoff_max_s=cap)
    deadline = None if deadline_s is None else NOW + timedelta(seconds=deadline_s)
    step = after_failure(attempt, deadline, retry_after, NOW, settings, lambda: draw)
    if attempt + 1 >= max_attempts:
        assert step == GiveUp(GiveUpReason.ATTEMPTS_EXHAUSTED)
        return
    ceiling = min(cap, base * 2.0**attempt)
    if isinstance(step, GiveUp):  # only when the wait would end after the deadline
        assert step.reason is GiveUpReason.DEADLINE_PASSED
        assert deadline is not None
        latest = retry_after if retry_after is not None else draw * ceiling
        assert deadline < NOW + timedelta(seconds=latest + 1e-3)
        return
    assert step.attempt == attempt + 1
    assert deadline is None or step.due <= deadline
    delay = (step.due - NOW).total_seconds()
    if retry_after is not None:
        assert delay == pytest.approx(retry_after, abs=1e-3)  # timedelta keeps microseconds
    else:
        assert 0.0 <= delay <= ceiling + 1e-3
