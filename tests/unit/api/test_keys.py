"""API keys' pure parts: tokens, digests, scopes, and the verifier's cache."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from api.keys import ApiKey, ApiKeyError, Scope, Verifier, digest, new_token, parse, scopes_of


def key_for(token: str, revoked: bool = False) -> ApiKey:
    parsed = parse(token)
    assert parsed is not None
    now = datetime.now(UTC)
    return ApiKey(
        parsed[0], "t", frozenset({Scope.READ}), now, now if revoked else None, digest(parsed[1])
    )


def test_a_token_carries_its_key_id_and_only_its_secret_admits_it() -> None:
    key_id, token = new_token()
    assert parse(token) == (key_id, token.split("_", 2)[2])
    key = key_for(token)
    assert key.admits(token.split("_", 2)[2])
    assert not key.admits("wrong")
    assert key.digest != token.split("_", 2)[2]  # never stored in clear
    assert not key_for(token, revoked=True).admits(token.split("_", 2)[2])
    assert new_token()[1] != token


@pytest.mark.parametrize("token", ["", "hk", "hk_", "hk_abc", "hk__secret", "xx_abc_secret"])
def test_what_is_not_a_token_parses_to_none(token: str) -> None:
    assert parse(token) is None


def test_scopes_are_read_from_a_list_and_an_unknown_one_is_named() -> None:
    assert scopes_of("publish, read") == {Scope.PUBLISH, Scope.READ}
    with pytest.raises(ApiKeyError, match="'write' is not a scope"):
        scopes_of("read,write")
    with pytest.raises(ApiKeyError, match="at least one"):
        scopes_of(" , ")


class SlowStore:
    """A key store whose lookups take a while and are counted."""

    def __init__(self, key: ApiKey) -> None:
        self.key = key
        self.lookups = 0

    def find(self, key_id: str) -> ApiKey | None:
        self.lookups += 1
        time.sleep(0.05)
        return self.key if key_id == self.key.key_id else None


def test_requests_that_miss_the_cache_together_share_one_lookup() -> None:
    _, token = new_token()
    store = SlowStore(key_for(token))
    verifier = Verifier(store, cache_s=60)  # type: ignore[arg-type]

    async def many() -> list[ApiKey | None]:
        return await asyncio.gather(*(verifier.key_for(token) for _ in range(50)))

    found = asyncio.run(many())
    assert store.lookups == 1 and all(key == store.key for key in found)
    wrong = token[:-4] + "AAAA"
    assert asyncio.run(verifier.key_for(wrong)) is None and store.lookups == 1  # cached


def test_a_cancelled_request_leaves_the_lookup_to_the_others() -> None:
    _, token = new_token()
    store = SlowStore(key_for(token))
    verifier = Verifier(store, cache_s=0)  # type: ignore[arg-type]

    async def cancel_one() -> ApiKey | None:
        first = asyncio.ensure_future(verifier.key_for(token))
        second = asyncio.ensure_future(verifier.key_for(token))
        await asyncio.sleep(0.01)
        first.cancel()
        return await second

    assert asyncio.run(cancel_one()) == store.key
    assert store.lookups == 1
    assert asyncio.run(verifier.key_for(token)) == store.key and store.lookups == 2  # expired
