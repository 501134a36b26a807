"""The pure sink mapping: status -> rows, the day bucket, the keys, the batching groups."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from connectors.sink.rows import (
    UNSET,
    batch_groups,
    params_size,
    request_params,
    status_key,
    status_params,
    to_row,
    user_key,
    user_params,
)
from herald.errors import ConfigurationError
from herald.history import NO_CHANNEL, REQUEST_BUCKETS, day_bucket, request_bucket, write_time
from herald.models import Channel, DeliveryStatus, State

AT = datetime(2025, 3, 9, 23, 30, 0, 123_456, tzinfo=UTC)


def status(**fields: object) -> DeliveryStatus:
    values: dict[str, object] = {
        "notification_id": "n-1",
        "request_id": "r-1",
        "user_id": "u-1",
        "state": State.SENT,
        "occurred_at": AT,
        "channel": Channel.PUSH,
        "provider": "fcm",
        "provider_message_id": "m-1",
        "attempt": 2,
    }
    values.update(fields)
    return DeliveryStatus(**values)  # type: ignore[arg-type]


def test_row_keeps_every_field_at_millisecond_precision() -> None:
    row = to_row(status(reason="429", detail="retry at 10:00", tenant="acme"))
    assert row.occurred_at == datetime(2025, 3, 9, 23, 30, 0, 123_000, tzinfo=UTC)
    assert (row.notification_id, row.request_id, row.user_id) == ("n-1", "r-1", "u-1")
    assert (row.channel, row.state, row.attempt) == (Channel.PUSH, State.SENT, 2)
    assert (row.reason, row.detail, row.provider, row.provider_message_id, row.tenant) == (
        "429",
        "retry at 10:00",
        "fcm",
        "m-1",
        "acme",
    )
    assert row.day == date(2025, 3, 9)


def test_day_bucket_follows_the_configured_zone() -> None:
    assert day_bucket(AT) == date(2025, 3, 9)
    assert day_bucket(AT, "Europe/Paris") == date(2025, 3, 10)  # 00:30 local
    assert day_bucket(AT, "America/Los_Angeles") == date(2025, 3, 9)
    other_offset = AT.astimezone(timezone(timedelta(hours=5)))  # same instant, other offset
    assert day_bucket(other_offset) == date(2025, 3, 9)
    assert to_row(status(), "Europe/Paris").day == date(2025, 3, 10)


def test_unknown_zone_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        day_bucket(AT, "Mars/Olympus_Mons")


def test_keys_are_derived_from_the_event_alone() -> None:
    first, again = to_row(status()), to_row(status())
    assert status_key(first) == status_key(again)
    assert user_key(first) == user_key(again)
    assert status_key(first) == ("n-1", first.occurred_at, "push", "sent", 2)
    assert user_key(first) == ("u-1", date(2025, 3, 9), first.occurred_at, "n-1", "push", "sent", 2)


@pytest.mark.parametrize(
    "change",
    [
        {"state": State.DELIVERED},
        {"attempt": 3},
        {"channel": Channel.SMS},
        {"occurred_at": AT + timedelta(milliseconds=1)},
    ],
)
def test_another_event_of_the_notification_gets_other_keys(change: dict[str, object]) -> None:
    base, other = to_row(status()), to_row(status(**change))
    assert status_key(base) != status_key(other)
    assert user_key(base) != user_key(other)


def test_status_without_channel_is_stored_under_the_empty_channel() -> None:
    row = to_row(status(state=State.EXPIRED, channel=None, provider=None))
    assert row.channel is None
    assert status_key(row)[2] == NO_CHANNEL


def test_absent_values_are_left_unset_not_null() -> None:
    row = to_row(status(provider=None, provider_message_id=None))
    params = status_params(row)
    assert params[5:] == ("u-1", "r-1", UNSET, UNSET, UNSET, UNSET, UNSET)
    assert user_params(row)[7:] == ("r-1", UNSET, UNSET, UNSET, UNSET, UNSET)
    assert None not in params


def _first(params: tuple[object, ...]) -> object:
    return params[0]


def test_rows_are_grouped_by_key_in_first_seen_order() -> None:
    rows = [
        to_row(status(notification_id=n, user_id=u, attempt=a))
        for n, u, a in [("a", "x", 0), ("b", "x", 0), ("a", "x", 1), ("c", "y", 0)]
    ]
    by_note = batch_groups([status_params(r) for r in rows], _first, params_size)
    assert [[p[0] for p in g] for g in by_note] == [["a", "a"], ["b"], ["c"]]
    by_user = batch_groups([user_params(r) for r in rows], _first, params_size)
    assert [[p[0] for p in g] for g in by_user] == [["x", "x", "x"], ["y"]]


def test_groups_are_cut_by_rows_and_bytes() -> None:
    rows = [status_params(to_row(status(attempt=a))) for a in range(7)]
    assert [len(g) for g in batch_groups(rows, _first, params_size, max_rows=3)] == [3, 3, 1]
    big = [status_params(to_row(status(attempt=a, detail="d" * 1500))) for a in range(5)]
    sizes = [len(g) for g in batch_groups(big, _first, params_size, max_bytes=4096)]
    assert sizes == [2, 2, 1]


def test_a_request_outcome_is_keyed_by_request_bucket_notification_and_channel() -> None:
    row = to_row(status())
    params = request_params(row)
    assert params[:6] == ("r-1", request_bucket("n-1"), "n-1", "push", "sent", "u-1")
    assert 0 <= params[1] < REQUEST_BUCKETS  # type: ignore[operator]
    assert params[7] == write_time(row)


def test_the_latest_event_writes_last_and_one_millisecond_goes_in_state_order() -> None:
    queued = to_row(status(state=State.QUEUED, attempt=0))
    sent = to_row(status(state=State.SENT))
    later = to_row(status(state=State.QUEUED, occurred_at=AT + timedelta(milliseconds=1)))
    assert write_time(queued) < write_time(sent) < write_time(later)
    assert write_time(queued) // 1000 == int(AT.timestamp() * 1000)


def test_buckets_spread_a_request() -> None:
    buckets = {request_bucket(f"n-{i}") for i in range(1000)}
    assert buckets == set(range(REQUEST_BUCKETS))
