"""Handlers.guarded: an event's own failure is dead-lettered, an outage is retried then fatal."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
import redis

from herald import deadletter
from herald.errors import RedisOutage
from herald.redis import REDIS
from herald.settings import PipelineSettings
from streams import handlers as module
from streams.handlers import Handlers


@dataclass
class Message:
    topic: str = "t.requests"
    partition: int = 2
    offset: int = 7
    headers: tuple[tuple[str, bytes], ...] = (("trace", b"abc"),)
    timestamp: float = 1_700_000_000.5


@dataclass
class Event:
    key: bytes = b"k"
    value: bytes = b"v"
    message: Message = field(default_factory=Message)


class RecordingOutbox:
    def __init__(self) -> None:
        self.letters: list[str] = []
        self.sources: list[deadletter.Source] = []
        self.stages: list[tuple[str, str]] = []

    def dead_letter(
        self, source: deadletter.Source, reason: str, stage: str, error: str, now: datetime
    ) -> None:
        self.letters.append(reason)
        self.sources.append(source)
        self.stages.append((stage, error))


def _handlers(outbox: RecordingOutbox, fatal: list[BaseException]) -> Handlers:
    async def on_fatal(error: BaseException) -> None:
        fatal.append(error)

    return Handlers(
        None,
        outbox,
        None,
        None,
        PipelineSettings(),  # type: ignore[arg-type]
        clock=lambda: datetime.now(UTC),
        on_fatal=on_fatal,
    )


def test_a_poison_event_is_dead_lettered_without_its_text() -> None:
    outbox, fatal = RecordingOutbox(), []

    async def work() -> None:
        raise KeyError("+15555550100")  # a bug whose message quotes a phone number

    asyncio.run(_handlers(outbox, fatal).guarded(Event(), work, "fan-out"))
    assert len(outbox.letters) == 1
    assert outbox.letters[0].startswith("unexpected KeyError at ")
    assert "+1555" not in outbox.letters[0]
    assert outbox.stages == [("streams.fan-out", "KeyError")]
    [source] = outbox.sources  # the record as it came: key, value, headers, timestamp
    assert (source.key, source.value, source.headers) == (b"k", b"v", (("trace", b"abc"),))
    assert (source.topic, source.partition, source.offset) == ("t.requests", 2, 7)
    assert source.timestamp_ms == 1_700_000_000_500
    assert fatal == []


def test_an_outage_is_retried_then_fatal_and_never_dead_lettered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(module, "RETRY_DELAYS_S", (0.0, 0.0))
    outbox, fatal, calls = RecordingOutbox(), [], []

    @REDIS  # as every client of Redis is wrapped
    async def work() -> None:
        calls.append(1)
        raise redis.ConnectionError("redis is down")

    with pytest.raises(RedisOutage):
        asyncio.run(_handlers(outbox, fatal).guarded(Event(), work, "fan-out"))
    assert len(calls) == 3  # the first try and two retries
    assert len(fatal) == 1
    assert outbox.letters == []


def test_an_outage_that_passes_is_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "RETRY_DELAYS_S", (0.0, 0.0))
    outbox, fatal, calls = RecordingOutbox(), [], []

    @REDIS
    async def work() -> None:
        calls.append(1)
        if len(calls) < 2:
            raise redis.ConnectionError("blip")

    asyncio.run(_handlers(outbox, fatal).guarded(Event(), work, "fan-out"))
    assert (len(calls), fatal, outbox.letters) == (2, [], [])


def test_a_bad_record_is_dead_lettered_at_once_with_its_class() -> None:
    from herald.errors import CodecError

    outbox, fatal, calls = RecordingOutbox(), [], []

    async def work() -> None:
        calls.append(1)
        raise CodecError("magic byte 7 is not the Confluent wire format's 0")

    asyncio.run(_handlers(outbox, fatal).guarded(Event(), work, "decide"))
    assert len(calls) == 1  # no retry makes a bad record good
    assert outbox.letters == ["CodecError: magic byte 7 is not the Confluent wire format's 0"]
    assert outbox.stages == [("streams.decide", "CodecError")]
