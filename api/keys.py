"""API keys: ``hk_<key id>_<secret>``, sent as a bearer token, stored as the secret's digest.

The secret is 32 random bytes, so a plain SHA-256 digest is enough (no password stretching is
needed for what no one chose); the digest is compared in constant time.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from cassandra.cluster import Session

from herald.cassandra import CASSANDRA_ERRORS
from herald.errors import Boundary, CassandraOutage, HeraldError
from herald.migrate import keyspace_name
from herald.settings import CassandraSettings

PREFIX = "hk"
CASSANDRA = Boundary(CassandraOutage, CASSANDRA_ERRORS)


class Scope(StrEnum):
    PUBLISH = "publish"  # send notifications
    READ = "read"  # look up notifications, users' histories, requests; read and preview templates
    ADMIN = "admin"  # preferences, contacts; write templates


class ApiKeyError(HeraldError):
    """A key that cannot be created or revoked as asked."""


def scopes_of(text: str) -> frozenset[Scope]:
    """``"publish,read"`` -> the scopes; an unknown one is an error naming it."""
    found = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            found.add(Scope(part))
        except ValueError:
            allowed = ", ".join(scope.value for scope in Scope)
            raise ApiKeyError(f"{part!r} is not a scope (one of {allowed})") from None
    if not found:
        raise ApiKeyError("a key needs at least one scope")
    return frozenset(found)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh key id and the whole token that carries it."""
    key_id = secrets.token_hex(6)
    return key_id, f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def parse(token: str) -> tuple[str, str] | None:
    """The key id and secret of a token, or None when it does not look like one."""
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != PREFIX or not key_id or not secret:
        return None
    return key_id, secret


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    name: str
    scopes: frozenset[Scope]
    created_at: datetime
    revoked_at: datetime | None
    digest: str

    def admits(self, secret: str) -> bool:
        return self.revoked_at is None and hmac.compare_digest(self.digest, digest(secret))


class KeyStore:
    """The keys in Cassandra's ``api_keys`` table (migration 0002)."""

    def __init__(self, session: Session, keyspace: str) -> None:
        space = keyspace_name(CassandraSettings(keyspace=keyspace))
        self._session = session
        columns = "key_id, digest, scopes, name, created_at, revoked_at"
        with CASSANDRA:
            self._insert = session.prepare(
                f"INSERT INTO {space}.api_keys ({columns}) VALUES (?, ?, ?, ?, ?, ?)"  # noqa: S608
            )
            self._find = session.prepare(f"SELECT {columns} FROM {space}.api_keys WHERE key_id = ?")  # noqa: S608
            self._all = session.prepare(f"SELECT {columns} FROM {space}.api_keys")  # noqa: S608
            self._revoke = session.prepare(
                f"UPDATE {space}.api_keys SET revoked_at = ? WHERE key_id = ? IF EXISTS"  # noqa: S608
            )

    def create(self, name: str, scopes: Iterable[Scope]) -> tuple[ApiKey, str]:
        """A new key and its token: the token is shown once and never stored."""
        key_id, token = new_token()
        parsed = parse(token)
        assert parsed is not None
        key = ApiKey(key_id, name, frozenset(scopes), datetime.now(UTC), None, digest(parsed[1]))
        with CASSANDRA:
            self._session.execute(
                self._insert,
                (key_id, key.digest, {s.value for s in key.scopes}, name, key.created_at, None),
            )
        return key, token

    def find(self, key_id: str) -> ApiKey | None:
        with CASSANDRA:
            row = self._session.execute(self._find, (key_id,)).one()
        return None if row is None else _key(row)

    def all(self) -> list[ApiKey]:
        with CASSANDRA:
            rows = list(self._session.execute(self._all))
        return sorted((_key(row) for row in rows), key=lambda k: k.created_at)

    def revoke(self, key_id: str) -> None:
        with CASSANDRA:
            applied = self._session.execute(self._revoke, (datetime.now(UTC), key_id)).was_applied
        if not applied:
            raise ApiKeyError(f"no API key {key_id!r}")


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


def _key(row: object) -> ApiKey:
    created = _utc(row.created_at)  # type: ignore[attr-defined]
    assert created is not None
    return ApiKey(
        key_id=row.key_id,  # type: ignore[attr-defined]
        name=row.name or "",  # type: ignore[attr-defined]
        scopes=frozenset(Scope(s) for s in row.scopes or ()),  # type: ignore[attr-defined]
        created_at=created,
        revoked_at=_utc(row.revoked_at),  # type: ignore[attr-defined]
        digest=row.digest,  # type: ignore[attr-defined]
    )


class Verifier:
    """Checks tokens against the store, trusting a looked-up key for ``cache_s`` (so a
    revocation takes effect within that time on every API process)."""

    def __init__(self, store: KeyStore, cache_s: float) -> None:
        self._store = store
        self._cache_s = cache_s
        self._cached: dict[str, tuple[float, ApiKey | None]] = {}
        # tokens that passed, by token: a repeat skips the digest (as long as its key's entry)
        self._admitted: dict[str, tuple[float, ApiKey]] = {}
        # one lookup at a time per key id: when an entry expires under load, the requests
        # that arrive meanwhile wait for that lookup instead of each making their own
        self._looking: dict[str, asyncio.Future[ApiKey | None]] = {}

    async def key_for(self, token: str) -> ApiKey | None:
        """The key a valid, unrevoked token belongs to; None for any other token. Only a key
        not looked up within ``cache_s`` costs a query (in a thread: the loop goes on)."""
        now = time.monotonic()
        admitted = self._admitted.get(token)
        if admitted is not None and now - admitted[0] <= self._cache_s:
            return admitted[1]
        parsed = parse(token)
        if parsed is None:
            return None
        key_id, secret = parsed
        hit = self._cached.get(key_id)
        if hit is None or now - hit[0] > self._cache_s:
            hit = (now, await self._look_up(key_id))
            if len(self._cached) > 10_000:
                self._cached.clear()  # bounded: a flood of made-up ids cannot grow it
            self._cached[key_id] = hit
        key = hit[1]
        if key is None or not key.admits(secret):
            return None
        if len(self._admitted) > 10_000:
            self._admitted.clear()
        self._admitted[token] = (hit[0], key)  # trusted no longer than its key's entry
        return key

    async def _look_up(self, key_id: str) -> ApiKey | None:
        pending = self._looking.get(key_id)
        if pending is not None:
            return await asyncio.shield(pending)
        pending = asyncio.ensure_future(asyncio.to_thread(self._store.find, key_id))
        self._looking[key_id] = pending
        try:
            return await asyncio.shield(pending)
        finally:
            if pending.done():
                self._looking.pop(key_id, None)
            else:  # this request was cancelled: the others still wait for the lookup
                pending.add_done_callback(lambda _: self._looking.pop(key_id, None))
