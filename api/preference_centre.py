"""The preference centre: a page where end users choose channels, categories, quiet hours and
the language of their messages, reached through a signed link (herald.links, audience
``herald:preferences``) that a service asks for with ``POST /v1/users/{id}/preference-link``.

``GET`` shows the user's current choices; ``POST`` (the page's form) saves them through the
same write path as the preference routes, so the next decision honours them. Server-rendered,
no script (api/html/preferences.html).
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from api.auth import require
from api.bodies import answers
from api.keys import Scope
from api.pages import message, render
from api.preference_form import Page, from_form, page_of
from api.profiles import one_writer, save_profile, stored_profile
from api.services import Services, services_of
from api.unsubscribe import ANSWERS, HTML, LinkPart
from herald.errors import HeraldError, ValidationError
from herald.links import InvalidLink
from herald.models import UserPreferences
from herald.profiles import time_zones

router = APIRouter(tags=["end users"])
TITLE = "Your notification choices"
PATH = "/v1/preference-centre"
FIELDS = {
    "quiet_start": "the start of quiet hours",
    "quiet_end": "the end of quiet hours",
    "quiet_hours.timezone": "the time zone",
    "locale": "the language",
    "channel": "the channels",
}


class PreferenceLink(BaseModel):
    url: str
    expires_at: datetime


def _refused(services: Services, user: str, token: str) -> HTMLResponse | None:
    if services.links is None:
        return message(404, "Not available", "The preference centre is not set up here.")
    try:
        services.links.check_preferences(token, user, datetime.now(UTC))
    except InvalidLink as error:
        text = "This link has expired." if error.reason == "expired" else "This link is not valid."
        return message(403, "Link not valid", f"{text} Use the link in a newer message.")
    return None


def _locales(services: Services) -> set[str]:
    store = services.templates
    found: set[str] = set()
    for template_id in store.ids():
        try:
            found.update(store.template(template_id).locales)
        except HeraldError:  # a template that does not load offers no locale
            continue
    return found


async def _current(services: Services, user: str) -> UserPreferences:
    stored = await stored_profile(services, UserPreferences, user)
    return UserPreferences(user) if stored is None else stored.profile


def _page(services: Services, prefs: UserPreferences) -> Page:
    return page_of(
        prefs,
        services.settings.links.categories,
        services.settings.pipeline.mandatory_categories,
        _locales(services),
    )


def _show(
    request: Request, page: Page, status: int = 200, saved: bool = False, problem: str = ""
) -> HTMLResponse:
    action = f"{request.url.path}?{request.url.query}"
    return render(
        "preferences.html",
        status,
        TITLE,
        page=page,
        zones=sorted(time_zones()),
        action=action,
        saved=saved,
        problem=problem,
    )


@router.get(PATH, response_class=HTMLResponse, responses={200: HTML, **ANSWERS})
async def show(request: Request, user: LinkPart, token: LinkPart) -> HTMLResponse:
    """The user's choices, as a form."""
    services = services_of(request)
    refused = _refused(services, user, token)
    if refused is not None:
        return refused
    return _show(request, _page(services, await _current(services, user)))


@router.post(PATH, response_class=HTMLResponse, responses={200: HTML, **ANSWERS})
async def save(request: Request, user: LinkPart, token: LinkPart) -> HTMLResponse:
    """The form, saved: on the preferences topic once the broker confirmed it."""
    services = services_of(request)
    refused = _refused(services, user, token)
    if refused is not None:
        return refused
    form = parse_qs((await request.body()).decode(errors="replace"), keep_blank_values=True)
    async with one_writer(services, UserPreferences, user):
        prefs = await _current(services, user)
        page = _page(services, prefs)
        offered = [c.name for c in page.categories]
        mandatory = services.settings.pipeline.mandatory_categories
        try:
            changed = from_form(prefs, form, offered, mandatory)
        except ValidationError as error:
            services.metrics.preference_pages.labels("invalid").inc()
            what = FIELDS.get(error.field, error.field)
            return _show(request, page, 400, problem=f"Please check {what}: it {error.problem}.")
        await save_profile(services, changed)
    services.metrics.preference_pages.labels("saved").inc()
    return _show(request, _page(services, changed), saved=True)


@router.post(
    "/v1/users/{user_id}/preference-link",
    tags=["profiles"],
    response_model=PreferenceLink,
    responses=answers({404: {"description": "Signed links are not set up (links.secret)."}}),
    dependencies=[Depends(require(Scope.ADMIN))],
)
async def preference_link(request: Request, user_id: str) -> PreferenceLink:
    """A signed link to the user's preference centre, for a message or a support reply."""
    services = services_of(request)
    if services.links is None:
        raise HTTPException(404, "signed links are not set up (links.secret)")
    url, expires = services.links.preferences_url(user_id, datetime.now(UTC))
    return PreferenceLink(url=url, expires_at=expires)
