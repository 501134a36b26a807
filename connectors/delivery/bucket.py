"""A token bucket per provider account, in Redis, shared by every sender worker.

Each call takes a token; tokens refill at ``rate_per_s`` up to ``burst``. A call that finds the
bucket empty still takes its token (the count goes below zero: a reservation) and is told how
long to wait for it, so waiting callers are served in the order they came and nobody polls.
The script reads Redis' own clock, so workers on different machines agree on the refill.
A provider whose limit is lifted (``ProviderLimits.limited`` false) has no bucket: no Redis call.
"""

from __future__ import annotations

from collections.abc import Mapping

import redis.asyncio as redis

from connectors.delivery.pipelined import Pipelined
from herald.redis import REDIS
from herald.settings import ProviderLimits
from herald.topics import TopicNames

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(saved[1]) or burst
local at = tonumber(saved[2]) or now
tokens = math.min(burst, tokens + math.max(now - at, 0) * rate) - 1
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
           'at', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
if tokens >= 0 then return '0' end
return string.format('%.6f', -tokens / rate)
"""


class Buckets:
    def __init__(
        self, client: redis.Redis, names: TopicNames, limits: Mapping[str, ProviderLimits]
    ) -> None:
        self._names = names
        self._limits = dict(limits)
        self._acquire = Pipelined(client).script(_ACQUIRE)  # a round's tokens in one trip

    @REDIS
    async def acquire(self, provider: str) -> float:
        """Seconds to wait before calling ``provider`` (0: go now)."""
        limits = self._limits[provider]
        if not limits.limited:
            return 0.0
        args: list[float] = [limits.rate_per_s, float(limits.burst)]
        wait = await self._acquire([self._names.bucket_key(provider)], args)
        return float(wait)
