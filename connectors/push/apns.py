"""Apple Push Notification service, token-based (a provider JWT signed with ES256) over HTTP/2.

APNs refuses provider tokens older than an hour and tokens renewed more often than every 20
minutes, so one token is kept and renewed every ``TOKEN_RENEW_S``, or when APNs says it expired.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import jwt

from connectors.base import (
    DeliveryError,
    PermanentDeliveryError,
    Receipt,
    TransientDeliveryError,
)
from connectors.http import HttpClient, by_status, json_body, parse_retry_after
from connectors.push.events import event_data, event_token
from herald.errors import ConfigurationError
from herald.links import LinkSigner
from herald.models import Channel, ChannelMessage, Priority
from herald.settings import ApnsSettings, required

SETTING = "HERALD_DELIVERY__APNS"

NAME = "apns"
TOKEN_RENEW_S = 50 * 60
MAX_PAYLOAD_BYTES = 4096
# apns-id = uuid5(namespace, "<notification id>:<channel>"): the same delivery, the same id.
APNS_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://herald.dev/apns-id")

_ADDRESS_DEAD = frozenset({"BadDeviceToken", "DeviceTokenNotForTopic", "Unregistered"})


def apns_id(notification_id: str, channel: Channel = Channel.PUSH) -> str:
    return str(uuid.uuid5(APNS_ID_NAMESPACE, f"{notification_id}:{channel.value}"))


def token_claims(team_id: str, now: int) -> dict[str, Any]:
    return {"iss": team_id, "iat": now}


def provider_token(team_id: str, key_id: str, key_pem: str, now: int) -> str:
    return jwt.encode(
        token_claims(team_id, now), key_pem, algorithm="ES256", headers={"kid": key_id}
    )


def apns_payload(message: ChannelMessage, event_token: str | None = None) -> bytes:
    alert = {"body": message.body}
    if message.title is not None:
        alert["title"] = message.title
    payload = {
        "aps": {"alert": alert},
        "notification_id": message.notification_id,
        **event_data(event_token),
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def apns_headers(message: ChannelMessage, topic: str) -> dict[str, str]:
    """Every header but the authorization."""
    urgent = message.priority in (Priority.CRITICAL, Priority.HIGH)
    headers = {
        "apns-topic": topic,
        "apns-push-type": "alert",
        "apns-id": apns_id(message.notification_id, message.channel),
        "apns-priority": "10" if urgent else "5",
    }
    if message.deadline is not None:
        headers["apns-expiration"] = str(int(message.deadline.timestamp()))
    return headers


def classify(
    status: int, headers: Mapping[str, str], body: Mapping[str, Any], now: datetime
) -> DeliveryError:
    """APNs' ``{"reason": ...}`` as a delivery error."""
    reason = str(body.get("reason") or status)
    if status == 410 or (status == 400 and reason in _ADDRESS_DEAD):
        return PermanentDeliveryError(NAME, reason, "device token is dead", True)
    if status == 403 and reason == "ExpiredProviderToken":
        return TransientDeliveryError(NAME, reason, "provider token renewed")
    if status == 429:
        retry_after = parse_retry_after(headers.get("retry-after"), now)
        return TransientDeliveryError(NAME, reason, "HTTP 429", retry_after)
    return by_status(NAME, status, reason, headers, now)


def _read_key(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise ConfigurationError(f"APNs key {path}: {type(exc).__name__}") from exc


class _ProviderToken:
    def __init__(self, settings: ApnsSettings, clock: Callable[[], float]) -> None:
        self._team_id = required(settings.team_id, f"{SETTING}__TEAM_ID")
        self._key_id = required(settings.key_id, f"{SETTING}__KEY_ID")
        self._key = _read_key(required(settings.key_file, f"{SETTING}__KEY_FILE"))
        self._clock = clock
        self._lock = asyncio.Lock()
        self._value: str | None = None
        self._issued_at = 0.0

    async def get(self, expired: str | None = None) -> str:
        """The current token; a new one when it is due or equals ``expired`` (refused)."""
        async with self._lock:
            now = self._clock()
            if (
                self._value is None
                or self._value == expired
                or now >= self._issued_at + TOKEN_RENEW_S
            ):
                self._value = provider_token(self._team_id, self._key_id, self._key, int(now))
                self._issued_at = now
            return self._value


class ApnsSender:
    name: ClassVar[str] = NAME
    channel: ClassVar[Channel] = Channel.PUSH
    accepts_idempotency_key: ClassVar[bool] = False

    def __init__(
        self,
        client: HttpClient,
        settings: ApnsSettings,
        clock: Callable[[], float] = time.time,
        links: LinkSigner | None = None,
    ) -> None:
        self._client = client
        self._links = links
        self._endpoint = settings.endpoint
        self._topic = required(settings.bundle_id, f"{SETTING}__BUNDLE_ID")
        self._clock = clock
        self.token = _ProviderToken(settings, clock)

    async def send(self, message: ChannelMessage, idempotency_key: str) -> Receipt:
        now = datetime.fromtimestamp(self._clock(), UTC)
        payload = apns_payload(message, event_token(self._links, NAME, message, now))
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise PermanentDeliveryError(NAME, "PayloadTooLarge", f"{len(payload)} bytes")
        headers = apns_headers(message, self._topic)
        token = await self.token.get()
        headers["authorization"] = f"bearer {token}"
        url = f"{self._endpoint}/3/device/{quote(message.address, safe='')}"
        response = await self._client.request(NAME, "POST", url, content=payload, headers=headers)
        if response.status_code == 200:
            # UUIDs compare case-insensitively; APNs may echo ours in upper case.
            return Receipt(NAME, response.headers.get("apns-id", headers["apns-id"]).lower())
        error = classify(response.status_code, response.headers, json_body(response.content), now)
        if error.code == "ExpiredProviderToken":
            await self.token.get(expired=token)
        raise error

    async def aclose(self) -> None:
        await self._client.aclose()
