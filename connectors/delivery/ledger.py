"""The idempotency ledger: at most one delivery per (notification id, channel[, device]).

One Redis hash per delivery, claimed in Lua before every provider call:
- no entry, or one ``waiting`` for its next attempt: claimed ``in_flight`` (owner, attempt,
  time) -> ``Go``;
- a terminal entry (``sent``, ``failed``, ``dead_lettered``, ``unknown``): not sent again; its
  outcome comes back so its status can be emitted again -> ``Terminal``;
- in flight with a live owner (claimed less than ``in_flight_stale_s`` ago): another call is
  under way -> ``Busy`` until the claim goes stale;
- in flight with a stale owner (a sender died mid-call): claimed again -> ``Go`` naming the
  provider the dead owner was calling, which may have delivered it.
The caller may name the provider it will call (known before the claim when its breaker was
closed at the round's start): it is recorded with the claim, saving ``calling``'s round trip.
``Go.reconcile_with`` names a provider whose earlier call has an unknown outcome (the stale
case, or an ``UnknownOutcomeError`` released for another attempt): the caller may only send
again through that provider, with the same idempotency key, when it deduplicates by it;
otherwise the delivery ends as ``unknown``. Entries expire ``ledger_ttl_s`` after their last
change.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as redis

from connectors.delivery.pipelined import Pipelined
from herald.errors import HeraldError
from herald.models import State
from herald.receipts import MessageRef
from herald.redis import REDIS

_BEGIN = """
local e = redis.call('HMGET', KEYS[1], 'state', 'at', 'provider', 'uncertain')
local state, uncertain = e[1], e[4]
if state and state ~= 'in_flight' and state ~= 'waiting' then
  return {'terminal', redis.call('HGETALL', KEYS[1])}
end
if state == 'in_flight' then
  local stale_at = tonumber(e[2]) + tonumber(ARGV[4])
  if tonumber(ARGV[3]) < stale_at then return {'busy', tostring(stale_at)} end
  if e[3] then uncertain = e[3] end
end
redis.call('HSET', KEYS[1], 'state', 'in_flight', 'owner', ARGV[1], 'attempt', ARGV[2],
           'at', ARGV[3])
redis.call('HDEL', KEYS[1], 'provider')
if uncertain then
  redis.call('HSET', KEYS[1], 'uncertain', uncertain)
elseif ARGV[6] ~= '' then
  redis.call('HSET', KEYS[1], 'provider', ARGV[6])
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {'go', uncertain or ''}
"""

_RELEASE = """
if redis.call('HGET', KEYS[1], 'state') ~= 'in_flight'
   or redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'waiting')
redis.call('HDEL', KEYS[1], 'owner', 'at', 'provider')
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'uncertain', ARGV[2]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""

_FINISH = """
local state = redis.call('HGET', KEYS[1], 'state')
if state and state ~= 'in_flight' and state ~= 'waiting' then
  return {'terminal', redis.call('HGETALL', KEYS[1])}
end
local count = tonumber(ARGV[2])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3, 2 + count))
redis.call('EXPIRE', KEYS[1], ARGV[1])
if KEYS[2] then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[2], unpack(ARGV, 3 + count))
  redis.call('EXPIRE', KEYS[2], ARGV[1])
end
return {'recorded', {}}
"""

TERMINAL = frozenset({State.SENT, State.FAILED, State.DEAD_LETTERED, State.UNKNOWN})


class NotTerminal(HeraldError):
    """``finish`` was given a state that does not end a delivery: a caller's bug."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a delivery ended; what its status says."""

    state: State
    attempt: int
    provider: str | None = None
    provider_message_id: str | None = None
    reason: str | None = None
    detail: str | None = None

    def fields(self) -> list[str]:
        pairs = {
            "state": self.state.value,
            "attempt": str(self.attempt),
            "provider": self.provider,
            "provider_message_id": self.provider_message_id,
            "reason": self.reason,
            "detail": self.detail,
        }
        return [part for key, value in pairs.items() if value is not None for part in (key, value)]

    @classmethod
    def parse(cls, flat: list[bytes]) -> Outcome:
        found = {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}
        return cls(
            state=State(found["state"]),
            attempt=int(found.get("attempt", "0")),
            provider=found.get("provider"),
            provider_message_id=found.get("provider_message_id"),
            reason=found.get("reason"),
            detail=found.get("detail"),
        )


@dataclass(frozen=True, slots=True)
class Go:
    reconcile_with: str | None = None


@dataclass(frozen=True, slots=True)
class Terminal:
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Busy:
    until: float  # epoch seconds when the other owner's claim goes stale


Claim = Go | Terminal | Busy


def new_owner() -> str:
    """This process, as named in the ledger's in-flight entries."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Ledger:
    def __init__(
        self,
        client: redis.Redis,
        owner: str,
        *,
        stale_s: float,
        ttl_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.owner = owner
        self._client = client
        self._stale_s = stale_s
        self._ttl_s = ttl_s
        self._clock = clock
        scripts = Pipelined(client)  # a round's claims (and outcomes) in one round trip
        self._begin = scripts.script(_BEGIN)
        self._release = scripts.script(_RELEASE)
        self._finish = scripts.script(_FINISH)

    @REDIS
    async def begin(self, key: str, attempt: int, calling: str | None = None) -> Claim:
        """Claim ``key`` for a call. ``calling``: the provider the call will go to, recorded
        with the claim (as ``calling`` would) unless the claim is to be reconciled."""
        args: list[str | int | float] = [
            self.owner,
            attempt,
            repr(self._clock()),
            self._stale_s,
            self._ttl_s,
            calling or "",
        ]
        kind, value = await self._begin([key], args)
        if kind == b"terminal":
            return Terminal(Outcome.parse(value))
        if kind == b"busy":
            return Busy(float(value))
        return Go(value.decode() or None)

    @REDIS
    async def calling(self, key: str, provider: str) -> None:
        """Record which provider the claimed call goes to (before the call)."""
        await self._client.hset(key, "provider", provider)

    @REDIS
    async def release(self, key: str, uncertain: str | None = None) -> bool:
        """Give up our claim until the next attempt; ``uncertain``: the provider whose call
        just now has an unknown outcome. False when the claim was no longer ours."""
        args: list[str | int] = [self.owner, uncertain or "", self._ttl_s]
        return bool(await self._release([key], args))

    @REDIS
    async def finish(
        self, key: str, outcome: Outcome, message: tuple[str, MessageRef] | None = None
    ) -> Outcome:
        """Record a terminal outcome; the one recorded first wins and is returned.
        ``message``: the provider message's key and what it stands for, recorded with it."""
        if outcome.state not in TERMINAL:
            raise NotTerminal(f"{outcome.state} is not a terminal state")
        fields = outcome.fields()
        args: list[str | int] = [self._ttl_s, len(fields), *fields]
        keys = [key]
        if message is not None:
            keys.append(message[0])
            args.extend(message[1].fields())
        kind, value = await self._finish(keys, args)
        return Outcome.parse(value) if kind == b"terminal" else outcome
