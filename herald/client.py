"""The SDK over HTTP, for services that prefer it to Kafka: ``HeraldClient`` (sync) and
``AsyncHeraldClient``, on httpx, against `herald api`.

Both take the API's base URL and a key (``herald api-keys create``), or an ``httpx`` client of
your own. Answers map onto Herald's errors: a 422 is a ``ValidationError`` naming the field, a
503 (or no answer) an ``ApiUnavailable`` to retry, a 401/403 a ``NotAuthorized``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from herald.errors import HeraldError, OutageError, ValidationError
from herald.models import Channel, DeliveryStatus, NotificationRequest, State


class ApiUnavailable(OutageError):
    """The API, or a server behind it, could not take the request: retry after
    ``retry_after_s`` (None: it did not say)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class NotAuthorized(HeraldError):
    """The key is missing, wrong or revoked (401), or lacks the route's scope (403)."""


class ApiError(HeraldError):
    """Any other answer the API should not have given."""


@dataclass(frozen=True, slots=True)
class Accepted:
    request_id: str
    recipients: int


@dataclass(frozen=True, slots=True)
class HistoryPage:
    statuses: list[DeliveryStatus]
    next_cursor: str | None


def body_of(request: NotificationRequest) -> dict[str, Any]:
    """The request as `POST /v1/notifications` takes it (the API sets ``created_at``)."""
    return {
        "request_id": request.request_id,
        "source": request.source,
        "category": request.category,
        "priority": request.priority.value,
        "template_id": request.template_id,
        "recipients": list(request.recipients),
        "data": dict(request.data),
        "channels": None if request.channels is None else [c.value for c in request.channels],
        "send_at": None if request.send_at is None else request.send_at.isoformat(),
        "expires_at": None if request.expires_at is None else request.expires_at.isoformat(),
        "tenant": request.tenant,
    }


def status_of(item: dict[str, Any]) -> DeliveryStatus:
    return DeliveryStatus(
        notification_id=item["notification_id"],
        request_id=item["request_id"],
        user_id=item["user_id"],
        state=State(item["state"]),
        occurred_at=datetime.fromisoformat(item["occurred_at"]),
        channel=None if item["channel"] is None else Channel(item["channel"]),
        reason=item["reason"],
        detail=item["detail"],
        provider=item["provider"],
        provider_message_id=item["provider_message_id"],
        attempt=item["attempt"],
        tenant=item["tenant"],
    )


def checked(response: httpx.Response) -> Any:
    """The answer's JSON, or the error it stands for."""
    status = response.status_code
    if status < 300:
        return response.json()
    detail = _detail(response)
    if status == 422 and isinstance(detail, list) and detail:
        first = detail[0]
        location = [str(part) for part in first.get("loc", []) if part != "body"]
        raise ValidationError(".".join(location) or "body", str(first.get("msg", "")))
    if status in (401, 403):
        raise NotAuthorized(str(detail))
    if status in (502, 503, 504):
        retry = response.headers.get("Retry-After")
        raise ApiUnavailable(str(detail), float(retry) if retry and retry.isdigit() else None)
    raise ApiError(f"{status}: {detail}")


def _detail(response: httpx.Response) -> Any:
    try:
        return response.json().get("detail", response.text)
    except ValueError:
        return response.text


def _headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "User-Agent": "herald-sdk"}


def _send_args(
    request: NotificationRequest, idempotency_key: str | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The body and headers of a send; the request id doubles as the idempotency key, so a
    retried send never publishes twice."""
    return body_of(request), {"Idempotency-Key": idempotency_key or request.request_id}


def _page_params(limit: int, cursor: str | None) -> dict[str, Any]:
    return {"limit": limit, **({"cursor": cursor} if cursor else {})}


def _page(found: dict[str, Any]) -> HistoryPage:
    return HistoryPage([status_of(item) for item in found["items"]], found["next_cursor"])


UNREACHABLE = (httpx.TransportError,)


class HeraldClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 30.0,
        client: httpx.Client | None = None,
    ) -> None:
        self._client = client or httpx.Client(timeout=timeout_s)
        self._base = base_url.rstrip("/")
        self._headers = _headers(api_key)

    def __enter__(self) -> HeraldClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, **args: Any) -> Any:
        headers = {**self._headers, **args.pop("headers", {})}
        try:
            response = self._client.request(method, self._base + path, headers=headers, **args)
        except UNREACHABLE as error:
            raise ApiUnavailable(f"the API did not answer: {type(error).__name__}") from error
        return checked(response)

    def send(self, request: NotificationRequest, idempotency_key: str | None = None) -> Accepted:
        """Publish ``request``; returns once the broker has it."""
        body, headers = _send_args(request, idempotency_key)
        return Accepted(**self._call("POST", "/v1/notifications", json=body, headers=headers))

    def timeline(self, notification_id: str) -> list[DeliveryStatus]:
        found = self._call("GET", f"/v1/notifications/{notification_id}")
        return [status_of(item) for item in found["statuses"]]

    def history(self, user_id: str, limit: int = 50, cursor: str | None = None) -> HistoryPage:
        params = _page_params(limit, cursor)
        return _page(self._call("GET", f"/v1/users/{user_id}/notifications", params=params))


class AsyncHeraldClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 30.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._client = client or httpx.AsyncClient(timeout=timeout_s)
        self._base = base_url.rstrip("/")
        self._headers = _headers(api_key)

    async def __aenter__(self) -> AsyncHeraldClient:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _call(self, method: str, path: str, **args: Any) -> Any:
        headers = {**self._headers, **args.pop("headers", {})}
        try:
            response = await self._client.request(
                method, self._base + path, headers=headers, **args
            )
        except UNREACHABLE as error:
            raise ApiUnavailable(f"the API did not answer: {type(error).__name__}") from error
        return checked(response)

    async def send(
        self, request: NotificationRequest, idempotency_key: str | None = None
    ) -> Accepted:
        body, headers = _send_args(request, idempotency_key)
        found = await self._call("POST", "/v1/notifications", json=body, headers=headers)
        return Accepted(**found)

    async def timeline(self, notification_id: str) -> list[DeliveryStatus]:
        found = await self._call("GET", f"/v1/notifications/{notification_id}")
        return [status_of(item) for item in found["statuses"]]

    async def history(
        self, user_id: str, limit: int = 50, cursor: str | None = None
    ) -> HistoryPage:
        params = _page_params(limit, cursor)
        return _page(await self._call("GET", f"/v1/users/{user_id}/notifications", params=params))
