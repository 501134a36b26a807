"""Redis for the stores that live there (deferred items, the senders' ledger, breakers and
buckets): the boundary that turns redis-py's errors into ``RedisOutage``."""

from __future__ import annotations

import redis

from herald.errors import Boundary, RedisOutage

# Redis away, loading, read-only or out of connections; TimeoutError (asyncio's too) is an
# OSError. A refused command (ResponseError, DataError) is a bug, not an outage.
REDIS = Boundary(
    RedisOutage,
    (
        redis.ConnectionError,
        redis.TimeoutError,
        redis.exceptions.BusyLoadingError,
        redis.exceptions.ReadOnlyError,
        redis.exceptions.MaxConnectionsError,
        OSError,
    ),
)
