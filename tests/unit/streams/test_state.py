from __future__ import annotations

import pytest

from herald.models import Channel
from streams import state


def test_sends_are_remembered_per_notification_and_channel() -> None:
    after = state.after_sends(None, "n1", [Channel.PUSH, Channel.EMAIL], 1000.0, 3600, 86400)
    assert state.queued_channels(after, "n1") == {Channel.PUSH, Channel.EMAIL}
    assert state.queued_channels(after, "n2") == frozenset()
    assert state.recent_sends(after) == {Channel.PUSH: [1000.0], Channel.EMAIL: [1000.0]}


def test_old_sends_and_old_ids_are_dropped_on_write() -> None:
    first = state.after_sends(None, "old", [Channel.SMS], 0.0, window_s=3600, dedupe_ttl_s=7200)
    later = state.after_sends(first, "new", [Channel.PUSH], 7201.0, 3600, 7200)
    assert state.queued_channels(later, "old") == frozenset()  # past the dedupe ttl
    assert Channel.SMS not in state.recent_sends(later)  # outside the rate window


def test_a_channel_added_later_joins_the_same_notification() -> None:
    first = state.after_sends(None, "n", [Channel.PUSH], 10.0, 3600, 86400)
    second = state.after_sends(first, "n", [Channel.SMS], 20.0, 3600, 86400)
    assert state.queued_channels(second, "n") == {Channel.PUSH, Channel.SMS}


def test_seen_ids_are_capped_keeping_the_newest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state, "MAX_SEEN", 3)
    current = None
    for i in range(5):
        current = state.after_sends(current, f"n{i}", [Channel.PUSH], float(i), 3600, 86400)
    assert current is not None
    assert sorted(current["seen"]) == ["n2", "n3", "n4"]
