"""Redis scripts whose calls go out together: one round trip for every call made in one turn
of the event loop.

A sender's round runs its messages concurrently, so each of its steps (the ledger's claims,
the bucket's tokens, the ledger's outcomes) is asked for by many coroutines at nearly the same
moment. Each call is queued, and the queue is sent as one pipeline (not a transaction: each
script is atomic on its own) at the next turn of the loop; every caller gets its own reply or
its own error. Batching changes when a command is sent, never what it does.

Scripts go by their SHA (EVALSHA); a Redis that lost them (restarted, SCRIPT FLUSH) answers
NOSCRIPT without running them, so those calls are sent again through redis-py, which loads
the script first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

Arg = str | int | float | bytes


@dataclass(slots=True)
class _Call:
    script: AsyncScript
    keys: Sequence[str]
    args: Sequence[Arg]
    reply: asyncio.Future[Any]


class Pipelined:
    """The calls of one client's scripts, batched per turn of the event loop."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._queued: list[_Call] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # where the queue's flush runs
        self._sending: set[asyncio.Task[None]] = set()
        self.round_trips = 0  # pipelines sent, for tests and benchmarks

    def script(self, source: str) -> Script:
        return Script(self, self._client.register_script(source))

    async def call(self, script: AsyncScript, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        loop = asyncio.get_running_loop()
        if self._queued and self._loop is not loop:
            self._queued = []  # left by a loop that stopped before its flush: nobody waits
        call = _Call(script, keys, args, loop.create_future())
        if not self._queued:
            self._loop = loop
            loop.call_soon(self._flush)
        self._queued.append(call)
        return await call.reply

    def _flush(self) -> None:
        batch, self._queued = self._queued, []
        task = asyncio.get_running_loop().create_task(self._send(batch))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[_Call]) -> None:
        """Every call of ``batch`` answered, whatever happens (a caller cancelled meanwhile
        just gets nothing)."""
        try:
            replies = await self._pipeline(batch)
            again = []
            for call, reply in zip(batch, replies, strict=True):
                if isinstance(reply, NoScriptError):
                    again.append(call)
                elif isinstance(reply, Exception):
                    _fail(call, reply)
                elif not call.reply.done():
                    call.reply.set_result(reply)
            for call in again:  # in the order asked, after the others' answers
                await self._again(call)
        except Exception as exc:  # the connection failed: every call of it fails alike
            for call in batch:
                _fail(call, exc)
        finally:
            for call in batch:
                call.reply.cancel()  # only the unanswered (a cancelled send): done ones stay

    async def _pipeline(self, batch: list[_Call]) -> list[Any]:
        self.round_trips += 1
        async with self._client.pipeline(transaction=False) as pipe:
            for call in batch:
                pipe.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
            return replies

    async def _again(self, call: _Call) -> None:
        """A call Redis did not run for want of its script: through redis-py, which loads it."""
        try:
            reply = await call.script(keys=list(call.keys), args=list(call.args))
        except Exception as exc:
            _fail(call, exc)
        else:
            if not call.reply.done():
                call.reply.set_result(reply)


def _fail(call: _Call, error: BaseException) -> None:
    if not call.reply.done():
        call.reply.set_exception(error)


class Script:
    """One registered script; ``await script(keys, args)`` is batched with its neighbours."""

    def __init__(self, batch: Pipelined, script: AsyncScript) -> None:
        self._batch = batch
        self._script = script

    async def __call__(self, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        return await self._batch.call(self._script, keys, args)
