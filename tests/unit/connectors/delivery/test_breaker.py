"""The circuit breaker's state machine: opening, cooldown, the single probe, closing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from connectors.delivery.breaker import (
    BreakerPolicy,
    BreakerState,
    Phase,
    admit,
    dumps,
    loads,
    phase,
    probe_due_at,
    record,
)

POLICY = BreakerPolicy(failures=3, window_s=10.0, cooldown_s=5.0, probe_timeout_s=2.0)


def failed(times: list[float], state: BreakerState = BreakerState()) -> BreakerState:
    for t in times:
        state = record(state, False, t, POLICY)
    return state


def test_a_closed_breaker_admits_and_successes_change_nothing() -> None:
    state = record(BreakerState(), True, 1.0, POLICY)
    assert state == BreakerState()
    assert admit(state, 1.0, POLICY) == (True, state)


def test_failures_within_the_window_open_it() -> None:
    state = failed([1.0, 2.0])
    assert phase(state, 2.0, POLICY) is Phase.CLOSED
    state = failed([3.0], state)
    assert phase(state, 3.0, POLICY) is Phase.OPEN
    assert admit(state, 7.9, POLICY) == (False, state)
    assert probe_due_at(state, POLICY) == 8.0


def test_failures_spread_wider_than_the_window_do_not_open_it() -> None:
    state = failed([0.0, 6.0, 11.0, 17.0, 22.0])  # never three within 10 s
    assert phase(state, 22.0, POLICY) is Phase.CLOSED
    assert state.failures == (17.0, 22.0)


def test_after_the_cooldown_exactly_one_probe_goes_through() -> None:
    state = failed([1.0, 2.0, 3.0])
    assert phase(state, 8.0, POLICY) is Phase.HALF_OPEN
    allowed, probing = admit(state, 8.0, POLICY)
    assert allowed
    assert probing.probe_at == 8.0
    assert admit(probing, 9.0, POLICY) == (False, probing)  # the probe is still out
    allowed, again = admit(probing, 10.5, POLICY)  # the probe got lost: another one
    assert allowed
    assert again.probe_at == 10.5


def test_a_successful_probe_closes_it() -> None:
    _, probing = admit(failed([1.0, 2.0, 3.0]), 8.0, POLICY)
    closed = record(probing, True, 8.5, POLICY)
    assert closed == BreakerState()
    assert phase(closed, 8.5, POLICY) is Phase.CLOSED


def test_a_failed_probe_opens_it_for_another_cooldown() -> None:
    _, probing = admit(failed([1.0, 2.0, 3.0]), 8.0, POLICY)
    reopened = record(probing, False, 8.5, POLICY)
    assert phase(reopened, 13.4, POLICY) is Phase.OPEN
    assert phase(reopened, 13.5, POLICY) is Phase.HALF_OPEN


def test_late_answers_while_open_change_nothing() -> None:
    state = failed([1.0, 2.0, 3.0])
    assert record(state, True, 4.0, POLICY) == state
    assert record(state, False, 4.0, POLICY) == state


def test_the_stored_form_round_trips() -> None:
    for state in (
        BreakerState(),
        failed([1.0, 2.5]),
        admit(failed([1.0, 2.0, 3.0]), 9.0, POLICY)[1],
    ):
        assert loads(dumps(state)) == state
    assert loads(None) == BreakerState()


@given(st.lists(st.tuples(st.booleans(), st.floats(min_value=0, max_value=5)), max_size=60))
def test_it_opens_exactly_when_enough_recent_failures_came_while_closed(
    outcomes: list[tuple[bool, float]],
) -> None:
    state, now = BreakerState(), 0.0
    for ok, gap in outcomes:
        now += gap
        before = state
        state = record(state, ok, now, POLICY)
        if phase(before, now, POLICY) is not Phase.CLOSED:
            continue
        recent = [t for t in before.failures if t > now - POLICY.window_s]
        opened = not ok and len(recent) + 1 >= POLICY.failures
        assert (phase(state, now, POLICY) is Phase.OPEN) == opened
        assert len(state.failures) < POLICY.failures
