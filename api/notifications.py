"""`POST /v1/notifications` and the seed's `POST /api/v1/notifications/send`: validated with
the SDK's rules, published with acks=all, answered 202 only once the broker confirmed."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import JSONResponse

from api.auth import require
from api.bodies import Accepted, NotificationIn, Problem, SeedSendIn, answers
from api.errors import unavailable
from api.idempotency import Answer, KeyReused, StillRunning, fingerprint
from api.keys import ApiKey, Scope
from api.services import Services, services_of
from herald.errors import OutageError, ValidationError
from herald.models import NotificationRequest
from herald.validation import validate

router = APIRouter(tags=["notifications"])
IDEMPOTENCY_KEY_MAX = 200
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=IDEMPOTENCY_KEY_MAX,
        description="Becomes the request id; a repeat gets the first answer (24 h).",
    ),
]
ANSWERS = answers(
    {
        409: {"model": Problem, "description": "The first request with this key is still running."},
        422: {"description": "A field is wrong; the answer names it."},
        503: {"model": Problem, "description": "Kafka or Redis cannot be reached: retry later."},
    }
)


def invalid(field: str, problem: str) -> HTTPException:
    detail = [{"loc": ["body", field], "msg": problem, "type": "value_error"}]
    return HTTPException(422, detail)


async def accept(services: Services, body: NotificationIn, key: str | None) -> JSONResponse:
    if key is not None and body.request_id is not None and body.request_id != key:
        raise invalid("request_id", "differs from the Idempotency-Key header")
    request_id = key or body.request_id or os.urandom(16).hex()  # 128 random bits
    request = body.to_request(request_id, datetime.now(UTC))
    try:
        validate(request, services.settings.pipeline)
    except ValidationError as error:
        raise invalid(error.field, error.problem) from error
    if key is None:
        answer = await publish(services, request)
        return JSONResponse(answer.body, answer.status)
    print_ = fingerprint(body.model_dump(mode="json", exclude={"request_id"}))
    try:
        first = await services.idempotency.claim(key, print_)
    except KeyReused:
        raise invalid("Idempotency-Key", "was used before with another body") from None
    except StillRunning:
        raise HTTPException(409, "the first request with this key is still running") from None
    except OutageError as error:
        raise unavailable("the idempotency store cannot be reached") from error
    if first is not None:
        return JSONResponse(first.body, first.status)
    try:
        answer = await publish(services, request)
    except BaseException:
        await services.idempotency.give_up(key)
        raise
    await services.idempotency.answer(key, print_, answer)
    return JSONResponse(answer.body, answer.status)


async def publish(services: Services, request: NotificationRequest) -> Answer:
    try:
        await services.publisher.publish(request)
    except OutageError as error:
        raise unavailable(f"the request was not published: {error}") from error
    count = len(request.recipients)
    services.metrics.published.inc()
    services.metrics.recipients.inc(count)
    return Answer(202, {"request_id": request.request_id, "recipients": count})


@router.post("/v1/notifications", status_code=202, response_model=Accepted, responses=ANSWERS)
async def send(
    request: Request,
    body: NotificationIn,
    key: Annotated[ApiKey, Depends(require(Scope.PUBLISH))],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Publish one notification request; answered once the broker has it."""
    return await accept(services_of(request), body, idempotency_key)


@router.post(
    "/api/v1/notifications/send", status_code=202, response_model=Accepted, responses=ANSWERS
)
async def send_seed_shape(
    request: Request,
    body: SeedSendIn,
    key: Annotated[ApiKey, Depends(require(Scope.PUBLISH))],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The seed design's shape: `user_ids`, `channels`, `template_id`, `data`,
    `schedule_time`."""
    return await accept(services_of(request), body.as_notification(), idempotency_key)
