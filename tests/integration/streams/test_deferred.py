"""The deferred store against real Redis: due items only, claimed once, stale claims return."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import redis.asyncio as redis

from herald.deferred import DeferredStore
from herald.settings import HeraldSettings


def test_claim_done_and_stale_requeue(stack: HeraldSettings) -> None:
    async def scenario() -> None:
        client = redis.Redis.from_url(stack.redis.url.get_secret_value())
        key = f"herald-test:{uuid.uuid4().hex}"
        store = DeferredStore(client, (key, f"{key}:processing"), stale_after_s=30)
        now = datetime.now(UTC)
        try:
            await store.add(now - timedelta(seconds=1), b"due")
            await store.add(now - timedelta(seconds=1), b"due")  # a replay collapses
            await store.add(now + timedelta(hours=1), b"later")
            assert await store.pending() == 2

            assert await store.claim_due(now) == [b"due"]
            assert await store.claim_due(now) == []  # claimed once, by one worker
            assert await store.pending() == 1  # "later" still waits

            # the claimer died before `done`: after stale_after_s it is handed out again
            assert await store.requeue_stale(now + timedelta(seconds=31)) == 1
            assert await store.claim_due(now + timedelta(seconds=31)) == [b"due"]
            await store.done([b"due"])
            assert await store.requeue_stale(now + timedelta(seconds=120)) == 0
        finally:
            await client.delete(key, f"{key}:processing")
            await client.aclose()

    asyncio.run(scenario())
