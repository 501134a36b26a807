"""FCM's shape at benchmark cost: Google's token grant and HTTP v1 ``messages:send``.

- ``POST <token_uri path>`` (the service account's ``token_uri``, ``/token``) with the
  JWT-bearer grant: an access token for an hour. The assertion must look like a JWT; its
  signature is not checked (the behaviour sandbox does that).
- ``POST /v1/projects/{project}/messages:send`` with ``authorization: Bearer <a token it
  granted>`` and a body holding a ``message``: ``200 {"name": "projects/{project}/messages/..."}``.
  No token, or one it never granted: Google's 401 (``UNAUTHENTICATED``); another project: 404.
"""

from __future__ import annotations

import json
import secrets
from urllib.parse import parse_qs, urlsplit

from herald.settings import FcmSettings, required
from lab.bench.endpoint.http1 import Request, Response
from lab.bench.endpoint.state import Counts, Ids
from lab.sandboxes.formats import (
    FCM_UNAUTHENTICATED,
    GRANT_TYPE,
    TOKEN_LIFETIME_S,
    fcm_error_body,
)

SEND_PREFIX = "/v1/projects/"
SEND_SUFFIX = "/messages:send"


def fcm_error(status: int, message: str) -> Response:
    return Response(status, json.dumps(fcm_error_body(status, message)).encode())


def grant_problem(form: dict[str, list[str]]) -> str | None:
    """None for a JWT-bearer grant with something JWT-shaped in it, else OAuth's error."""
    if form.get("grant_type") != [GRANT_TYPE]:
        return "unsupported_grant_type"
    assertion = form.get("assertion", [""])[0]
    return None if assertion.count(".") == 2 else "invalid_grant"


class FcmAnswers:
    """The FCM server's handler: token grants and sends, counted."""

    def __init__(self, settings: FcmSettings, token_uri: str, counts: Counts, ids: Ids) -> None:
        project = required(settings.project_id, "HERALD_DELIVERY__FCM__PROJECT_ID")
        self._send_path = f"{SEND_PREFIX}{project}{SEND_SUFFIX}"
        self._name_prefix = f"projects/{project}/messages/"
        self._token_path = urlsplit(token_uri).path
        self._tokens: set[str] = set()
        self._counts = counts
        self._ids = ids

    def __call__(self, request: Request) -> Response:
        if request.method != "POST":
            return fcm_error(405, "Only POST is served here.")
        if request.path == self._send_path:
            return self.send(request)
        if request.path == self._token_path:
            return self.grant(request)
        return fcm_error(404, "Requested entity was not found.")

    def grant(self, request: Request) -> Response:
        problem = grant_problem(parse_qs(request.body.decode(errors="replace")))
        if problem is not None:
            self._counts.refuse("fcm")
            body = {"error": problem, "error_description": "Invalid grant."}
            return Response(400, json.dumps(body).encode())
        token = "ya29.bench-" + secrets.token_urlsafe(24)
        self._tokens.add(token)
        granted = {"access_token": token, "expires_in": TOKEN_LIFETIME_S, "token_type": "Bearer"}
        return Response(200, json.dumps(granted).encode())

    def send(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token not in self._tokens:
            self._counts.refuse("fcm")
            return fcm_error(401, FCM_UNAUTHENTICATED)
        if b'"message"' not in request.body:
            self._counts.refuse("fcm")
            return fcm_error(400, "The request has no message.")
        self._counts.took("fcm")
        name = f"{self._name_prefix}{self._ids.hex32()}"
        return Response(200, f'{{"name":"{name}"}}'.encode())
