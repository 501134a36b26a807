"""The publish lane: `POST /v1/notifications` and the seed's `POST /api/v1/notifications/send`
answered in front of FastAPI, without its per-request machinery (a match against every route,
dependency solving, the bearer scheme, body validation through a TypeAdapter, the middleware
stack). Measured side by side in `herald bench api`, that machinery cost more CPU than the
publish itself (docs/benchmarks.md).

The lane takes the plain case only: a JSON body that validates and a valid key with the
publish scope. Anything else it hands on, body and all, to FastAPI's routes, which give the
error answers the OpenAPI spec documents. Both end in ``notifications.accept``, so what is
published and answered is decided in one place.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exception_handlers import http_exception_handler
from pydantic import ValidationError
from starlette.types import Message, Receive, Scope, Send

from api.bodies import NotificationIn, SeedSendIn
from api.errors import outage_answer
from api.keys import Scope as KeyScope
from api.notifications import IDEMPOTENCY_KEY_MAX, accept
from api.services import Services
from herald.errors import OutageError

Parse = Callable[[bytes], NotificationIn]


def _seed(raw: bytes) -> NotificationIn:
    return SeedSendIn.model_validate_json(raw).as_notification()


ROUTES: dict[str, Parse] = {
    "/v1/notifications": NotificationIn.model_validate_json,
    "/api/v1/notifications/send": _seed,
}


class PublishLane:
    """Pure ASGI in front of the FastAPI app: every other request goes straight to it."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        parse = ROUTES.get(scope["path"]) if scope["type"] == "http" else None
        services: Services | None = getattr(self.app.state, "services", None)
        if parse is None or scope["method"] != "POST" or services is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        raw = await _body(receive)
        if raw is None:  # the client went away before its body came: nothing to answer
            return
        plain = await _plain(services, scope, raw, parse)
        if plain is None:
            await self.app(scope, _replay(raw, receive), send)
            return
        notification, idempotency_key = plain
        response: Response
        try:
            response = await accept(services, notification, idempotency_key)
        except HTTPException as error:  # answered as FastAPI's routes answer it
            response = await http_exception_handler(Request(scope), error)
        except OutageError as error:
            response = outage_answer(error)
        await response(scope, receive, send)
        services.metrics.answered(
            scope["path"], "POST", response.status_code, time.perf_counter() - started
        )


@dataclass(frozen=True)
class PlainHeaders:
    token: str
    idempotency_key: str | None


def plain_headers(headers: Iterable[tuple[bytes, bytes]]) -> PlainHeaders | None:
    """The bearer token and Idempotency-Key of a request whose headers the lane takes: a JSON
    content type, a bearer token, at most one Idempotency-Key of a valid length. None for any
    other, which FastAPI answers as the spec says."""
    authorization = content_type = idempotency_key = None
    for name, value in headers:
        if name == b"authorization":
            authorization = value
        elif name == b"content-type":
            content_type = value
        elif name == b"idempotency-key":
            if idempotency_key is not None:
                return None
            idempotency_key = value.decode("latin-1")
    if content_type is None or content_type.split(b";")[0].strip().lower() != b"application/json":
        return None
    if idempotency_key is not None and not 0 < len(idempotency_key) <= IDEMPOTENCY_KEY_MAX:
        return None
    if authorization is None or authorization[:7].lower() != b"bearer ":
        return None
    return PlainHeaders(authorization[7:].decode("latin-1"), idempotency_key)


async def _plain(
    services: Services, scope: Scope, raw: bytes, parse: Parse
) -> tuple[NotificationIn, str | None] | None:
    """The body and the Idempotency-Key of a request the lane takes; None for any other."""
    headers = plain_headers(scope["headers"])
    if headers is None:
        return None
    try:
        key = await services.verifier.key_for(headers.token)
        notification = parse(raw)
    except (OutageError, ValidationError):
        return None
    if key is None or KeyScope.PUBLISH not in key.scopes:
        return None
    return notification, headers.idempotency_key


async def _body(receive: Receive) -> bytes | None:
    """The whole body; None when the client disconnected first."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(raw: bytes, receive: Receive) -> Receive:
    """``receive`` that gives the body read already, then what the server says next."""
    given = False

    async def again() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": raw, "more_body": False}

    return again
