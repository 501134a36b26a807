"""Answers for servers that are away: a 503 with Retry-After, whichever route met it."""

from __future__ import annotations

from fastapi import HTTPException
from fastapi.responses import JSONResponse

from herald.errors import OutageError

RETRY_AFTER_S = 5


def unavailable(what: str) -> HTTPException:
    return HTTPException(503, what, headers={"Retry-After": str(RETRY_AFTER_S)})


def outage_answer(error: OutageError) -> JSONResponse:
    """A server is away: retry, as for a 503 of the publish."""
    return JSONResponse(
        {"detail": f"{type(error).__name__}: try again"},
        503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )
