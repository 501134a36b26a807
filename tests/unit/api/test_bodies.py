"""The API's bodies: the seed's shape maps onto the SDK's request; fingerprints and page
cursors."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from api.bodies import SeedSendIn
from api.idempotency import fingerprint
from herald.history import BadCursor, Cursor
from herald.models import Channel


def test_the_seed_shape_becomes_a_request_sent_at_its_schedule_time() -> None:
    seed = SeedSendIn(
        user_ids=["a", "b"],
        channels=[Channel.SMS],
        template_id="promo",
        data={"n": 3},
        schedule_time=datetime(2030, 1, 1, 9),
    )
    request = seed.as_notification().to_request("r-1", datetime(2029, 1, 1, tzinfo=UTC))
    assert request.recipients == ["a", "b"]
    assert request.channels == (Channel.SMS,)
    assert request.data == {"n": "3"}
    assert request.send_at == datetime(2030, 1, 1, 9, tzinfo=UTC)  # naive: read as UTC
    assert request.source == "api"


def test_a_fingerprint_ignores_key_order_only() -> None:
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


def test_a_cursor_survives_its_round_trip_and_a_made_up_one_is_refused() -> None:
    cursor = Cursor(date(2026, 12, 2), b"\x00\x01state", date(2026, 11, 3))
    assert Cursor.decode(cursor.encode()) == cursor
    assert (
        Cursor.decode(Cursor(date(2026, 12, 2), None, date(2026, 12, 1)).encode()).paging_state
        is None
    )
    for made_up in ("", "not-a-cursor", "eyJkIjogMX0"):
        with pytest.raises(BadCursor):
            Cursor.decode(made_up)
