"""What providers and apps report after a send: ``POST /v1/receipts/{provider}`` and
``POST /v1/events``.

- ``twilio``: status callbacks (form), signed in ``X-Twilio-Signature`` under the auth token,
  over the callback URL Herald gave each message (links.base_url's);
- ``ses``: SES events through an SNS HTTP(S) subscription, signed by SNS's certificate; a
  subscription confirmation of an accepted topic is confirmed;
- ``smtp``: a delivery status notification (RFC 3464) from the MTA's bounce hook, with an API key
  of the publish scope;
- ``/v1/events``: an app's report that a push message was opened, with the message's signed
  event token (no key).

A bad signature or token is answered 401 and counted; a receipt whose signature holds is
answered 200 with what became of its events, once each status event is on the broker.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from api.auth import require
from api.bodies import Problem, answers
from api.keys import Scope
from api.receipt_matching import tally
from api.services import Services, services_of
from herald.links import InvalidLink
from herald.models import State
from herald.receipts import InvalidReceipt, MalformedReceipt, ProviderEvent, dsn, receipt_url, sns
from herald.receipts import twilio as twilio_receipts

router = APIRouter(tags=["receipts"])
MAX_RECEIPT_BYTES = 1_000_000


class ReceiptOutcome(BaseModel):
    """What became of a receipt's events."""

    matched: int = Field(description="Published as status events.")
    repeated: int = Field(description="Reported by an earlier receipt: not published again.")
    unknown: int = Field(description="For no message Herald sent: dead-lettered.")
    ignored: int = Field(description="Statuses on the way, and kinds Herald does not track.")


class AppEvent(BaseModel):
    token: str = Field(min_length=1, max_length=4096, description="The push payload's token.")
    event: Literal["opened"] = "opened"


ANSWERS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "Not what the provider sends."},
    401: {"model": Problem, "description": "Not signed as the provider signs."},
    404: {"model": Problem, "description": "This provider's receipts are not set up."},
    503: {"model": Problem, "description": "A server is away: the provider should retry."},
}
RAW = {"requestBody": {"content": {"application/octet-stream": {}}, "required": True}}


async def _body(request: Request) -> bytes:
    raw = await request.body()
    if len(raw) > MAX_RECEIPT_BYTES:
        raise HTTPException(413, "a receipt of more than 1 MB")
    return raw


def _refused(services: Services, provider: str, error: InvalidReceipt | MalformedReceipt) -> None:
    bad = isinstance(error, InvalidReceipt)
    services.metrics.receipts.labels(provider, "bad_signature" if bad else "malformed").inc()
    raise HTTPException(401 if bad else 400, str(error)) from error


async def _record(
    services: Services, provider: str, events: list[ProviderEvent], raw: bytes
) -> ReceiptOutcome:
    ignored = 0 if events else 1  # a receipt of nothing Herald tracks (a status on the way)
    if ignored:
        services.metrics.receipts.labels(provider, "ignored").inc(ignored)
    outcomes = await services.matcher.record(provider, events, raw)
    return ReceiptOutcome(**tally(outcomes, ignored))


@router.post(
    "/v1/receipts/twilio", responses=ANSWERS, openapi_extra=RAW, response_model=ReceiptOutcome
)
async def twilio_callback(request: Request) -> ReceiptOutcome:
    """A Twilio status callback."""
    services = services_of(request)
    token = services.settings.delivery.twilio.auth_token
    if token is None:
        raise HTTPException(404, "Twilio is not set up (delivery.twilio.auth_token)")
    raw = await _body(request)
    form = parse_qsl(raw.decode(errors="replace"), keep_blank_values=True)
    url = receipt_url(services.settings.links.base_url, "twilio")
    url += f"?{request.url.query}" if request.url.query else ""
    signature = request.headers.get(twilio_receipts.SIGNATURE_HEADER)
    try:
        twilio_receipts.verify(token.get_secret_value(), url, form, signature)
        events = twilio_receipts.events(dict(form), datetime.now(UTC))
    except (InvalidReceipt, MalformedReceipt) as error:
        _refused(services, "twilio", error)
    return await _record(services, "twilio", events, raw)


@router.post(
    "/v1/receipts/ses", responses=ANSWERS, openapi_extra=RAW, response_model=ReceiptOutcome
)
async def ses_events(request: Request) -> ReceiptOutcome:
    """An SNS message of a topic that SES publishes its events to."""
    services = services_of(request)
    topics = services.settings.delivery.aws.ses_event_topics
    if not topics:
        raise HTTPException(404, "SES events are not set up (delivery.aws.ses_event_topics)")
    raw = await _body(request)
    try:
        message = sns.parse(raw)
        if message.topic_arn not in topics:
            raise InvalidReceipt("an SNS message of a topic not in delivery.aws.ses_event_topics")
        sns.verify(message, await services.sns.certificate(message.certificate_url))
        if message.kind == "SubscriptionConfirmation" and message.subscribe_url:
            await services.sns.confirm(message.subscribe_url)
            services.metrics.receipts.labels("ses", "subscribed").inc()
            return ReceiptOutcome(**tally(Counter()))
        events = sns.ses_events(message) if message.kind == "Notification" else []
    except (InvalidReceipt, MalformedReceipt) as error:
        _refused(services, "ses", error)
    return await _record(services, "ses", events, raw)


@router.post(
    "/v1/receipts/smtp",
    responses=answers(ANSWERS),
    openapi_extra=RAW,
    response_model=ReceiptOutcome,
    dependencies=[Depends(require(Scope.PUBLISH))],
)
async def smtp_bounce(request: Request) -> ReceiptOutcome:
    """A delivery status notification (RFC 3464), posted whole by the MTA's bounce hook."""
    services = services_of(request)
    raw = await _body(request)
    try:
        events = dsn.events(raw, datetime.now(UTC))
    except MalformedReceipt as error:
        _refused(services, "smtp", error)
    return await _record(services, "smtp", events, raw)


@router.post(
    "/v1/events",
    tags=["end users"],
    responses={k: v for k, v in ANSWERS.items() if k not in (400, 401)}
    | {401: {"model": Problem, "description": "The token is forged, altered or expired."}},
    response_model=ReceiptOutcome,
)
async def app_event(request: Request, body: AppEvent) -> ReceiptOutcome:
    """An app reports that the user opened a push message; the token comes in its payload."""
    services = services_of(request)
    if services.links is None:
        raise HTTPException(404, "signed links are not set up (links.secret)")
    now = datetime.now(UTC)
    try:
        tracked = services.links.check_event(body.token, now)
    except InvalidLink as error:
        services.metrics.receipts.labels("app", "bad_signature").inc()
        raise HTTPException(401, f"the event token is {error.reason}") from error
    provider = tracked.provider or "app"
    event = ProviderEvent(provider, "", State.OPENED, now)  # no provider message id
    once = f"app:{tracked.ref.notification_id}:{tracked.ref.channel.value}:opened"
    outcome = await services.matcher.emit(tracked.ref, event, once)
    services.metrics.receipts.labels(provider, outcome.value).inc()
    return ReceiptOutcome(**tally(Counter({outcome: 1})))
