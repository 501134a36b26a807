"""API keys' pure parts: tokens, digests, scopes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.keys import ApiKey, ApiKeyError, Scope, digest, new_token, parse, scopes_of


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
