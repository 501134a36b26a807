"""Email opens and clicks (templates with ``track_email``): ``GET /v1/t/open`` (the pixel) and
``GET /v1/t/click`` (a link's signed redirect). No API key: the token (herald.links) names the
notification and, for a click, the URL to go to; a forged or altered token is refused with 403
and nothing is recorded or redirected to. The first open of a notification, and the first click
of each of its links, are published as ``opened`` and ``clicked``; repeats are counted only.
When Kafka is away a click still takes its reader on (counted as ``unrecorded``).
"""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from api.pages import message
from api.receipt_matching import Matched
from api.services import Services, services_of
from herald.errors import OutageError
from herald.links import InvalidLink, Tracked
from herald.models import State
from herald.receipts import ProviderEvent

router = APIRouter(tags=["end users"])
log = logging.getLogger(__name__)
PROVIDER = "tracking"
Token = Annotated[str, Query(min_length=1, max_length=4096)]
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = {"Cache-Control": "no-store, private"}
REFUSED: dict[int | str, dict[str, Any]] = {
    403: {"content": {"text/html": {}}, "description": "A forged or altered link."}
}


def _checked(services: Services, token: str) -> Tracked | None:
    if services.links is None:
        return None
    try:
        return services.links.check_event(token, datetime.now(UTC))
    except InvalidLink:
        services.metrics.receipts.labels(PROVIDER, "bad_signature").inc()
        return None


async def _record(services: Services, tracked: Tracked, state: State) -> Matched:
    ref, url = tracked.ref, tracked.url
    event = ProviderEvent("", "", state, datetime.now(UTC), link=url)  # no provider, no id
    suffix = f":{url}" if url else ""
    once = f"{PROVIDER}:{ref.notification_id}:{ref.channel.value}:{state.value}{suffix}"
    outcome = await services.matcher.emit(ref, event, once)
    services.metrics.receipts.labels(PROVIDER, outcome.value).inc()
    return outcome


def _web(url: str | None) -> bool:
    return url is not None and urlsplit(url).scheme in ("http", "https")


@router.get(
    "/v1/t/open",
    response_class=Response,
    responses={200: {"content": {"image/gif": {}}}, **REFUSED},
)
async def opened(request: Request, token: Token) -> Response:
    """An email's open pixel: a 1x1 GIF."""
    services = services_of(request)
    tracked = _checked(services, token)
    if tracked is None or tracked.url is not None:
        return message(403, "Link not valid", "This link is not valid.")
    await _record(services, tracked, State.OPENED)
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


@router.get(
    "/v1/t/click",
    response_class=RedirectResponse,
    status_code=302,
    responses={302: {"description": "On to the link's own URL."}, **REFUSED},
)
async def clicked(request: Request, token: Token) -> Response:
    """A link of an email: recorded, then on to its URL (the one in the signed token)."""
    services = services_of(request)
    tracked = _checked(services, token)
    if tracked is None or not _web(tracked.url):
        return message(403, "Link not valid", "This link is not valid.")
    assert tracked.url is not None
    try:
        await _record(services, tracked, State.CLICKED)
    except OutageError as error:  # the reader still gets where the link goes
        log.warning("a click was not recorded: %s", type(error).__name__)
        services.metrics.receipts.labels(PROVIDER, "unrecorded").inc()
    return RedirectResponse(tracked.url, 302, headers=NO_STORE)
