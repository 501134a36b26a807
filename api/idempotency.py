"""Idempotency keys in Redis: the first request with a key publishes, every repeat (also one
arriving while the first is still under way) gets the first one's answer.

A key holds its body's fingerprint while the first request runs, then the answer as well, for
``api.idempotency_ttl_s``. A first request that failed (a 503) gives the key up, so a retry
publishes afresh.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from herald.redis import REDIS

PENDING_TTL_S = 60  # a first request that died mid-way frees its key after this long


class KeyReused(Exception):
    """The key came before with another body."""


class StillRunning(Exception):
    """The first request with this key has not finished in time."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]


def fingerprint(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


class IdempotencyKeys:
    def __init__(self, redis: Redis, prefix: str, ttl_s: int, wait_s: float = 30.0) -> None:
        self._redis = redis
        self._prefix = f"{prefix}api:idempotency:"
        self._ttl_s = ttl_s
        self._wait_s = wait_s

    @REDIS
    async def claim(self, key: str, print_: str) -> Answer | None:
        """None: this request owns the key and goes on; else the first request's answer."""
        name = self._prefix + key
        deadline = time.monotonic() + self._wait_s
        while True:
            if await self._redis.set(name, json.dumps({"f": print_}), nx=True, ex=PENDING_TTL_S):
                return None
            raw = await self._redis.get(name)
            if raw is not None:
                entry = json.loads(raw)
                if entry["f"] != print_:
                    raise KeyReused(key)
                if "status" in entry:
                    return Answer(entry["status"], entry["body"])
            if time.monotonic() > deadline:
                raise StillRunning(key)
            await asyncio.sleep(0.02)

    @REDIS
    async def answer(self, key: str, print_: str, answer: Answer) -> None:
        entry = {"f": print_, "status": answer.status, "body": answer.body}
        await self._redis.set(self._prefix + key, json.dumps(entry), ex=self._ttl_s)

    @REDIS
    async def give_up(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)
