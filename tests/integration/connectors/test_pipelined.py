"""Batched script calls against real Redis: one pipeline per turn of the loop, each caller
with its own reply or error, and scripts that Redis lost loaded again."""

from __future__ import annotations

import asyncio

import redis.asyncio as redis
from redis.exceptions import ResponseError

from connectors.delivery.pipelined import Pipelined
from herald.settings import HeraldSettings
from herald.topics import TopicNames
from tests.integration.connectors.test_delivery_state import run

_INCR = "return redis.call('INCRBY', KEYS[1], tonumber(ARGV[1]))"


def test_concurrent_calls_share_one_round_trip_in_order(stack: HeraldSettings) -> None:
    async def scenario(client: redis.Redis, names: TopicNames) -> None:
        batch = Pipelined(client)
        incr = batch.script(_INCR)
        key = f"{names.prefix}counter"
        replies = await asyncio.gather(*(incr([key], [n]) for n in range(1, 201)))
        assert replies == [n * (n + 1) // 2 for n in range(1, 201)]  # run in the order asked
        assert batch.round_trips == 1
        assert await incr([key], [1]) == 20101  # a lone call is a trip of its own
        assert batch.round_trips == 2

    run(stack, scenario)


def test_one_failing_call_fails_alone(stack: HeraldSettings) -> None:
    async def scenario(client: redis.Redis, names: TopicNames) -> None:
        incr = Pipelined(client).script(_INCR)
        key = f"{names.prefix}counter"
        replies = await asyncio.gather(
            incr([key], [2]), incr([key], ["not a number"]), incr([key], [3]),
            return_exceptions=True,
        )  # fmt: skip
        assert replies[0] == 2 and replies[2] == 5
        assert isinstance(replies[1], ResponseError)

    run(stack, scenario)


def test_scripts_flushed_from_redis_are_loaded_again(stack: HeraldSettings) -> None:
    async def scenario(client: redis.Redis, names: TopicNames) -> None:
        incr = Pipelined(client).script(_INCR)
        key = f"{names.prefix}counter"
        assert await incr([key], [1]) == 1
        await client.script_flush()
        assert await asyncio.gather(incr([key], [1]), incr([key], [1])) == [2, 3]

    run(stack, scenario)


def test_a_cancelled_caller_leaves_the_others_answered(stack: HeraldSettings) -> None:
    async def scenario(client: redis.Redis, names: TopicNames) -> None:
        incr = Pipelined(client).script(_INCR)
        key = f"{names.prefix}counter"
        calls = [asyncio.ensure_future(incr([key], [1])) for _ in range(5)]
        await asyncio.sleep(0)  # queued, and their pipeline on its way
        calls[2].cancel()
        replies = await asyncio.gather(*calls, return_exceptions=True)
        assert isinstance(replies[2], asyncio.CancelledError)
        assert sorted(r for r in replies if isinstance(r, int)) == [1, 2, 4, 5]  # it ran all 5

    run(stack, scenario)
