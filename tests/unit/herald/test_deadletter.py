"""Dead letters: one builder keeps the record whole and says why; reading one back gives the
record as it came, for a replay."""

from __future__ import annotations

from datetime import UTC, datetime

from herald import deadletter
from herald.deadletter import DeadLetter, Source, letter

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SOURCE = Source(
    topic="herald.requests",
    partition=3,
    offset=41,
    key=b"user-1",
    value=b"\x00\x00\x00\x00\x07junk",
    headers=(("traceparent", b"00-abc-01"), (deadletter.REASON, b"an earlier failure")),
    timestamp_ms=1_764_590_400_123,
)


def test_a_letter_keeps_the_record_and_says_why_where_and_what() -> None:
    dead = letter(SOURCE, "CodecError: body does not decode", "streams.fan-out", "CodecError", AT)
    assert (dead.key, dead.value, dead.timestamp_ms) == (
        SOURCE.key,
        SOURCE.value,
        SOURCE.timestamp_ms,
    )
    headers = dict(dead.headers)
    assert headers["traceparent"] == b"00-abc-01"  # the record's own headers stay
    assert headers[deadletter.REASON] == b"CodecError: body does not decode"  # replaced
    assert [name for name, _ in dead.headers].count(deadletter.REASON) == 1
    assert headers[deadletter.STAGE] == b"streams.fan-out"
    assert headers[deadletter.EXCEPTION] == b"CodecError"
    assert (headers[deadletter.SOURCE_TOPIC], headers[deadletter.SOURCE_OFFSET]) == (
        b"herald.requests",
        b"41",
    )


def test_a_policy_decision_names_no_exception() -> None:
    dead = letter(SOURCE, "deadline_passed", "sender.sms", "", AT)
    assert deadletter.EXCEPTION not in dict(dead.headers)


def test_read_back_it_gives_the_record_for_a_replay() -> None:
    dead = letter(SOURCE, "CodecError: x", "sink", "CodecError", AT)
    read = DeadLetter.parse(9, dead.headers, dead.key, dead.value, dead.timestamp_ms)
    assert (read.offset, read.topic, read.partition, read.source_offset) == (
        9,
        "herald.requests",
        3,
        41,
    )
    assert (read.stage, read.exception, read.reason) == ("sink", "CodecError", "CodecError: x")
    assert read.headers == (("traceparent", b"00-abc-01"),)  # only the record's own
    assert read.timestamp_ms == SOURCE.timestamp_ms


def test_an_unplaced_record_names_where_it_was() -> None:
    source = Source.unplaced("herald.retry.sms", None, b"payload")
    assert (source.topic, source.partition, source.offset) == ("herald.retry.sms", -1, -1)
