"""RepeatingEncoder writes exactly fastavro's bytes, whatever varies and whatever repeats."""

from __future__ import annotations

import io
import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import fastavro
import pytest

from connectors.delivery.emit import STATUS_VARIES as SENDER_STATUS_VARIES
from herald.codec import frame
from herald.contracts import SCHEMA_DIR
from herald.encoders import RepeatingEncoder
from herald.errors import CodecError
from herald.models import (
    AvroRecord,
    Channel,
    ChannelMessage,
    DeliveryStatus,
    Platform,
    Priority,
    State,
)


def _parsed(file_name: str) -> dict[str, object]:
    return dict(fastavro.parse_schema(json.loads((SCHEMA_DIR / file_name).read_text())))


def _fastavro(parsed: dict[str, object], record: AvroRecord) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, parsed, record.to_record())
    return frame(7, buffer.getvalue())


def _text(rng: random.Random) -> str:
    size = rng.choice([0, 1, 5, 127, 128, 300, 5000])
    return "".join(rng.choice("aé😀z-") for _ in range(size))


def _maybe(rng: random.Random, value: object) -> object:
    return None if rng.random() < 0.3 else value


def _message(rng: random.Random) -> ChannelMessage:
    return ChannelMessage(
        notification_id=_text(rng),
        request_id=rng.choice(["r1", "r2"]),
        user_id=_text(rng),
        channel=rng.choice(list(Channel)),
        address=_text(rng),
        platform=_maybe(rng, rng.choice(list(Platform))),  # type: ignore[arg-type]
        title=_maybe(rng, "Order shipped"),  # type: ignore[arg-type]
        body=rng.choice(["Hi", "Hello"]),
        html=None,
        category="transactional",
        priority=rng.choice(list(Priority)),
        attempt=rng.choice([0, 1, 63, 64, 10_000]),
        deadline=_maybe(rng, datetime(2026, 12, 1, 10, 0, 0, 123_456, tzinfo=UTC)),  # type: ignore[arg-type]
        tenant=_maybe(rng, "acme"),  # type: ignore[arg-type]
    )


def _status(rng: random.Random) -> DeliveryStatus:
    return DeliveryStatus(
        notification_id=_text(rng),
        request_id="r1",
        user_id=_text(rng),
        state=rng.choice(list(State)),
        occurred_at=datetime(1969, 12, 31, tzinfo=UTC)
        + timedelta(microseconds=rng.randrange(10**17)),
        channel=_maybe(rng, rng.choice(list(Channel))),  # type: ignore[arg-type]
        reason=_maybe(rng, _text(rng)),  # type: ignore[arg-type]
        attempt=rng.randrange(-5, 5),
        tenant=None,
    )


def test_channel_messages_encode_as_fastavro_does() -> None:
    parsed = _parsed("channel_message.avsc")
    rng = random.Random(1)
    for varying in (
        ("notification_id", "user_id", "address", "platform"),
        ("notification_id", "deadline", "tenant", "attempt", "channel"),
        (),
    ):
        encoder = RepeatingEncoder(7, parsed, varying, kept=3)
        for _ in range(300):
            message = _message(rng)
            assert encoder.encode(message) == _fastavro(parsed, message)


def test_statuses_encode_as_fastavro_does_to_the_millisecond() -> None:
    parsed = _parsed("delivery_status.avsc")
    rng = random.Random(2)
    encoder = RepeatingEncoder(7, parsed, ("notification_id", "user_id", "occurred_at"))
    for _ in range(500):
        status = _status(rng)
        assert encoder.encode(status) == _fastavro(parsed, status)
        decoded = fastavro.schemaless_reader(io.BytesIO(encoder.encode(status)[5:]), parsed, None)
        assert decoded["occurred_at"] == status.occurred_at.replace(
            microsecond=status.occurred_at.microsecond // 1000 * 1000
        )


def test_what_repeats_is_encoded_once() -> None:
    parsed = _parsed("delivery_status.avsc")
    encoder = RepeatingEncoder(7, parsed, ("notification_id", "user_id", "occurred_at"))
    first = _status(random.Random(3))
    encoder.encode(first)
    encoder.encode(replace(first, notification_id="other", user_id="someone"))
    assert len(encoder._cache) == 1


def test_a_record_that_does_not_fit_is_a_codec_error_without_its_values() -> None:
    parsed = _parsed("channel_message.avsc")
    encoder = RepeatingEncoder(7, parsed, ("notification_id", "address"))
    message = replace(_message(random.Random(4)), address=None)  # type: ignore[arg-type]
    with pytest.raises(CodecError) as raised:
        encoder.encode(message)
    assert "does not fit" in str(raised.value)


def test_arrays_and_maps_must_vary_and_unknown_fields_are_refused() -> None:
    with pytest.raises(ValueError, match="array or a map"):
        RepeatingEncoder(7, _parsed("notification_request.avsc"), ("request_id",))
    with pytest.raises(ValueError, match="no fields"):
        RepeatingEncoder(7, _parsed("delivery_status.avsc"), ("nope",))


def test_a_senders_statuses_encode_as_fastavro_does() -> None:
    parsed = _parsed("delivery_status.avsc")
    rng = random.Random(4)
    encoder = RepeatingEncoder(7, parsed, SENDER_STATUS_VARIES)
    for _ in range(500):
        status = replace(
            _status(rng),
            provider=_maybe(rng, rng.choice(["fcm", "apns", "sns"])),  # type: ignore[arg-type]
            provider_message_id=_maybe(rng, _text(rng)),  # type: ignore[arg-type]
            detail=_maybe(rng, _text(rng)),  # type: ignore[arg-type]
        )
        assert encoder.encode(status) == _fastavro(parsed, status)
