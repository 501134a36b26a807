"""Signed links for end users: a token that names what a link may do, for whom, until when.

An unsubscribe link carries an HS256 JWT (PyJWT) of the user, the category and an expiry,
for the audience ``herald:unsubscribe``; the link also names the user and category in clear,
and the token must match them, so a token of one user or category opens no other. An event
token (audience ``herald:event``), which a push message carries for its app to report an open,
names the notification it is about. A preference centre link (``herald:preferences``) opens one
user's preference page. The key is ``links.secret`` (HERALD_LINKS__SECRET), which
has no default; each audience's tokens open nothing of another's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlencode

import jwt

from herald.errors import HeraldError
from herald.models import Channel
from herald.receipts import MessageRef
from herald.settings import LinkSettings, required

UNSUBSCRIBE: Final = "herald:unsubscribe"
EVENT: Final = "herald:event"
PREFERENCES: Final = "herald:preferences"
ALGORITHM: Final = "HS256"
MIN_SECRET_BYTES: Final = 32  # RFC 7518: an HS256 key at least as long as the hash


class InvalidLink(HeraldError):
    """A link whose token is forged, altered, expired, or for another user or category;
    ``reason`` says which, for the page and the metric (never the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Tracked:
    """What an event token is about: a message, the provider that took it, and for a click
    the link's own URL (the only place a click redirects to)."""

    ref: MessageRef
    provider: str | None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    user_id: str
    category: str


class LinkSigner:
    def __init__(
        self,
        secret: str,
        base_url: str,
        unsubscribe_ttl: timedelta,
        events_ttl: timedelta = timedelta(days=90),
        preferences_ttl: timedelta = timedelta(days=30),
    ) -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise HeraldError(f"HERALD_LINKS__SECRET must be at least {MIN_SECRET_BYTES} bytes")
        self._key = secret
        self._base = base_url.rstrip("/")
        self._ttl = unsubscribe_ttl
        self._events_ttl = events_ttl
        self._preferences_ttl = preferences_ttl

    @classmethod
    def from_settings(cls, links: LinkSettings) -> LinkSigner:
        secret = required(links.secret, "HERALD_LINKS__SECRET").get_secret_value()
        return cls(
            secret,
            links.base_url,
            timedelta(seconds=links.unsubscribe_ttl_s),
            timedelta(seconds=links.events_ttl_s),
            timedelta(seconds=links.preferences_ttl_s),
        )

    @classmethod
    def configured(cls, links: LinkSettings) -> LinkSigner | None:
        """The signer, or None when links.secret is not set (no signed links)."""
        return None if links.secret is None else cls.from_settings(links)

    def _claims(
        self, token: str, audience: str, names: list[str], now: datetime
    ) -> dict[str, object]:
        try:
            claims: dict[str, object] = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=audience,
                options={"require": ["aud", "exp", *names], "verify_exp": False},
            )
        except jwt.InvalidTokenError as error:
            raise InvalidLink("not a link of ours") from error
        if not isinstance(claims["exp"], int) or claims["exp"] <= now.timestamp():
            raise InvalidLink("expired")
        if not all(isinstance(claims[name], str) for name in names):
            raise InvalidLink("not a link of ours")
        return claims

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
        claims = self._claims(token, UNSUBSCRIBE, ["sub", "cat"], now)
        if claims["sub"] != user_id or claims["cat"] != category:
            raise InvalidLink("a link for another user or category")
        return Unsubscribe(user_id, category)

    def preferences_url(self, user_id: str, now: datetime) -> tuple[str, datetime]:
        """The link to the user's preference centre, and when it stops working."""
        expires = now + self._preferences_ttl
        claims = {"aud": PREFERENCES, "sub": user_id, "exp": expires}
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM)
        query = urlencode({"user": user_id, "token": token})
        return f"{self._base}/v1/preference-centre?{query}", expires

    def check_preferences(self, token: str, user_id: str, now: datetime) -> str:
        """The user whose page the link opens; ``InvalidLink`` for any other token."""
        claims = self._claims(token, PREFERENCES, ["sub"], now)
        if claims["sub"] != user_id:
            raise InvalidLink("a link for another user")
        return user_id

    def events_url(self) -> str:
        """Where an app posts the events of a message it shows (``POST /v1/events``)."""
        return f"{self._base}/v1/events"

    def event_token(
        self, ref: MessageRef, now: datetime, provider: str | None = None, url: str | None = None
    ) -> str:
        """What a message carries for its reader to report an open of it (or, with ``url``, a
        click of that link)."""
        claims = {
            **({"pv": provider} if provider is not None else {}),
            **({"url": url} if url is not None else {}),
            "aud": EVENT,
            "sub": ref.user_id,
            "nid": ref.notification_id,
            "rid": ref.request_id,
            "ch": ref.channel.value,
            "exp": now + self._events_ttl,
            **({"ten": ref.tenant} if ref.tenant is not None else {}),
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def check_event(self, token: str, now: datetime) -> Tracked:
        """The message an event token is about; ``InvalidLink`` for any other token."""
        claims = self._claims(token, EVENT, ["sub", "nid", "rid", "ch"], now)
        tenant, provider, url = claims.get("ten"), claims.get("pv"), claims.get("url")
        try:
            channel = Channel(str(claims["ch"]))
        except ValueError as error:
            raise InvalidLink("not a link of ours") from error
        ref = MessageRef(
            notification_id=str(claims["nid"]),
            request_id=str(claims["rid"]),
            user_id=str(claims["sub"]),
            channel=channel,
            tenant=tenant if isinstance(tenant, str) else None,
        )
        return Tracked(
            ref,
            provider if isinstance(provider, str) else None,
            url if isinstance(url, str) else None,
        )

    def open_url(self, ref: MessageRef, now: datetime) -> str:
        """An email's open pixel."""
        return f"{self._base}/v1/t/open?{urlencode({'token': self.event_token(ref, now)})}"

    def click_url(self, ref: MessageRef, url: str, now: datetime) -> str:
        """A link of an email, as a signed redirect to ``url``."""
        token = self.event_token(ref, now, url=url)
        return f"{self._base}/v1/t/click?{urlencode({'token': token})}"
