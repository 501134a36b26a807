"""One-click unsubscribe (RFC 8058) for end users: the link of an email's List-Unsubscribe.

``GET`` shows what the link does and a button (mail scanners follow links: a GET changes
nothing); ``POST`` with ``List-Unsubscribe=One-Click``, from a mail client or the button, opts
the user out of the category through the same write path as the preference routes, so the
next notification of that category is suppressed. The link's token (herald.links) must be
ours, unexpired, and for this user and category; no API key is asked for.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from api.pages import message
from api.profiles import one_writer, save_profile, stored_profile
from api.services import Services, services_of
from herald.links import InvalidLink
from herald.models import UserPreferences
from herald.profiles import check_preferences

router = APIRouter(tags=["end users"])
ONE_CLICK = "List-Unsubscribe=One-Click"
LinkPart = Annotated[str, Query(min_length=1, max_length=1_000)]
HTML: dict[str, object] = {"content": {"text/html": {}}}
ANSWERS: dict[int | str, dict[str, object]] = {
    400: {**HTML, "description": "A category that cannot be left, or no one-click body."},
    403: {**HTML, "description": "The link is forged, altered, expired or for someone else."},
    404: {**HTML, "description": "Signed links are not set up (links.secret)."},
}
_page = message


def _checked(services: Services, user: str, category: str, token: str) -> HTMLResponse | None:
    """A page that refuses the link, or None for a link that may unsubscribe."""
    metrics = services.metrics.unsubscribes
    if services.links is None:
        metrics.labels("not_set_up").inc()
        return _page(404, "Not available", "Unsubscribe links are not set up here.")
    try:
        services.links.check_unsubscribe(token, user, category, datetime.now(UTC))
    except InvalidLink as error:
        metrics.labels("refused").inc()
        text = "This link has expired." if error.reason == "expired" else "This link is not valid."
        return _page(403, "Link not valid", f"{text} Use the link in a newer message.")
    if category in services.settings.pipeline.mandatory_categories:
        metrics.labels("mandatory").inc()
        return _page(400, "Cannot unsubscribe", f"{category} notifications cannot be turned off.")
    return None


@router.get("/v1/unsubscribe", response_class=HTMLResponse, responses={200: HTML, **ANSWERS})
async def confirm(
    request: Request, user: LinkPart, category: LinkPart, token: LinkPart
) -> HTMLResponse:
    """The page an unsubscribe link opens: what it does, and the button that does it."""
    services = services_of(request)
    refused = _checked(services, user, category, token)
    if refused is not None:
        return refused
    text = f"Stop receiving {category} notifications? Security messages still reach you."
    return _page(200, "Unsubscribe", text, action=f"{request.url.path}?{request.url.query}")


@router.post("/v1/unsubscribe", response_class=HTMLResponse, responses={200: HTML, **ANSWERS})
async def unsubscribe(
    request: Request, user: LinkPart, category: LinkPart, token: LinkPart
) -> HTMLResponse:
    """One click (RFC 8058: the body is ``List-Unsubscribe=One-Click``): the user is opted
    out of the category, on the preferences topic once the broker confirmed it."""
    services = services_of(request)
    refused = _checked(services, user, category, token)
    if refused is not None:
        return refused
    form = parse_qs((await request.body()).decode(errors="replace"))
    if form.get("List-Unsubscribe") != ["One-Click"]:
        return _page(400, "Cannot unsubscribe", f"The request must carry {ONE_CLICK}.")
    async with one_writer(services, UserPreferences, user):
        stored = await stored_profile(services, UserPreferences, user)
        prefs = UserPreferences(user) if stored is None else stored.profile
        if category in prefs.opted_out_categories:
            services.metrics.unsubscribes.labels("already").inc()
        else:
            categories = prefs.opted_out_categories | {category}
            changed = dataclasses.replace(prefs, opted_out_categories=categories)
            await save_profile(services, check_preferences(changed))
            services.metrics.unsubscribes.labels("done").inc()
    return _page(200, "Unsubscribed", f"You will no longer receive {category} notifications.")
