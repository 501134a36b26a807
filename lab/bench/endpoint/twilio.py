"""Twilio's Messages API shape at benchmark cost.

``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with HTTP basic auth (account sid :
auth token) and a form body: ``201`` with a message resource (``sid`` "SM" + 32 hex,
``status`` "queued"). Wrong or missing credentials: Twilio's 401 (code 20003); another
account: 404 (20404); a form without ``To`` or ``Body``: 400. The form is not parsed beyond
that, and idempotency keys are not remembered (the behaviour sandbox does both).
"""

from __future__ import annotations

import base64
import json
import secrets

from herald.settings import TwilioSettings, required
from lab.bench.endpoint.http1 import Request, Response
from lab.bench.endpoint.state import Counts, Ids
from lab.sandboxes.formats import TWILIO_REALM, twilio_error_body

API_PREFIX = "/2010-04-01/Accounts/"


def twilio_error(status: int, code: int) -> Response:
    headers = (("www-authenticate", TWILIO_REALM),) if status == 401 else ()
    return Response(status, json.dumps(twilio_error_body(status, code)).encode(), headers=headers)


def basic_authorization(user: str, password: str) -> str:
    """The ``Authorization`` header value a client with these credentials sends."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def form_problem(body: bytes) -> int | None:
    """Twilio's code for a form missing what every message needs, or None (a look at the
    field names only)."""
    fields = {part.partition(b"=")[0] for part in body.split(b"&")}
    if b"To" not in fields:
        return 21604
    return None if b"Body" in fields else 21602


class TwilioAnswers:
    def __init__(self, settings: TwilioSettings, counts: Counts, ids: Ids) -> None:
        self._account = required(settings.account_sid, "HERALD_DELIVERY__TWILIO__ACCOUNT_SID")
        token = required(settings.auth_token, "HERALD_DELIVERY__TWILIO__AUTH_TOKEN")
        self._authorization = basic_authorization(self._account, token.get_secret_value())
        self._path = f"{API_PREFIX}{self._account}/Messages.json"
        self._counts = counts
        self._ids = ids

    def __call__(self, request: Request) -> Response:
        if request.method != "POST" or not request.path.startswith(API_PREFIX):
            return twilio_error(404, 20404)
        given = request.headers.get("authorization", "")
        if not secrets.compare_digest(given.encode(), self._authorization.encode()):
            self._counts.refuse("twilio")
            return twilio_error(401, 20003)
        if request.path != self._path:
            self._counts.refuse("twilio")
            return twilio_error(404, 20404)
        problem = form_problem(request.body)
        if problem is not None:
            self._counts.refuse("twilio")
            return twilio_error(400, problem)
        self._counts.took("twilio")
        return Response(201, self.resource())

    def resource(self) -> bytes:
        sid = f"SM{self._ids.hex32()}"
        return json.dumps(
            {
                "sid": sid,
                "account_sid": self._account,
                "status": "queued",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "uri": f"{API_PREFIX}{self._account}/Messages/{sid}.json",
            }
        ).encode()
