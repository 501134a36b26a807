"""Counting a request's outcomes: the pure part of GET /v1/requests/{id}."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

from herald.history import count_outcomes
from herald.models import Channel, State


def outcome(notification_id: str, channel: str, state: State) -> SimpleNamespace:
    return SimpleNamespace(notification_id=notification_id, channel=channel, state=state.value)


def test_outcomes_are_counted_per_channel_and_notification() -> None:
    rows = [
        outcome("n-1", "push", State.SENT),
        outcome("n-1", "email", State.SUPPRESSED),
        outcome("n-2", "push", State.FAILED),
        outcome("n-3", "", State.EXPIRED),
    ]
    counts = count_outcomes("r-1", rows)
    assert counts.notifications == 3
    assert counts.by_channel == {
        Channel.PUSH: Counter({State.SENT: 1, State.FAILED: 1}),
        Channel.EMAIL: Counter({State.SUPPRESSED: 1}),
        None: Counter({State.EXPIRED: 1}),
    }
    assert counts.total() == Counter(
        {State.SENT: 1, State.FAILED: 1, State.SUPPRESSED: 1, State.EXPIRED: 1}
    )


def test_no_rows_is_no_notification() -> None:
    counts = count_outcomes("r-1", [])
    assert counts.notifications == 0 and counts.by_channel == {}
