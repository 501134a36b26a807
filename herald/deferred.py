"""Items that wait in a Redis sorted set scored by their due time: deferred notifications
(the streams worker) and channel messages waiting for another delivery attempt (the senders).

Why Redis and not a Kafka delay topic: deferrals range from seconds to days (quiet hours,
``send_at``), and a delay topic's consumer must stall each partition behind its earliest
item; a sorted set hands out whatever is due, in any order of arrival. Redis runs with an
append-only file, so deferrals survive worker and Redis restarts.

Claiming moves due items to a ``processing`` set (atomically, in Lua) before they are
re-published, and removes them only after the broker confirmed; items claimed by a worker that
died are put back after ``stale_after_s``. Members are the encoded notification itself, so a
replayed deferral collapses into the one already waiting.
"""

from __future__ import annotations

from datetime import datetime

import redis.asyncio as redis

from herald.redis import REDIS

_CLAIM = """
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, member in ipairs(items) do
  redis.call('ZREM', KEYS[1], member)
  redis.call('ZADD', KEYS[2], ARGV[1], member)
end
return items
"""

_REQUEUE = """
local items = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for _, member in ipairs(items) do
  redis.call('ZREM', KEYS[2], member)
  redis.call('ZADD', KEYS[1], ARGV[2], member)
end
return #items
"""


class DeferredStore:
    def __init__(
        self, client: redis.Redis, keys: tuple[str, str], stale_after_s: float = 60.0
    ) -> None:
        self._client = client
        self.key = keys[0]
        self._keys = list(keys)
        self._stale_after_s = stale_after_s
        self._claim = client.register_script(_CLAIM)
        self._requeue = client.register_script(_REQUEUE)

    @REDIS
    async def add(self, due: datetime, payload: bytes) -> None:
        await self._client.zadd(self._keys[0], {payload: due.timestamp()})

    @REDIS
    async def claim_due(self, now: datetime, limit: int = 500) -> list[bytes]:
        items = await self._claim(keys=self._keys, args=[now.timestamp(), limit])
        return list(items)

    @REDIS
    async def done(self, payloads: list[bytes]) -> None:
        if payloads:
            await self._client.zrem(self._keys[1], *payloads)

    @REDIS
    async def requeue_stale(self, now: datetime) -> int:
        cutoff = now.timestamp() - self._stale_after_s
        return int(await self._requeue(keys=self._keys, args=[cutoff, now.timestamp()]))

    @REDIS
    async def pending(self) -> int:
        return int(await self._client.zcard(self._keys[0]))
