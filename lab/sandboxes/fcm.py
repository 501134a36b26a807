"""FCM HTTP v1 and Google's OAuth2 token endpoint, as documented by Google.

- ``POST /token``: the JWT-bearer grant (RFC 7523). The assertion is an RS256 JWT signed with
  the service account's key (iss = client_email, aud = token_uri, scope includes
  firebase.messaging); the answer is an opaque access token valid for an hour.
- ``POST /v1/projects/{project}/messages:send`` with ``Authorization: Bearer <access token>``
  and ``{"message": {"token", "notification", "data"}}``; ``200 {"name": ...}`` or Google's
  error body with an ``FcmError`` detail (``UNREGISTERED``, ``QUOTA_EXCEEDED``, ...).
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from typing import Any
from urllib.parse import parse_qs

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from herald.settings import FcmSettings
from lab.sandboxes.credentials import FCM_SCOPE, Credentials
from lab.sandboxes.formats import (
    FCM_UNAUTHENTICATED,
    GRANT_TYPE,
    TOKEN_LIFETIME_S,
    fcm_error_body,
)
from lab.sandboxes.http import ErrorReplies, accepted, faulted, retry_after
from lab.sandboxes.state import SandboxState


def error(code: int, message: str, retry_after_s: float | None = None) -> JSONResponse:
    return JSONResponse(fcm_error_body(code, message), code, headers=retry_after(retry_after_s))


REPLIES = ErrorReplies(
    status=lambda code, after: error(code, "Injected by the sandbox.", after),
    refused=lambda: error(404, "Requested entity was not found."),
)


class TokenIssuer:
    """Access tokens granted for a verified service-account assertion."""

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials
        self._expiry: dict[str, float] = {}

    def grant(self, assertion: str) -> str:
        """A new access token; raises jwt.InvalidTokenError for a bad assertion."""
        claims = jwt.decode(
            assertion,
            self._credentials.fcm_public_key,
            algorithms=["RS256"],
            audience=self._credentials.fcm_token_uri,
            issuer=self._credentials.fcm_client_email,
            options={"require": ["iss", "aud", "iat", "exp"]},
            leeway=60,
        )
        if FCM_SCOPE not in str(claims.get("scope", "")).split():
            raise jwt.InvalidTokenError("the assertion lacks the firebase.messaging scope")
        token = "ya29.sandbox-" + secrets.token_urlsafe(32)
        self._expiry[token] = time.time() + TOKEN_LIFETIME_S
        return token

    def valid(self, authorization: str | None) -> bool:
        scheme, _, token = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and self._expiry.get(token, 0.0) > time.time()


async def token(request: Request) -> Response:
    issuer: TokenIssuer = request.app.state.issuer
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    if form.get("grant_type") != GRANT_TYPE:
        return JSONResponse(
            {"error": "unsupported_grant_type", "error_description": "Invalid grant_type."}, 400
        )
    try:
        access = issuer.grant(form.get("assertion", ""))
    except jwt.InvalidTokenError as exc:
        return JSONResponse(
            {"error": "invalid_grant", "error_description": f"Invalid JWT: {type(exc).__name__}"},
            400,
        )
    return JSONResponse(
        {"access_token": access, "expires_in": TOKEN_LIFETIME_S, "token_type": "Bearer"}
    )


def parse_message(raw: bytes) -> dict[str, Any] | None:
    try:
        message = json.loads(raw).get("message")
    except (ValueError, AttributeError):
        return None
    if not isinstance(message, dict) or not isinstance(message.get("token"), str):
        return None
    data = message.get("data") or {}
    notification = message.get("notification") or {}
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        return None
    return message if isinstance(notification, dict) else None


async def send(request: Request) -> Response:
    settings: FcmSettings = request.app.state.settings
    if not request.app.state.issuer.valid(request.headers.get("authorization")):
        return error(401, FCM_UNAUTHENTICATED)
    project = request.path_params["project"]
    if project != settings.project_id:
        return error(404, "Requested entity was not found.")
    message = parse_message(await request.body())
    if message is None:
        return error(400, "The message is not a valid FCM v1 message with a token.")
    data: dict[str, str] = message.get("data") or {}
    notification = message.get("notification") or {}
    name = f"projects/{project}/messages/{uuid.uuid4().hex}"
    fields: dict[str, object] = {
        "notification_id": data.get("notification_id"),
        "title": notification.get("title"),
        "body": notification.get("body"),
        "data": data,
    }
    state: SandboxState = request.app.state.sandbox
    action, refusal = await faulted(state, "fcm", message["token"], fields, REPLIES)
    if refusal is not None:
        return refusal
    fields["message_id"] = name
    answer = JSONResponse({"name": name})
    return await accepted(request, state, "fcm", action, message["token"], fields, answer)


def fcm_app(settings: FcmSettings, credentials: Credentials, state: SandboxState) -> Starlette:
    app = Starlette(
        routes=[
            Route("/token", token, methods=["POST"]),
            Route("/v1/projects/{project}/messages:send", send, methods=["POST"]),
        ]
    )
    app.state.settings = settings
    app.state.issuer = TokenIssuer(credentials)
    app.state.sandbox = state
    return app
