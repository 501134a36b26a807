"""The error tree's boundaries: each client library's errors land on the outage branch, where
the client is wrapped; Herald's own errors and bad records pass through unchanged."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest
import redis.asyncio as redis

from herald.codec import AvroCodec, frame
from herald.deferred import DeferredStore
from herald.errors import (
    Boundary,
    CodecError,
    HeraldError,
    OutageError,
    RecordError,
    RedisOutage,
    RegistryOutage,
    ValidationError,
)


class Library(Exception):
    pass


BOUNDARY = Boundary(RedisOutage, (Library,))


def test_a_library_error_becomes_the_outage_with_its_cause() -> None:
    @BOUNDARY
    def call() -> None:
        raise Library("connection refused")

    with pytest.raises(RedisOutage, match="Redis: Library: connection refused") as caught:
        call()
    assert isinstance(caught.value.__cause__, Library)


def test_coroutines_are_converted_too() -> None:
    @BOUNDARY
    async def call() -> int:
        raise Library("gone")

    with pytest.raises(RedisOutage):
        asyncio.run(call())


@pytest.mark.parametrize("error", [CodecError("bad"), ValueError("a bug"), HeraldError("ours")])
def test_other_errors_pass_through(error: Exception) -> None:
    with pytest.raises(type(error)), BOUNDARY:
        raise error


def test_the_two_branches() -> None:
    assert issubclass(RegistryOutage, OutageError) and issubclass(RedisOutage, OutageError)
    assert issubclass(CodecError, RecordError) and issubclass(ValidationError, RecordError)
    assert not issubclass(RecordError, OutageError)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_registry_is_an_outage_not_a_bad_record() -> None:
    """The registry client raises httpx2's (or httpx's) ConnectError: neither an httpx error
    nor an OSError in every version, which once dead-lettered valid records."""
    from confluent_kafka.schema_registry import SchemaRegistryClient

    url = f"http://127.0.0.1:{_closed_port()}"
    with (
        AvroCodec(SchemaRegistryClient({"url": url, "max.retries": 0})) as codec,
        pytest.raises(RegistryOutage) as caught,
    ):
        codec.decode(frame(424242, b"\x00"))
    assert "ConnectError" in str(caught.value)
    assert not isinstance(caught.value, RecordError)
    with (
        AvroCodec(SchemaRegistryClient({"url": url, "max.retries": 0})) as codec,
        pytest.raises(RegistryOutage),
    ):
        codec.latest_id("any-subject")


def test_an_unreachable_redis_is_an_outage() -> None:
    async def pending() -> int:
        client = redis.Redis(port=_closed_port(), socket_connect_timeout=2)
        try:
            return await DeferredStore(client, ("a", "b")).pending()
        finally:
            await client.aclose()

    with pytest.raises(RedisOutage):
        asyncio.run(pending())


def test_httpx_errors_from_elsewhere_are_not_caught_by_the_redis_boundary() -> None:
    with pytest.raises(httpx.ConnectError), BOUNDARY:
        raise httpx.ConnectError("not redis")
