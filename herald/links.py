"""Signed links for end users: a token that names what a link may do, for whom, until when.

An unsubscribe link carries an HS256 JWT (PyJWT) of the user, the category and an expiry,
for the audience ``herald:unsubscribe``; the link also names the user and category in clear,
and the token must match them, so a token of one user or category opens no other. The key is
``links.secret`` (HERALD_LINKS__SECRET), which has no default.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlencode

import jwt

from herald.errors import HeraldError
from herald.settings import LinkSettings, required

UNSUBSCRIBE: Final = "herald:unsubscribe"
ALGORITHM: Final = "HS256"
MIN_SECRET_BYTES: Final = 32  # RFC 7518: an HS256 key at least as long as the hash


class InvalidLink(HeraldError):
    """A link whose token is forged, altered, expired, or for another user or category;
    ``reason`` says which, for the page and the metric (never the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    user_id: str
    category: str


class LinkSigner:
    def __init__(self, secret: str, base_url: str, unsubscribe_ttl: timedelta) -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise HeraldError(f"HERALD_LINKS__SECRET must be at least {MIN_SECRET_BYTES} bytes")
        self._key = secret
        self._base = base_url.rstrip("/")
        self._ttl = unsubscribe_ttl

    @classmethod
    def from_settings(cls, links: LinkSettings) -> LinkSigner:
        secret = required(links.secret, "HERALD_LINKS__SECRET").get_secret_value()
        return cls(secret, links.base_url, timedelta(seconds=links.unsubscribe_ttl_s))

    def unsubscribe_token(self, user_id: str, category: str, now: datetime) -> str:
        claims = {"aud": UNSUBSCRIBE, "sub": user_id, "cat": category, "exp": now + self._ttl}
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def unsubscribe_url(self, user_id: str, category: str, now: datetime) -> str:
        """The one-click link (RFC 8058) for the List-Unsubscribe header."""
        token = self.unsubscribe_token(user_id, category, now)
        query = urlencode({"user": user_id, "category": category, "token": token})
        return f"{self._base}/v1/unsubscribe?{query}"

    def check_unsubscribe(
        self, token: str, user_id: str, category: str, now: datetime
    ) -> Unsubscribe:
        """What the link may do; ``InvalidLink`` for any token it did not sign for them."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=UNSUBSCRIBE,
                options={"require": ["aud", "sub", "cat", "exp"], "verify_exp": False},
            )
        except jwt.InvalidTokenError as error:
            raise InvalidLink("not a link of ours") from error
        if claims["sub"] != user_id or claims["cat"] != category:
            raise InvalidLink("a link for another user or category")
        if not isinstance(claims["exp"], int) or claims["exp"] <= now.timestamp():
            raise InvalidLink("expired")
        return Unsubscribe(user_id, category)
