"""Circuit breakers per provider: a pure state machine, kept in Redis for every sender worker.

closed --(``breaker_failures`` failures within ``breaker_window_s``)--> open
open   --(``breaker_cooldown_s`` later)--> half-open: one probe call is let through
half-open --probe succeeds--> closed;  --probe fails--> open again

Failures are transient errors and unknown outcomes: the provider is unwell. A permanent
refusal is an answer, so it counts as a success. A channel picks the first provider of its list
whose breaker admits a call, so it fails over while the primary is open and comes back once the
primary's probe succeeded.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

import redis.asyncio as redis

from herald.redis import REDIS
from herald.settings import ProviderLimits
from herald.topics import TopicNames

log = logging.getLogger(__name__)


class Phase(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failures: int
    window_s: float
    cooldown_s: float
    probe_timeout_s: float  # a probe not back after this long lets another one through

    @classmethod
    def from_limits(cls, limits: ProviderLimits) -> BreakerPolicy:
        return cls(
            limits.breaker_failures,
            limits.breaker_window_s,
            limits.breaker_cooldown_s,
            probe_timeout_s=2 * limits.timeout_s + 1,
        )


@dataclass(frozen=True, slots=True)
class BreakerState:
    failures: tuple[float, ...] = ()  # epoch seconds of recent failures, while closed
    opened_at: float | None = None
    probe_at: float | None = None  # when the half-open probe was let through


def phase(state: BreakerState, now: float, policy: BreakerPolicy) -> Phase:
    if state.opened_at is None:
        return Phase.CLOSED
    if now < state.opened_at + policy.cooldown_s:
        return Phase.OPEN
    return Phase.HALF_OPEN


def admit(state: BreakerState, now: float, policy: BreakerPolicy) -> tuple[bool, BreakerState]:
    """Whether a call may go now, and the state after letting it (a probe is remembered)."""
    current = phase(state, now, policy)
    if current is Phase.CLOSED:
        return True, state
    if current is Phase.OPEN:
        return False, state
    if state.probe_at is not None and now - state.probe_at < policy.probe_timeout_s:
        return False, state  # one probe at a time
    return True, replace(state, probe_at=now)


def record(state: BreakerState, ok: bool, now: float, policy: BreakerPolicy) -> BreakerState:
    """The state after a call's outcome."""
    current = phase(state, now, policy)
    if current is Phase.OPEN:
        return state  # a late answer to a call made before it opened changes nothing
    if current is Phase.HALF_OPEN:
        return BreakerState() if ok else BreakerState(opened_at=now)
    if ok:
        return state
    recent = (*(t for t in state.failures if t > now - policy.window_s), now)
    if len(recent) >= policy.failures:
        return BreakerState(opened_at=now)
    return BreakerState(failures=recent)


def probe_due_at(state: BreakerState, policy: BreakerPolicy) -> float | None:
    """When an open breaker lets its next probe through (None: it is closed)."""
    if state.opened_at is None:
        return None
    return state.opened_at + policy.cooldown_s


def dumps(state: BreakerState) -> str:
    return json.dumps({"f": list(state.failures), "o": state.opened_at, "p": state.probe_at})


def loads(raw: bytes | str | None) -> BreakerState:
    if raw is None:
        return BreakerState()
    data = json.loads(raw)
    return BreakerState(tuple(data["f"]), data["o"], data["p"])


class Breakers:
    """Every provider's breaker of one deployment, in Redis; updates are atomic (WATCH).

    A sender worker reads them all once a round (``refresh``): a provider closed then is picked
    without reading again, and its successes, which cannot change a closed breaker, write
    nothing, until this worker records a failure of it (then it reads again). Another worker's
    change is seen at the next round, as it would be by calls already picked.
    """

    TTL_S = 24 * 3600  # a breaker nobody touched for a day is closed

    def __init__(
        self,
        client: redis.Redis,
        names: TopicNames,
        limits: Mapping[str, ProviderLimits],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._names = names
        self._policies = {name: BreakerPolicy.from_limits(lim) for name, lim in limits.items()}
        self._clock = clock
        self._closed: set[str] = set()  # closed at the last refresh, no failure recorded since

    @REDIS
    async def state(self, provider: str) -> BreakerState:
        return loads(await self._client.get(self._names.breaker_key(provider)))

    @REDIS
    async def phase(self, provider: str) -> Phase:
        return phase(await self.state(provider), self._clock(), self._policies[provider])

    @REDIS
    async def phases(self, providers: Sequence[str]) -> dict[str, Phase]:
        """Every provider's phase now, in one read."""
        if not providers:
            return {}
        raw = await self._client.mget([self._names.breaker_key(p) for p in providers])
        now = self._clock()
        return {
            p: phase(loads(r), now, self._policies[p]) for p, r in zip(providers, raw, strict=True)
        }

    @REDIS
    async def refresh(self, providers: Sequence[str]) -> dict[str, Phase]:
        """Read ``providers``' breakers for the round that starts (one Redis call)."""
        phases = await self.phases(providers)
        self._closed = {p for p, current in phases.items() if current is Phase.CLOSED}
        return phases

    def picked(self, providers: Sequence[str]) -> str | None:
        """What ``pick`` would return, when this round's read alone tells (no Redis call and
        nothing to record): the first provider, if it was closed; None: ``pick`` must read."""
        for provider in providers:
            return provider if provider in self._closed else None
        return None

    @REDIS
    async def pick(self, providers: Sequence[str]) -> str | None:
        """The first provider whose breaker admits a call now; None when all are open."""
        for provider in providers:
            if provider in self._closed or await self._admit(provider):
                return provider
        return None

    @REDIS
    async def probe_due_at(self, providers: Sequence[str]) -> float | None:
        """The earliest time one of ``providers`` lets a call through again."""
        times = [probe_due_at(await self.state(p), self._policies[p]) for p in providers]
        due = [t for t in times if t is not None]
        return min(due) if due else None

    @REDIS
    async def record(self, provider: str, ok: bool) -> None:
        if ok and provider in self._closed:
            return  # a success leaves a closed breaker (and an open one) as it is
        self._closed.discard(provider)
        policy = self._policies[provider]
        before, after = await self._update(provider, lambda s: record(s, ok, self._clock(), policy))
        if before.opened_at != after.opened_at:
            log.warning("breaker of %s %s", provider, "opened" if after.opened_at else "closed")

    async def _admit(self, provider: str) -> bool:
        policy = self._policies[provider]
        current = phase(await self.state(provider), self._clock(), policy)
        if current is not Phase.HALF_OPEN:
            return current is Phase.CLOSED  # no write needed
        allowed = False

        def step(s: BreakerState) -> BreakerState:
            nonlocal allowed
            allowed, after = admit(s, self._clock(), policy)
            return after

        await self._update(provider, step)
        return allowed

    async def _update(
        self, provider: str, step: Callable[[BreakerState], BreakerState]
    ) -> tuple[BreakerState, BreakerState]:
        key = self._names.breaker_key(provider)
        before = await self.state(provider)
        if step(before) == before:
            return before, before  # nothing to write, so nothing to guard
        while True:
            async with self._client.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    before = loads(await pipe.get(key))
                    after = step(before)
                    if after != before:
                        pipe.multi()  # type: ignore[no-untyped-call]
                        pipe.set(key, dumps(after), ex=self.TTL_S)
                        await pipe.execute()
                    return before, after
                except redis.WatchError:
                    continue  # another worker changed it meanwhile: decide again
