"""What sender workers share in real Redis: the ledger, the token buckets and the breakers,
each used by two instances standing for two workers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as redis

from connectors.delivery.breaker import Breakers, Phase
from connectors.delivery.bucket import Buckets
from connectors.delivery.ledger import Busy, Go, Ledger, Outcome, Terminal
from herald.errors import HeraldError
from herald.models import State
from herald.settings import UNLIMITED_RATE, HeraldSettings, ProviderLimits
from herald.topics import TopicNames


@asynccontextmanager
async def scratch(stack: HeraldSettings) -> AsyncIterator[tuple[redis.Redis, TopicNames]]:
    client = redis.Redis.from_url(stack.redis.url.get_secret_value())
    names = TopicNames(f"herald-test-{uuid.uuid4().hex[:10]}.")
    try:
        yield client, names
    finally:
        keys = [key async for key in client.scan_iter(match=f"{names.prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def run(stack: HeraldSettings, scenario: Callable[..., Awaitable[None]]) -> None:
    async def main() -> None:
        async with scratch(stack) as (client, names):
            await scenario(client, names)

    asyncio.run(main())


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- ledger ------------------------------------------------------------------------------------
def test_one_claim_wins_and_the_terminal_outcome_comes_back(stack: HeraldSettings) -> None:
    async def scenario(client: redis.Redis, names: TopicNames) -> None:
        clock = Clock()
        a = Ledger(client, "worker-a", stale_s=60, ttl_s=600, clock=clock)
        b = Ledger(client, "worker-b", stale_s=60, ttl_s=600, clock=clock)
        key = names.ledger_key("n-1", "sms")

        assert await a.begin(key, 0) == Go()
        assert await b.begin(key, 0) == Busy(clock.now + 60)  # a is calling
        assert await a.begin(key, 0) == Busy(clock.now + 60)  # a duplicate in a's own batch
        sent = Outcome(State.SENT, 0, provider="twilio", provider_message_id="SM1")
        assert await a.finish(key, sent) == sent
        assert await b.begin(key, 0) == Terminal(sent)  # never sent again; status again
        late = Outcome(State.FAILED, 0, provider="twilio", reason="21211")
        assert await b.finish(key, late) == sent  # the first terminal outcome stays
        assert 0 < await client.ttl(key) <= 600

    run(stack, scenario)


def test_a_released_claim_is_taken_by_the_next_attempt_anywhere(stack: HeraldSettings) -> None:
    async def scenario(client: redis.Redis, names: TopicNames) -> None:
        a = Ledger(client, "worker-a", stale_s=60, ttl_s=600)
        b = Ledger(client, "worker-b", stale_s=60, ttl_s=600)
        key = names.ledger_key("n-2", "email")
        assert await a.begin(key, 0) == Go()
        assert not await b.release(key)  # not b's claim
        assert await a.release(key)
        assert await b.begin(key, 1) == Go()
        assert await client.hget(key, "attempt") == b"1"
        assert await client.hget(key, "owner") == b"worker-b"

    run(stack, scenario)


def test_a_stale_claim_is_reconciled_with_the_provider_it_was_calling(
    stack: HeraldSettings,
) -> None:
    async def scenario(client: redis.Redis, names: TopicNames) -> None:
        clock = Clock()
        dead = Ledger(client, "worker-dead", stale_s=60, ttl_s=600, clock=clock)
        alive = Ledger(client, "worker-alive", stale_s=60, ttl_s=600, clock=clock)
        called, quiet = names.ledger_key("n-3", "sms"), names.ledger_key("n-4", "sms")
        assert await dead.begin(called, 0) == Go()
        await dead.calling(called, "twilio")  # then it died mid-call
        assert await dead.begin(quiet, 0) == Go()  # died before choosing a provider

        clock.now += 59.9
        assert isinstance(await alive.begin(called, 0), Busy)
        clock.now += 0.2
        assert await alive.begin(called, 0) == Go(reconcile_with="twilio")
        assert await alive.begin(quiet, 0) == Go()  # no call left: nothing to reconcile

    run(stack, scenario)


def test_an_unknown_outcome_released_for_a_retry_is_remembered(stack: HeraldSettings) -> None:
    async def scenario(client: redis.Redis, names: TopicNames) -> None:
        a = Ledger(client, "worker-a", stale_s=60, ttl_s=600)
        b = Ledger(client, "worker-b", stale_s=60, ttl_s=600)
        key = names.ledger_key("n-5", "sms")
        assert await a.begin(key, 0) == Go()
        await a.calling(key, "twilio")
        assert await a.release(key, uncertain="twilio")
        assert await b.begin(key, 1) == Go(reconcile_with="twilio")
        assert await b.release(key)  # a plain transient failure afterwards
        assert await a.begin(key, 2) == Go(reconcile_with="twilio")  # still uncertain
        unknown = Outcome(State.UNKNOWN, 2, provider="twilio", reason="outcome_unknown")
        assert await a.finish(key, unknown) == unknown
        assert await b.begin(key, 3) == Terminal(unknown)

    run(stack, scenario)


def test_only_terminal_states_finish_a_delivery(stack: HeraldSettings) -> None:
    async def scenario(client: redis.Redis, names: TopicNames) -> None:
        ledger = Ledger(client, "w", stale_s=60, ttl_s=600)
        with pytest.raises(HeraldError):
            await ledger.finish(names.ledger_key("n", "push"), Outcome(State.DEFERRED, 0))

    run(stack, scenario)


# -- token bucket ------------------------------------------------------------------------------
def test_two_workers_share_one_bucket_and_waiters_queue_up(stack: HeraldSettings) -> None:
    async def scenario(client: redis.Redis, names: TopicNames) -> None:
        limits = {"sns": ProviderLimits(rate_per_s=1.0, burst=3)}
        a, b = Buckets(client, names, limits), Buckets(client, names, limits)
        waits = [await (a if i % 2 else b).acquire("sns") for i in range(6)]
        assert waits[:3] == [0.0, 0.0, 0.0]  # the burst, whichever worker asked
        # the next three each reserve the next token: about 1, 2 and 3 s away
        for expected, wait in zip([1.0, 2.0, 3.0], waits[3:], strict=True):
            assert expected - 0.5 < wait <= expected
        other = Buckets(client, names, {"twilio": ProviderLimits(rate_per_s=1.0, burst=1)})
        assert await other.acquire("twilio") == 0.0  # buckets are per provider

    run(stack, scenario)


def test_a_lifted_limit_has_no_bucket_in_redis(stack: HeraldSettings) -> None:
    async def scenario(client: redis.Redis, names: TopicNames) -> None:
        lifted = ProviderLimits(rate_per_s=UNLIMITED_RATE, burst=1)
        buckets = Buckets(client, names, {"smtp": lifted})
        assert [await buckets.acquire("smtp") for _ in range(3)] == [0.0, 0.0, 0.0]
        assert not await client.exists(names.bucket_key("smtp"))

    run(stack, scenario)


# -- breakers ----------------------------------------------------------------------------------
LIMITS = {
    "sns": ProviderLimits(
        breaker_failures=2, breaker_window_s=30, breaker_cooldown_s=10, timeout_s=1
    ),
    "twilio": ProviderLimits(breaker_failures=2, breaker_window_s=30, breaker_cooldown_s=10),
}


def test_failures_seen_by_two_workers_open_the_shared_breaker(stack: HeraldSettings) -> None:
    async def scenario(client: redis.Redis, names: TopicNames) -> None:
        clock = Clock()
        a = Breakers(client, names, LIMITS, clock)
        b = Breakers(client, names, LIMITS, clock)
        assert await a.pick(["sns", "twilio"]) == "sns"
        await a.record("sns", ok=False)
        await b.record("sns", ok=False)  # two failures, one from each worker: open
        assert await a.phase("sns") is Phase.OPEN
        assert await b.pick(["sns", "twilio"]) == "twilio"  # failover, for both workers
        assert await a.pick(["sns", "twilio"]) == "twilio"

        for breakers in (a, b):
            await breakers.record("twilio", ok=False)
        assert await a.pick(["sns", "twilio"]) is None  # every provider is open
        assert await a.probe_due_at(["sns", "twilio"]) == clock.now + 10

        clock.now += 10  # half-open: exactly one worker's call probes the primary
        assert await a.pick(["sns"]) == "sns"
        assert await b.pick(["sns"]) is None
        await a.record("sns", ok=True)
        assert await b.phase("sns") is Phase.CLOSED
        assert await b.pick(["sns", "twilio"]) == "sns"  # back to the primary

    run(stack, scenario)


def test_concurrent_updates_lose_no_failure(stack: HeraldSettings) -> None:
    async def scenario(client: redis.Redis, names: TopicNames) -> None:
        many = {"fcm": ProviderLimits(breaker_failures=40, breaker_window_s=60)}
        workers = [Breakers(client, names, many, Clock()) for _ in range(4)]
        await asyncio.gather(*(w.record("fcm", ok=False) for w in workers for _ in range(9)))
        assert len((await workers[0].state("fcm")).failures) == 36
        await workers[0].record("fcm", ok=False)
        assert await workers[1].phase("fcm") is Phase.CLOSED
        await asyncio.gather(*(w.record("fcm", ok=False) for w in workers[:3]))
        assert await workers[1].phase("fcm") is Phase.OPEN

    run(stack, scenario)


def test_a_round_reads_the_breakers_once_and_sees_its_own_failures(
    stack: HeraldSettings,
) -> None:
    async def scenario(client: redis.Redis, names: TopicNames) -> None:
        clock = Clock()
        a = Breakers(client, names, LIMITS, clock)
        b = Breakers(client, names, LIMITS, clock)
        assert await a.refresh(["sns", "twilio"]) == {"sns": Phase.CLOSED, "twilio": Phase.CLOSED}
        await a.record("sns", ok=True)  # a success of a closed breaker writes nothing
        assert not await client.exists(names.breaker_key("sns"))
        await b.record("sns", ok=False)
        await b.record("sns", ok=False)  # another worker opened it during a's round
        assert await a.pick(["sns", "twilio"]) == "sns"  # a sees that at its next round
        await a.record("sns", ok=False)  # a's own failure: a reads it again
        assert await a.pick(["sns", "twilio"]) == "twilio"
        assert await a.refresh(["sns", "twilio"]) == {"sns": Phase.OPEN, "twilio": Phase.CLOSED}
        assert await a.pick(["sns", "twilio"]) == "twilio"

    run(stack, scenario)


def test_a_claim_can_record_the_provider_it_calls(stack: HeraldSettings) -> None:
    async def scenario(client: redis.Redis, names: TopicNames) -> None:
        clock = Clock()
        dead = Ledger(client, "dead", stale_s=60, ttl_s=600, clock=clock)
        alive = Ledger(client, "alive", stale_s=60, ttl_s=600, clock=clock)
        key = names.ledger_key("n-calling", "sms")
        assert await dead.begin(key, 0, calling="sns") == Go()  # then died mid-call
        assert await client.hget(key, "provider") == b"sns"
        clock.now += 61
        assert await alive.begin(key, 0, calling="sns") == Go(reconcile_with="sns")
        assert await client.hget(key, "provider") is None  # a reconciled claim names none yet

    run(stack, scenario)
