"""An SMS API in Twilio's REST shape.

``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with HTTP basic auth
(account sid : auth token) and a form body (``To``, ``From``, ``Body``); ``201`` with the message
resource (``sid`` "SM" + 32 hex, ``status`` "queued"), or Twilio's error body
``{"code", "message", "more_info", "status"}``. A request carrying an ``Idempotency-Key`` that was
already used gets the original message back and is recorded as a dedupe, not a new delivery.
A message with a ``StatusCallback`` gets its statuses posted there when a receipt plan is set
(lab.sandboxes.reporter).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from herald.settings import TwilioSettings, required
from lab.sandboxes.formats import TWILIO_REALM, twilio_error_body
from lab.sandboxes.http import ErrorReplies, accepted, faulted, retry_after
from lab.sandboxes.reporter import Reporter
from lab.sandboxes.state import SandboxState

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
API = "/2010-04-01/Accounts/{account}/Messages.json"


def error(status: int, code: int, retry_after_s: float | None = None) -> JSONResponse:
    headers = retry_after(retry_after_s)
    if status == 401:
        headers["www-authenticate"] = TWILIO_REALM
    return JSONResponse(twilio_error_body(status, code), status, headers=headers)


REPLIES = ErrorReplies(
    status=lambda status, after: error(status, 21211 if status == 400 else 20000 + status, after),
    refused=lambda: error(400, 21211),
)


def authorized(header: str | None, settings: TwilioSettings) -> bool:
    scheme, _, encoded = (header or "").partition(" ")
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return False
    sid, _, token = decoded.partition(":")
    wanted = required(settings.auth_token, "HERALD_DELIVERY__TWILIO__AUTH_TOKEN")
    expected = f"{settings.account_sid}:{wanted.get_secret_value()}"
    return scheme.lower() == "basic" and secrets.compare_digest(f"{sid}:{token}", expected)


def form_problem(form: dict[str, str]) -> int | None:
    """Twilio's error code for a form it would refuse, or None."""
    if not form.get("To"):
        return 21604
    if not form.get("From"):
        return 21603
    if not form.get("Body"):
        return 21602
    return None if E164.match(form["To"]) else 21211


def message_resource(account: str, form: dict[str, str]) -> dict[str, Any]:
    sid = "SM" + secrets.token_hex(16)
    return {
        "sid": sid,
        "account_sid": account,
        "to": form["To"],
        "from": form["From"],
        "body": form["Body"],
        "status": "queued",
        "num_segments": "1",
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "date_created": formatdate(usegmt=True),
        "error_code": None,
        "error_message": None,
        "price": None,
        "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
    }


async def create_message(request: Request) -> Response:
    settings: TwilioSettings = request.app.state.settings
    state: SandboxState = request.app.state.sandbox
    if not authorized(request.headers.get("authorization"), settings):
        return error(401, 20003)
    account = request.path_params["account"]
    if account != settings.account_sid:
        return error(404, 20404)
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    problem = form_problem(form)
    if problem is not None:
        return error(400, problem)
    key = request.headers.get("idempotency-key")
    fields: dict[str, object] = {
        "notification_id": key,
        "body": form["Body"],
        "headers": {"idempotency-key": key} if key else {},
    }
    action, refusal = await faulted(state, "twilio", form["To"], fields, REPLIES)
    if refusal is not None:
        return refusal
    original = state.recall("twilio", key) if key else None
    resource = message_resource(account, form) if original is None else original
    if key and original is None:
        state.remember("twilio", key, resource)
    fields.update(message_id=resource["sid"], dedupe=original is not None)
    if original is None:
        reporter: Reporter = request.app.state.reporter
        reporter.twilio(form.get("StatusCallback"), resource["sid"], form["To"])
    answer = JSONResponse(resource, 201)
    return await accepted(request, state, "twilio", action, form["To"], fields, answer)


def twilio_app(settings: TwilioSettings, state: SandboxState, reporter: Reporter) -> Starlette:
    app = Starlette(routes=[Route(API, create_message, methods=["POST"])])
    app.state.settings = settings
    app.state.sandbox = state
    app.state.reporter = reporter
    return app
