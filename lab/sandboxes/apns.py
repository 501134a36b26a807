"""APNs' provider API (token-based), as Apple documents it: HTTP/2 over TLS only.

``POST /3/device/{token}`` with ``authorization: bearer <ES256 JWT>`` (header ``kid`` = key id,
claims ``iss`` = team id, ``iat`` within the last hour), ``apns-topic`` = the bundle id,
``apns-push-type``, optional ``apns-id`` (UUID), ``apns-priority``, ``apns-expiration``; the body
is the JSON payload (at most 4 KB). 200 with an ``apns-id`` header, or ``{"reason": ...}``.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from herald.settings import ApnsSettings
from lab.sandboxes.credentials import Credentials
from lab.sandboxes.http import ErrorReplies, accepted, faulted, retry_after
from lab.sandboxes.state import SandboxState

MAX_PAYLOAD = 4096
TOKEN_MAX_AGE_S = 3600
PUSH_TYPES = frozenset(
    {"alert", "background", "location", "voip", "complication", "fileprovider", "mdm",
     "liveactivity", "pushtotalk", "widgets", "controls"}
)  # fmt: skip
HEADERS = ("apns-id", "apns-topic", "apns-push-type", "apns-priority", "apns-expiration",
           "apns-collapse-id")  # fmt: skip
REASONS = {
    400: "BadDeviceToken",
    403: "InvalidProviderToken",
    404: "BadPath",
    405: "MethodNotAllowed",
    410: "Unregistered",
    413: "PayloadTooLarge",
    429: "TooManyRequests",
    500: "InternalServerError",
    503: "ServiceUnavailable",
}


def reason_for(status: int) -> str:
    return REASONS.get(status, "InternalServerError" if status >= 500 else "BadDeviceToken")


def failure(
    status: int, reason: str, apns_id: str, retry_after_s: float | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"reason": reason}
    if status == 410:
        body["timestamp"] = int(time.time() * 1000)
    return JSONResponse(body, status, headers={"apns-id": apns_id, **retry_after(retry_after_s)})


def provider_token_problem(
    authorization: str | None, settings: ApnsSettings, key: Any
) -> str | None:
    """None when the provider token is valid, else APNs' reason."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return "MissingProviderToken"
    try:
        if jwt.get_unverified_header(token).get("kid") != settings.key_id:
            return "InvalidProviderToken"
        claims = jwt.decode(
            token,
            key,
            algorithms=["ES256"],
            issuer=settings.team_id,
            options={"require": ["iss", "iat"], "verify_aud": False},
            leeway=60,
        )
    except jwt.InvalidTokenError:
        return "InvalidProviderToken"
    if time.time() - float(claims["iat"]) > TOKEN_MAX_AGE_S:
        return "ExpiredProviderToken"
    return None


def header_problem(request: Request, settings: ApnsSettings) -> str | None:
    headers = request.headers
    if "apns-topic" not in headers:
        return "MissingTopic"
    if headers["apns-topic"] != settings.bundle_id:
        return "BadTopic"
    if headers.get("apns-push-type", "alert") not in PUSH_TYPES:
        return "InvalidPushType"
    if headers.get("apns-priority", "10") not in ("1", "5", "10"):
        return "BadPriority"
    if not headers.get("apns-expiration", "0").isdigit():
        return "BadExpirationDate"
    return None


def _payload(raw: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(raw)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) and isinstance(payload.get("aps"), dict) else None


def _fields(payload: dict[str, Any], request: Request) -> dict[str, object]:
    alert = payload["aps"].get("alert")
    alert = alert if isinstance(alert, dict) else {"body": alert}
    custom = {k: str(v) for k, v in payload.items() if k != "aps"}
    return {
        "notification_id": custom.get("notification_id"),
        "title": alert.get("title"),
        "body": alert.get("body"),
        "data": custom,
        "headers": {h: request.headers[h] for h in HEADERS if h in request.headers},
    }


def _apns_id(request: Request) -> str | None:
    given = request.headers.get("apns-id")
    if given is None:
        return str(uuid.uuid4()).upper()
    try:
        return str(uuid.UUID(given)).upper() if len(given) == 36 else None
    except ValueError:
        return None


async def push(request: Request) -> Response:
    settings: ApnsSettings = request.app.state.settings
    # Read the whole stream before any answer: hypercorn's HTTP/2 drops the connection when
    # a request's data arrives after its stream was answered and closed.
    raw = await request.body()
    apns_id = _apns_id(request)
    if apns_id is None:
        return failure(400, "BadMessageId", str(uuid.uuid4()).upper())
    problem = provider_token_problem(
        request.headers.get("authorization"), settings, request.app.state.key
    )
    if problem is not None:
        return failure(403, problem, apns_id)
    problem = header_problem(request, settings)
    if problem is not None:
        return failure(400, problem, apns_id)
    if len(raw) > MAX_PAYLOAD:
        return failure(413, "PayloadTooLarge", apns_id)
    payload = _payload(raw)
    if payload is None:
        return failure(400, "PayloadEmpty", apns_id)
    token = request.path_params["token"]
    fields = _fields(payload, request)
    replies = ErrorReplies(
        status=lambda code, after: failure(code, reason_for(code), apns_id, after),
        refused=lambda: failure(410, "Unregistered", apns_id),
    )
    state: SandboxState = request.app.state.sandbox
    action, refusal = await faulted(state, "apns", token, fields, replies)
    if refusal is not None:
        return refusal
    fields["message_id"] = apns_id
    answer = Response(status_code=200, headers={"apns-id": apns_id})
    return await accepted(request, state, "apns", action, token, fields, answer)


def apns_app(settings: ApnsSettings, credentials: Credentials, state: SandboxState) -> Starlette:
    app = Starlette(routes=[Route("/3/device/{token}", push, methods=["POST"])])
    app.state.settings = settings
    app.state.key = credentials.apns_public_key
    app.state.sandbox = state
    return app
