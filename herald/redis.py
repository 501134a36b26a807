"""Redis for the stores that live there (deferred items, the senders' ledger, breakers and
buckets): the boundary that turns redis-py's errors into ``RedisOutage``."""

from __future__ import annotations

import redis

from herald.errors import Boundary, RedisOutage

# TimeoutError, asyncio's included, is an OSError.
REDIS = Boundary(RedisOutage, (redis.RedisError, OSError))
