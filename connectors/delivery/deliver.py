"""One channel message through the runtime: ledger claim, provider choice (breakers), the token
bucket, one provider call, and what its outcome leads to (a status, a retry, a dead letter, an
address invalidation). Redis and Kafka failures propagate: the worker then stops without
committing, and the ledger makes the redelivery safe."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from connectors.base import (
    PermanentDeliveryError,
    Receipt,
    Sender,
    TransientDeliveryError,
    UnknownOutcomeError,
)
from connectors.delivery.breaker import Breakers
from connectors.delivery.bucket import Buckets
from connectors.delivery.emit import Emitter
from connectors.delivery.ledger import Busy, Ledger, Outcome, Terminal
from connectors.delivery.retry import GiveUp, GiveUpReason, Random, after_failure
from connectors.registry import push_provider_for
from herald import deadletter
from herald.contracts import TopicCodec
from herald.deferred import DeferredStore
from herald.errors import RecordError, where
from herald.metrics import CallResult, DeliveryOutcome, SenderMetrics, finished
from herald.models import Channel, ChannelMessage, State
from herald.receipts import MessageRef
from herald.settings import DeliverySettings
from herald.topics import TopicNames

log = logging.getLogger(__name__)

OUTCOME_UNKNOWN = "outcome_unknown"
BREAKER_OPEN = "breaker_open"
Origin = deadletter.Source  # the record a message came in (a channel topic, the retry set)


class Undeliverable(RecordError):
    """A message no provider of this worker can take (wrong channel, no platform)."""


def call_result(error: BaseException) -> CallResult:
    if isinstance(error, TransientDeliveryError):
        return CallResult.TRANSIENT
    if isinstance(error, PermanentDeliveryError):
        return CallResult.PERMANENT
    return CallResult.UNKNOWN


def utc_now() -> datetime:
    return datetime.now(UTC)


def device(message: ChannelMessage) -> str:
    """Tells a user's devices apart in the ledger and idempotency keys (never the token)."""
    if message.channel is not Channel.PUSH:
        return ""
    return hashlib.blake2b(message.address.encode(), digest_size=8).hexdigest()


def idempotency_key(message: ChannelMessage) -> str:
    """The same for every attempt of one delivery, so a provider can deduplicate resends: the
    notification id (which the provider then shows), plus the device for push."""
    suffix = device(message)
    return f"{message.notification_id}:{suffix}" if suffix else message.notification_id


@dataclass(frozen=True)
class Shared:
    """What every sender worker of a channel shares, in Redis."""

    ledger: Ledger
    breakers: Breakers
    buckets: Buckets
    retries: DeferredStore


class Delivery:
    def __init__(
        self,
        channel: Channel,
        senders: Mapping[str, Sender],
        providers: Sequence[str],
        shared: Shared,
        names: TopicNames,
        emitter: Emitter,
        codec: TopicCodec[ChannelMessage],
        settings: DeliverySettings,
        metrics: SenderMetrics,
        *,
        clock: Callable[[], datetime] = utc_now,
        random_source: Random = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.channel = channel
        self.senders = senders
        self.providers = tuple(p for p in providers if p in senders)
        self.shared = shared
        self.names = names
        self.emit = emitter
        self.codec = codec
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self.random = random_source
        self.sleep = sleep
        self.calls = asyncio.Semaphore(settings.in_flight)

    # -- the flow ------------------------------------------------------------------------------
    def ledger_key(self, message: ChannelMessage) -> str:
        return self.names.ledger_key(message.notification_id, message.channel, device(message))

    async def handle(self, message: ChannelMessage, origin: Origin) -> None:
        """Take ``message`` to its next outcome."""
        providers = self._providers(message)
        key = self.ledger_key(message)
        picked = self.shared.breakers.picked(providers)  # known without a read: claimed with it
        claim = await self.shared.ledger.begin(key, message.attempt, calling=picked)
        if isinstance(claim, Terminal):  # delivered before: its status again, no second send
            self.emit.status(message, claim.outcome, self.clock())
            self.metrics.delivery(claim.outcome.provider, DeliveryOutcome.DUPLICATE_SKIPPED)
            return
        if isinstance(claim, Busy):  # another call of it is under way
            await self._wait(message, datetime.fromtimestamp(claim.until, UTC))
            self.metrics.delivery(None, DeliveryOutcome.DEFERRED_BUSY)
            return
        if message.deadline is not None and message.deadline <= self.clock():
            outcome = Outcome(
                State.DEAD_LETTERED, message.attempt, reason=GiveUpReason.DEADLINE_PASSED
            )
            await self._dead_letter(message, key, origin, outcome)
            return
        if claim.reconcile_with is not None:
            sender = self.senders.get(claim.reconcile_with)
            if sender is None or not sender.accepts_idempotency_key:
                await self._finish(
                    message,
                    key,
                    Outcome(
                        State.UNKNOWN, message.attempt, claim.reconcile_with, reason=OUTCOME_UNKNOWN
                    ),
                )
                return
            providers = (claim.reconcile_with,)  # the same key to the same provider
        elif picked is not None:  # the claim recorded it
            await self._go(message, key, origin, picked)
            return
        provider = await self.shared.breakers.pick(providers)
        if provider is None:
            await self._all_open(message, key, providers)
            return
        await self.shared.ledger.calling(key, provider)
        await self._go(message, key, origin, provider)

    async def _go(self, message: ChannelMessage, key: str, origin: Origin, provider: str) -> None:
        """The bucket's wait, then the call."""
        wait = await self.shared.buckets.acquire(provider)
        self.metrics.bucket_wait(provider, wait)
        await self.sleep(wait)
        await self._call(message, key, origin, provider)

    def _providers(self, message: ChannelMessage) -> tuple[str, ...]:
        if message.channel is not self.channel:
            raise Undeliverable(f"a {message.channel} message on the {self.channel} topic")
        if message.channel is not Channel.PUSH:
            return self.providers
        if message.platform is None:
            raise Undeliverable("a push message without a platform")
        provider = push_provider_for(message.platform)
        if provider not in self.senders:
            raise Undeliverable(f"push provider {provider} is not configured")
        return (provider,)

    async def _call(self, message: ChannelMessage, key: str, origin: Origin, provider: str) -> None:
        sender = self.senders[provider]
        try:
            async with self.calls:
                receipt = await self._send(sender, message, provider)
        except TransientDeliveryError as error:
            await self.shared.breakers.record(provider, ok=False)
            await self._retry_or_give_up(message, key, origin, provider, error)
        except PermanentDeliveryError as error:
            await self.shared.breakers.record(provider, ok=True)  # it answered
            await self._refused(message, key, provider, error)
        except UnknownOutcomeError as error:
            await self.shared.breakers.record(provider, ok=False)
            if sender.accepts_idempotency_key:  # a resend with the same key is deduplicated
                await self._retry_or_give_up(message, key, origin, provider, error)
            else:
                await self._finish(
                    message,
                    key,
                    Outcome(
                        State.UNKNOWN,
                        message.attempt,
                        provider,
                        reason=OUTCOME_UNKNOWN,
                        detail=error.code,
                    ),
                )
        else:
            await self.shared.breakers.record(provider, ok=True)
            await self._finish(
                message,
                key,
                Outcome(State.SENT, message.attempt, provider, receipt.provider_message_id),
            )

    async def _send(self, sender: Sender, message: ChannelMessage, provider: str) -> Receipt:
        """One call; anything but the three delivery errors (a sender's bug, a call that
        outlived every timeout) may have left, so it counts as an unknown outcome."""
        started, result = time.perf_counter(), CallResult.UNKNOWN
        try:
            receipt = await sender.send(message, idempotency_key(message))
            result = CallResult.OK
            return receipt
        except (TransientDeliveryError, PermanentDeliveryError, UnknownOutcomeError) as error:
            result = call_result(error)
            raise
        except Exception as error:
            log.error("%s sender raised %s at %s", provider, type(error).__name__, where(error))
            raise UnknownOutcomeError(provider, f"unexpected {type(error).__name__}") from error
        finally:
            self.metrics.provider_call(provider, result, time.perf_counter() - started)

    async def begin_round(self) -> None:
        """Read the providers' breakers once for the round's picks."""
        await self.shared.breakers.refresh(tuple(self.senders))

    async def sample_breakers(self) -> None:
        """Each provider's breaker phase into the metrics (once a round, in one read)."""
        for provider, phase in (await self.shared.breakers.phases(tuple(self.senders))).items():
            self.metrics.breaker_phase(provider, phase)

    # -- outcomes ------------------------------------------------------------------------------
    async def _retry_or_give_up(
        self,
        message: ChannelMessage,
        key: str,
        origin: Origin,
        provider: str,
        error: TransientDeliveryError | UnknownOutcomeError,
    ) -> None:
        retry_after = error.retry_after_s if isinstance(error, TransientDeliveryError) else None
        now = self.clock()
        step = after_failure(
            message.attempt, message.deadline, retry_after, now, self.settings, self.random
        )
        uncertain = provider if isinstance(error, UnknownOutcomeError) else None
        if isinstance(step, GiveUp):
            if uncertain is not None:  # it may have been delivered: not a dead letter
                outcome = Outcome(State.UNKNOWN, message.attempt, provider, reason=OUTCOME_UNKNOWN)
                await self._finish(message, key, outcome)
                return
            await self._dead_letter(
                message,
                key,
                origin,
                Outcome(
                    State.DEAD_LETTERED,
                    message.attempt,
                    provider,
                    reason=step.reason,
                    detail=error.code,
                ),
                type(error).__name__,
            )
            return
        await self.shared.ledger.release(key, uncertain)
        await self.shared.retries.add(
            step.due, self.codec.encode(dataclasses.replace(message, attempt=step.attempt))
        )
        self.emit.status(
            message,
            Outcome(
                State.DEFERRED,
                message.attempt,
                provider,
                reason=error.code,
                detail=f"attempt {step.attempt + 1} at {step.due.isoformat()}",
            ),
            now,
        )
        self.metrics.delivery(provider, DeliveryOutcome.RETRY_SCHEDULED)

    async def _refused(
        self, message: ChannelMessage, key: str, provider: str, error: PermanentDeliveryError
    ) -> None:
        outcome = Outcome(
            State.FAILED, message.attempt, provider, reason=error.code, detail=error.detail
        )
        recorded = await self._finish(message, key, outcome)
        if error.address_invalid and recorded == outcome:
            self.emit.invalidated(message, provider, error.code, self.clock())

    async def _all_open(self, message: ChannelMessage, key: str, providers: Sequence[str]) -> None:
        """Every provider's breaker is open: wait for the first probe, not as an attempt."""
        await self.shared.ledger.release(key)
        due_at = await self.shared.breakers.probe_due_at(providers)
        due = self.clock() if due_at is None else datetime.fromtimestamp(due_at, UTC)
        await self._wait(message, due)
        self.emit.status(
            message,
            Outcome(
                State.DEFERRED,
                message.attempt,
                reason=BREAKER_OPEN,
                detail=f"attempt {message.attempt + 1} at {due.isoformat()}",
            ),
            self.clock(),
        )
        self.metrics.delivery(None, DeliveryOutcome.DEFERRED_BREAKER_OPEN)

    async def _wait(self, message: ChannelMessage, due: datetime) -> None:
        await self.shared.retries.add(due, self.codec.encode(message))

    async def _finish(self, message: ChannelMessage, key: str, outcome: Outcome) -> Outcome:
        provider, provider_id = outcome.provider, outcome.provider_message_id
        now = self.clock()
        ref = None  # what the provider's receipts will name it by
        if outcome.state is State.SENT and provider is not None and provider_id is not None:
            ref = (self.names.message_key(provider, provider_id), MessageRef.of(message, now))
        recorded = await self.shared.ledger.finish(key, outcome, ref)
        self.emit.status(message, recorded, now)
        self.metrics.delivery(recorded.provider, finished(recorded.state, recorded == outcome))
        return recorded

    async def _dead_letter(
        self,
        message: ChannelMessage,
        key: str,
        origin: Origin,
        outcome: Outcome,
        error: str = "",
    ) -> None:
        """Given up on: the message as it stands now (its last attempt), with the headers and
        timestamp of the record it came in."""
        recorded = await self._finish(message, key, outcome)
        if recorded == outcome:
            last = dataclasses.replace(
                origin, key=message.user_id.encode(), value=self.codec.encode(message)
            )
            reason = f"{outcome.reason}: {outcome.detail or ''}".rstrip(": ")
            self.emit.dead_letter(last, reason, error, self.clock())
