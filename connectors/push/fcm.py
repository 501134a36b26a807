"""Firebase Cloud Messaging, HTTP v1 API, with the OAuth2 service-account grant.

The access token is fetched with a signed JWT (RFC 7523), cached, and fetched again shortly
before it expires, or once when FCM answers 401. Concurrent sends share one fetch.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlencode

import jwt
import orjson

from connectors.base import (
    DeliveryError,
    PermanentDeliveryError,
    Receipt,
    TransientDeliveryError,
    UnknownOutcomeError,
)
from connectors.http import (
    FORM,
    JSON,
    HttpClient,
    HttpResponse,
    by_status,
    json_body,
    parse_retry_after,
)
from connectors.push.events import event_data, event_token
from herald.errors import ConfigurationError
from herald.links import LinkSigner
from herald.models import Channel, ChannelMessage, Priority
from herald.settings import FcmSettings, required

SETTING = "HERALD_DELIVERY__FCM"

NAME = "fcm"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME_S = 3600
REFRESH_MARGIN_S = 300.0  # fetch a new access token this long before the old one expires

_ADDRESS_DEAD = frozenset({"UNREGISTERED"})
_TRANSIENT = frozenset({"QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL"})


@dataclass(frozen=True, slots=True, repr=False)
class ServiceAccount:
    client_email: str
    private_key: str
    token_uri: str
    private_key_id: str | None = None


def load_service_account(path: Path) -> ServiceAccount:
    try:
        raw = json.loads(path.read_text())
        return ServiceAccount(
            client_email=raw["client_email"],
            private_key=raw["private_key"],
            token_uri=raw["token_uri"],
            private_key_id=raw.get("private_key_id"),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"FCM service account {path}: {type(exc).__name__}") from exc


def assertion_claims(account: ServiceAccount, now: int) -> dict[str, Any]:
    return {
        "iss": account.client_email,
        "aud": account.token_uri,
        "scope": SCOPE,
        "iat": now,
        "exp": now + ASSERTION_LIFETIME_S,
    }


def grant_assertion(account: ServiceAccount, now: int) -> str:
    """The RS256 JWT that the token endpoint exchanges for an access token."""
    headers = {"kid": account.private_key_id} if account.private_key_id else None
    return jwt.encode(
        assertion_claims(account, now), account.private_key, algorithm="RS256", headers=headers
    )


def fcm_message(
    message: ChannelMessage, now: datetime, event_token: str | None = None
) -> dict[str, Any]:
    """The HTTP v1 request body; the notification id (and the token its app reports an open
    with, when links are signed) travel in ``data``."""
    android: dict[str, Any] = {
        "priority": "high" if message.priority in (Priority.CRITICAL, Priority.HIGH) else "normal"
    }
    if message.deadline is not None:
        android["ttl"] = f"{max(0, int((message.deadline - now).total_seconds()))}s"
    notification = {"body": message.body}
    if message.title is not None:
        notification["title"] = message.title
    return {
        "message": {
            "token": message.address,
            "notification": notification,
            "data": {"notification_id": message.notification_id, **event_data(event_token)},
            "android": android,
        }
    }


def _details(error: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    details = error.get("details")
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _about_token(error: Mapping[str, Any]) -> bool:
    for detail in _details(error):
        for violation in detail.get("fieldViolations") or []:
            if isinstance(violation, dict) and "token" in str(violation.get("field", "")).lower():
                return True
    return "registration token" in str(error.get("message", "")).lower()


def classify(
    status: int, headers: Mapping[str, str], body: Mapping[str, Any], now: datetime
) -> DeliveryError:
    """Google's error JSON (``error.details[].errorCode``, ``error.status``) as a delivery
    error."""
    raw = body.get("error")
    error: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    codes = [d.get("errorCode") for d in _details(error) if d.get("errorCode")]
    code = str(codes[0] if codes else error.get("status") or status)
    if code in _ADDRESS_DEAD:
        return PermanentDeliveryError(NAME, code, "token no longer registered", True)
    if code == "INVALID_ARGUMENT":
        about_token = _about_token(error)
        detail = "invalid registration token" if about_token else "invalid message"
        return PermanentDeliveryError(NAME, code, detail, about_token)
    if code in _TRANSIENT:
        retry_after = parse_retry_after(headers.get("retry-after"), now)
        return TransientDeliveryError(NAME, code, f"HTTP {status}", retry_after)
    return by_status(NAME, status, code, headers, now)


class _AccessToken:
    """The cached OAuth2 access token; one fetch at a time."""

    def __init__(
        self,
        client: HttpClient,
        account: ServiceAccount,
        clock: Callable[[], float],
    ) -> None:
        self._client = client
        self._account = account
        self._clock = clock
        self._lock = asyncio.Lock()
        self._value: str | None = None
        self._refresh_at = 0.0
        self.fetches = 0

    async def get(self, stale: str | None = None) -> str:
        """The current token; a new one when it is near expiry or equals ``stale`` (rejected)."""
        async with self._lock:
            if self._value is None or self._value == stale or self._clock() >= self._refresh_at:
                await self._fetch()
            assert self._value is not None
            return self._value

    async def _fetch(self) -> None:
        now = self._clock()
        form = {"grant_type": GRANT_TYPE, "assertion": grant_assertion(self._account, int(now))}
        grant = urlencode(form).encode()
        try:
            response = await self._client.request(
                NAME, "POST", self._account.token_uri, content=grant, headers=FORM
            )
        except UnknownOutcomeError as exc:  # no token, so the message surely did not leave
            raise TransientDeliveryError(NAME, "token_grant", exc.detail) from exc
        body = json_body(response.content)
        if response.status_code != 200 or "access_token" not in body:
            raise by_status(NAME, response.status_code, "token_grant", response.headers, _utc(now))
        expires_in = float(body.get("expires_in", ASSERTION_LIFETIME_S))
        self._value = str(body["access_token"])
        self._refresh_at = now + max(0.0, expires_in - REFRESH_MARGIN_S)
        self.fetches += 1


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


class FcmSender:
    name: ClassVar[str] = NAME
    channel: ClassVar[Channel] = Channel.PUSH
    accepts_idempotency_key: ClassVar[bool] = False

    def __init__(
        self,
        client: HttpClient,
        settings: FcmSettings,
        clock: Callable[[], float] = time.time,
        links: LinkSigner | None = None,
    ) -> None:
        self._client = client
        self._clock = clock
        self._links = links
        project = required(settings.project_id, f"{SETTING}__PROJECT_ID")
        account = required(settings.service_account_file, f"{SETTING}__SERVICE_ACCOUNT_FILE")
        self._url = f"{settings.endpoint}/v1/projects/{project}/messages:send"
        self.token = _AccessToken(client, load_service_account(account), clock)

    async def send(self, message: ChannelMessage, idempotency_key: str) -> Receipt:
        now = _utc(self._clock())
        payload = fcm_message(message, now, event_token(self._links, NAME, message, now))
        access = await self.token.get()
        response = await self._post(payload, access)
        if response.status_code == 401:  # revoked or expired early: one fresh token
            response = await self._post(payload, await self.token.get(stale=access))
        if response.status_code == 200:
            return Receipt(NAME, json_body(response.content).get("name"))
        raise classify(response.status_code, response.headers, json_body(response.content), now)

    async def _post(self, payload: dict[str, Any], access: str) -> HttpResponse:
        headers = {**JSON, "authorization": f"Bearer {access}"}
        body = orjson.dumps(payload)  # compact UTF-8, as httpx sent it; NaN refused
        return await self._client.request(NAME, "POST", self._url, content=body, headers=headers)

    async def aclose(self) -> None:
        await self._client.aclose()
