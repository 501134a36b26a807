"""What happened: a notification's timeline, a user's history and a request's outcomes,
read from Cassandra."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from api.auth import require
from api.bodies import HistoryPage, Problem, RequestSummary, Status, Timeline, answers
from api.keys import ApiKey, Scope
from api.services import services_of
from herald.history import BadCursor, Cursor

router = APIRouter(tags=["history"])
Reader = Annotated[ApiKey, Depends(require(Scope.READ))]
ANSWERS = answers(
    {
        404: {"model": Problem},
    }
)


@router.get("/v1/notifications/{notification_id}", response_model=Timeline, responses=ANSWERS)
def notification(request: Request, notification_id: str, key: Reader) -> Timeline:
    """Every status of one notification, oldest first."""
    rows = services_of(request).history.timeline(notification_id)
    if not rows:
        raise HTTPException(404, "no statuses of this notification")
    return Timeline(notification_id=notification_id, statuses=[Status.of(row) for row in rows])


@router.get(
    "/v1/users/{user_id}/notifications",
    response_model=HistoryPage,
    responses={**ANSWERS, 400: {"model": Problem}},
)
def user_notifications(
    request: Request,
    user_id: str,
    key: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the page before")] = None,
) -> HistoryPage:
    """A user's statuses, newest first, a page at a time (the last api.history_days days)."""
    services = services_of(request)
    history = services.history
    try:
        start = (
            Cursor.decode(cursor)
            if cursor
            else history.first_page(user_id, services.settings.api.history_days)
        )
    except BadCursor as error:
        raise HTTPException(400, str(error)) from error
    page = history.page(user_id, start, min(limit, services.settings.api.page_size_max))
    return HistoryPage(
        items=[Status.of(row) for row in page.rows],
        next_cursor=None if page.cursor is None else page.cursor.encode(),
    )


@router.get("/v1/requests/{request_id}", response_model=RequestSummary, responses=ANSWERS)
def request_outcomes(request: Request, request_id: str, key: Reader) -> RequestSummary:
    """How many of a request's notifications are in each state (their latest), per channel."""
    counts = services_of(request).history.request_counts(request_id)
    if counts.notifications == 0:
        raise HTTPException(404, "no statuses of this request")
    return RequestSummary.of(counts)
