"""From a provider's event to a status event of the notification it is about.

Each event's provider message id is looked up where its sender recorded it (Redis, beside the
ledger entry); an id not there yet is waited for up to ``api.receipt_match_wait_s`` (a callback
may overtake the sender's record), then its receipt is dead-lettered with the reason, byte for
byte. A matched event is published on the status topic once (the first receipt of a message's
state, or of a link's click, wins; a provider's retry or a second click is counted as a repeat).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum

from redis.asyncio import Redis

from api.metrics import ApiMetrics
from api.publishing import AsyncPublisher
from herald import deadletter
from herald.models import DeliveryStatus
from herald.receipts import MessageRef, ProviderEvent
from herald.redis import REDIS
from herald.topics import TopicNames

STAGE = "api.receipts"
FIRST_POLL_S = 0.05
LONGEST_POLL_S = 0.5


class Matched(StrEnum):
    MATCHED = "matched"
    REPEATED = "repeated"
    UNKNOWN = "unknown"


def tally(outcomes: Counter[Matched], ignored: int = 0) -> dict[str, int]:
    """The answer's body: what became of a receipt's events (``ignored``: statuses on the way,
    such as Twilio's sent, and kinds Herald does not track)."""
    return {**{m.value: outcomes[m] for m in Matched}, "ignored": ignored}


class Matcher:
    def __init__(
        self,
        redis: Redis,
        names: TopicNames,
        publisher: AsyncPublisher,
        metrics: ApiMetrics,
        *,
        wait_s: float,
        once_ttl_s: int,
    ) -> None:
        self._redis = redis
        self._names = names
        self._publisher = publisher
        self._metrics = metrics
        self._wait_s = wait_s
        self._once_ttl_s = once_ttl_s

    async def record(
        self, provider: str, events: Sequence[ProviderEvent], raw: bytes
    ) -> Counter[Matched]:
        """Every event of one receipt (``raw``: the receipt as it came, for a dead letter)."""
        outcomes: Counter[Matched] = Counter()
        unknown: set[str] = set()
        for event in events:
            ref = await self._look_up(event.provider, event.provider_message_id)
            if ref is None:
                outcome = Matched.UNKNOWN
                if event.provider_message_id not in unknown:
                    unknown.add(event.provider_message_id)
                    await self._dead_letter(provider, event, raw)
            else:
                outcome = await self.emit(ref, event)
            self._metrics.receipts.labels(provider, outcome.value).inc()
            outcomes[outcome] += 1
        return outcomes

    async def emit(self, ref: MessageRef, event: ProviderEvent, once: str | None = None) -> Matched:
        """The event as a status of ``ref``, unless an earlier receipt reported it (``once``:
        what makes a repeat, when not the event's ``once_key``)."""
        once = self._names.receipt_once_key(once or event.once_key)
        if not await self._first(once):
            return Matched.REPEATED
        status = DeliveryStatus.of(
            ref,
            event.state,
            ref.after_sending(event.occurred_at.astimezone(UTC)),
            channel=ref.channel,
            reason=event.reason,
            detail=event.detail,
            provider=event.provider or None,
            provider_message_id=event.provider_message_id or None,
        )
        try:
            await self._publisher.publish_status(status)
        except BaseException:
            await self._forget(once)  # not published: the provider's retry may publish it
            raise
        return Matched.MATCHED

    @REDIS
    async def _first(self, once: str) -> bool:
        return bool(await self._redis.set(once, b"1", nx=True, ex=self._once_ttl_s))

    @REDIS
    async def _forget(self, once: str) -> None:
        await self._redis.delete(once)

    @REDIS
    async def _read(self, key: str) -> MessageRef | None:
        return MessageRef.parse(await self._redis.hgetall(key))

    async def _look_up(self, provider: str, provider_message_id: str) -> MessageRef | None:
        key = self._names.message_key(provider, provider_message_id)
        loop = asyncio.get_running_loop()
        deadline, pause = loop.time() + self._wait_s, FIRST_POLL_S
        while True:
            ref = await self._read(key)
            if ref is not None or loop.time() >= deadline:
                return ref
            await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))
            pause = min(pause * 2, LONGEST_POLL_S)

    async def _dead_letter(self, provider: str, event: ProviderEvent, raw: bytes) -> None:
        source = deadletter.Source.unplaced(
            f"receipts/{provider}", event.provider_message_id.encode(), raw
        )
        reason = f"no {event.provider} message has the id {event.provider_message_id[:200]}"
        letter = deadletter.letter(source, reason, STAGE, "", datetime.now(UTC))
        await self._publisher.publish_dead_letter(letter)
