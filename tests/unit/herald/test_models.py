"""Every model survives its own Avro schema (the .avsc files) and comes back equal."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import fastavro
import pytest

from herald.contracts import (
    CHANNEL_MESSAGE,
    CONTACTS,
    PREFERENCES,
    REQUEST,
    STATUS,
    USER_NOTIFICATION,
    Contract,
    load_schema,
)
from herald.models import (
    Channel,
    ChannelMessage,
    DeliveryStatus,
    Device,
    NotificationRequest,
    Platform,
    Priority,
    QuietHours,
    State,
    UserContacts,
    UserPreferences,
    notification_id,
)

AT = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
REQUEST_ = NotificationRequest(
    "r1",
    "shop",
    "marketing",
    Priority.HIGH,
    "order_shipped",
    ["u1", "u2"],
    AT,
    data={"name": "Ann"},
    channels=(Channel.PUSH, Channel.EMAIL),
    send_at=AT,
    tenant="acme",
)
SAMPLES: list[tuple[Contract[Any], Any]] = [
    (REQUEST, REQUEST_),
    (USER_NOTIFICATION, REQUEST_.for_user("u1")),
    (
        CHANNEL_MESSAGE,
        ChannelMessage(
            "n",
            "r1",
            "u1",
            Channel.PUSH,
            "tok",
            "hi",
            "marketing",
            Priority.LOW,
            platform=Platform.IOS,
            title="t",
            deadline=AT,
        ),
    ),
    (
        STATUS,
        DeliveryStatus(
            "n", "r1", "u1", State.SUPPRESSED, AT, channel=Channel.SMS, reason="rate_limited"
        ),
    ),
    (
        PREFERENCES,
        UserPreferences(
            "u1",
            frozenset({Channel.SMS, Channel.PUSH}),
            frozenset({"marketing"}),
            QuietHours(1320, 420, "Europe/Paris"),
            {Channel.PUSH: 5},
            "fr",
        ),
    ),
    (
        CONTACTS,
        UserContacts(
            "u1",
            (Device("a", Platform.ANDROID), Device("b", Platform.WEB)),
            "+15555550100",
            "u1@example.com",
        ),
    ),
]


@pytest.mark.parametrize(("contract", "model"), SAMPLES)
def test_round_trip_through_the_schema(contract: Contract[Any], model: Any) -> None:
    schema = fastavro.parse_schema(load_schema(contract.file_name))
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schema, model.to_record())
    buffer.seek(0)
    assert contract.from_record(fastavro.schemaless_reader(buffer, schema, None)) == model


def test_notification_ids_are_stable_and_distinct() -> None:
    assert REQUEST_.for_user("u1").notification_id == notification_id("r1", "u1")
    assert notification_id("r1", "u1") != notification_id("r1", "u2")
    assert notification_id("r1", "u1") != notification_id("r2", "u1")
