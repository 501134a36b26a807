"""The SDK over HTTP, for services that prefer it to Kafka: ``HeraldClient`` (sync) and
``AsyncHeraldClient``, on httpx, against `herald api`.

Both take the API's base URL and a key (``herald api-keys create``), or an ``httpx`` client of
your own. Answers map onto Herald's errors: a 422 is a ``ValidationError`` naming the field, a
503 (or no answer) an ``ApiUnavailable`` to retry, a 401/403 a ``NotAuthorized``, a 404 a
``NotFound``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from herald.errors import HeraldError, OutageError, ValidationError
from herald.history import RequestCounts
from herald.models import (
    Channel,
    DeliveryStatus,
    NotificationRequest,
    State,
    UserContacts,
    UserPreferences,
)
from herald.profiles import (
    contacts_from_json,
    contacts_json,
    preferences_from_json,
    preferences_json,
)


class ApiUnavailable(OutageError):
    """The API, or a server behind it, could not take the request: retry after
    ``retry_after_s`` (None: it did not say)."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class NotAuthorized(HeraldError):
    """The key is missing, wrong or revoked (401), or lacks the route's scope (403)."""


class NotFound(HeraldError):
    """No such notification, request or template (404)."""


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
    if status == 404:
        raise NotFound(str(detail))
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


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Call(Generic[T]):
    """One route's request, and what its JSON answer becomes: the same for both clients."""

    method: str
    path: str
    answer: Callable[[Any], T]
    args: dict[str, Any] = field(default_factory=dict)


def _send(request: NotificationRequest, idempotency_key: str | None) -> _Call[Accepted]:
    # the request id doubles as the idempotency key: a retried send never publishes twice
    headers = {"Idempotency-Key": idempotency_key or request.request_id}
    return _Call(
        "POST",
        "/v1/notifications",
        lambda found: Accepted(**found),
        {"json": body_of(request), "headers": headers},
    )


def _timeline(notification_id: str) -> _Call[list[DeliveryStatus]]:
    return _Call(
        "GET",
        f"/v1/notifications/{_segment(notification_id)}",
        lambda found: [status_of(item) for item in found["statuses"]],
    )


def _history(user_id: str, limit: int, cursor: str | None) -> _Call[HistoryPage]:
    return _Call(
        "GET",
        f"/v1/users/{_segment(user_id)}/notifications",
        lambda found: HistoryPage(
            [status_of(item) for item in found["items"]], found["next_cursor"]
        ),
        {"params": {"limit": limit, **({"cursor": cursor} if cursor else {})}},
    )


def _outcomes(request_id: str) -> _Call[RequestCounts]:
    def counts(found: dict[str, Any]) -> RequestCounts:
        by_channel = {
            None if item["channel"] is None else Channel(item["channel"]): Counter(
                {State(state): count for state, count in item["states"].items()}
            )
            for item in found["channels"]
        }
        return RequestCounts(found["request_id"], found["notifications"], by_channel)

    return _Call("GET", f"/v1/requests/{_segment(request_id)}", counts)


def _preferences(user_id: str) -> _Call[UserPreferences]:
    return _Call(
        "GET",
        f"/v1/users/{_segment(user_id)}/preferences",
        lambda found: preferences_from_json(user_id, found),
    )


def _set_preferences(prefs: UserPreferences) -> _Call[UserPreferences]:
    return _Call(
        "PUT",
        f"/v1/users/{_segment(prefs.user_id)}/preferences",
        lambda found: preferences_from_json(prefs.user_id, found),
        {"json": preferences_json(prefs)},
    )


def _contacts(user_id: str) -> _Call[UserContacts]:
    return _Call(
        "GET",
        f"/v1/users/{_segment(user_id)}/contacts",
        lambda found: contacts_from_json(user_id, found),
    )


def _set_contacts(contacts: UserContacts) -> _Call[UserContacts]:
    return _Call(
        "PUT",
        f"/v1/users/{_segment(contacts.user_id)}/contacts",
        lambda found: contacts_from_json(contacts.user_id, found),
        {"json": contacts_json(contacts)},
    )


def _templates() -> _Call[list[dict[str, Any]]]:
    return _Call("GET", "/v1/templates", lambda found: list(found["templates"]))


def _template(template_id: str) -> _Call[dict[str, Any]]:
    return _Call("GET", f"/v1/templates/{_segment(template_id)}", dict)


def _put_template(template_id: str, definition: Mapping[str, Any]) -> _Call[dict[str, Any]]:
    return _Call("PUT", f"/v1/templates/{_segment(template_id)}", dict, {"json": dict(definition)})


def _preview(
    template_id: str, data: Mapping[str, str], locales: Sequence[str]
) -> _Call[list[dict[str, Any]]]:
    return _Call(
        "POST",
        f"/v1/templates/{_segment(template_id)}/preview",
        lambda found: list(found["previews"]),
        {"json": {"data": dict(data), "locales": list(locales)}},
    )


def _segment(value: str) -> str:
    """An id as one path segment: a '/' or '?' in it cannot reach another route."""
    return quote(value, safe="")


UNREACHABLE = (httpx.TransportError,)


class HeraldClient:
    """Every route of `herald api`: sends (publish scope), lookups (read), profiles (admin)
    and templates (read; admin to write). Profiles and template definitions take and give
    what the SDK's publisher and the template files do."""

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

    def _run(self, call: _Call[T]) -> T:
        args = dict(call.args)
        headers = {**self._headers, **args.pop("headers", {})}
        try:
            response = self._client.request(
                call.method, self._base + call.path, headers=headers, **args
            )
        except UNREACHABLE as error:
            raise ApiUnavailable(f"the API did not answer: {type(error).__name__}") from error
        return call.answer(checked(response))

    def send(self, request: NotificationRequest, idempotency_key: str | None = None) -> Accepted:
        """Publish ``request``; returns once the broker has it."""
        return self._run(_send(request, idempotency_key))

    def timeline(self, notification_id: str) -> list[DeliveryStatus]:
        return self._run(_timeline(notification_id))

    def history(self, user_id: str, limit: int = 50, cursor: str | None = None) -> HistoryPage:
        return self._run(_history(user_id, limit, cursor))

    def outcomes(self, request_id: str) -> RequestCounts:
        """The request's notifications counted by their latest state, per channel."""
        return self._run(_outcomes(request_id))

    def preferences(self, user_id: str) -> UserPreferences:
        """The user's preferences (the defaults if never set)."""
        return self._run(_preferences(user_id))

    def set_preferences(self, prefs: UserPreferences) -> UserPreferences:
        """Replace them; returns what is stored."""
        return self._run(_set_preferences(prefs))

    def contacts(self, user_id: str) -> UserContacts:
        return self._run(_contacts(user_id))

    def set_contacts(self, contacts: UserContacts) -> UserContacts:
        """Replace them; returns what is stored (the phone in E.164)."""
        return self._run(_set_contacts(contacts))

    def templates(self) -> list[dict[str, Any]]:
        """Every template: id, origin, updated_at, channels, locales, problem."""
        return self._run(_templates())

    def template(self, template_id: str) -> dict[str, Any]:
        """One template: its definition (channels, default_locale, locales), origin."""
        return self._run(_template(template_id))

    def put_template(self, template_id: str, definition: Mapping[str, Any]) -> dict[str, Any]:
        """Create or replace a template (a file's tables: channels, default_locale,
        locales); every worker renders it from its next request on."""
        return self._run(_put_template(template_id, definition))

    def preview(
        self, template_id: str, data: Mapping[str, str], locales: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Each channel of the template rendered with ``data`` per locale."""
        return self._run(_preview(template_id, data, locales))


class AsyncHeraldClient:
    """``HeraldClient``'s routes, awaited."""

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

    async def _run(self, call: _Call[T]) -> T:
        args = dict(call.args)
        headers = {**self._headers, **args.pop("headers", {})}
        try:
            response = await self._client.request(
                call.method, self._base + call.path, headers=headers, **args
            )
        except UNREACHABLE as error:
            raise ApiUnavailable(f"the API did not answer: {type(error).__name__}") from error
        return call.answer(checked(response))

    async def send(
        self, request: NotificationRequest, idempotency_key: str | None = None
    ) -> Accepted:
        return await self._run(_send(request, idempotency_key))

    async def timeline(self, notification_id: str) -> list[DeliveryStatus]:
        return await self._run(_timeline(notification_id))

    async def history(
        self, user_id: str, limit: int = 50, cursor: str | None = None
    ) -> HistoryPage:
        return await self._run(_history(user_id, limit, cursor))

    async def outcomes(self, request_id: str) -> RequestCounts:
        return await self._run(_outcomes(request_id))

    async def preferences(self, user_id: str) -> UserPreferences:
        return await self._run(_preferences(user_id))

    async def set_preferences(self, prefs: UserPreferences) -> UserPreferences:
        return await self._run(_set_preferences(prefs))

    async def contacts(self, user_id: str) -> UserContacts:
        return await self._run(_contacts(user_id))

    async def set_contacts(self, contacts: UserContacts) -> UserContacts:
        return await self._run(_set_contacts(contacts))

    async def templates(self) -> list[dict[str, Any]]:
        return await self._run(_templates())

    async def template(self, template_id: str) -> dict[str, Any]:
        return await self._run(_template(template_id))

    async def put_template(self, template_id: str, definition: Mapping[str, Any]) -> dict[str, Any]:
        return await self._run(_put_template(template_id, definition))

    async def preview(
        self, template_id: str, data: Mapping[str, str], locales: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        return await self._run(_preview(template_id, data, locales))
