"""A user's preferences and contacts: read from Cassandra, written to their compacted topics.

A write is checked as the SDK and the streams worker check it (herald.profiles), answered
only once the broker confirmed the record, and stored for reading back at once; writes of one
user's preferences (or contacts) take turns through a Redis lock, so concurrent PATCHes of
different fields all land; the sink
stores every other producer's records the same way. All routes need the admin scope.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from redis.exceptions import LockError

from api.auth import require
from api.bodies import (
    Contacts,
    ContactsIn,
    ContactsPatch,
    Preferences,
    PreferencesIn,
    PreferencesPatch,
    Problem,
    answers,
)
from api.keys import ApiKey, Scope
from api.notifications import invalid
from api.services import Services, services_of
from herald.errors import RedisOutage, ValidationError
from herald.models import UserContacts, UserPreferences
from herald.profile_store import KIND_OF, P, Stored
from herald.profiles import check_contacts, check_preferences
from herald.redis import REDIS

router = APIRouter(tags=["profiles"])
Admin = Annotated[ApiKey, Depends(require(Scope.ADMIN))]
ANSWERS = answers(
    {
        422: {"description": "A field is wrong; the answer names it (never its value)."},
        503: {
            "model": Problem,
            "description": "Kafka, Cassandra or Redis cannot be reached, or another write of "
            "this profile is taking long: retry.",
        },
    }
)
B = TypeVar("B", bound=BaseModel)
LOCK_MARGIN_S = 5.0  # a profile's write lock: the publish timeout and this, for Cassandra


def _checked(check: Callable[[P], P], profile: P) -> P:
    try:
        return check(profile)
    except ValidationError as error:
        raise invalid(error.field, error.problem) from error


def _merged(current: B, patch: BaseModel) -> B:
    """``current`` with the fields ``patch`` sets; a null resets a field to its default."""
    changes: dict[str, Any] = patch.model_dump(exclude_unset=True)
    fields = type(current).model_fields
    values = current.model_dump()
    for name, value in changes.items():
        values[name] = (
            value if value is not None else fields[name].get_default(call_default_factory=True)
        )
    return type(current).model_validate(values)


async def stored_profile(services: Services, kind: type[P], user_id: str) -> Stored[P] | None:
    return await asyncio.to_thread(services.profiles.get, kind, user_id)


@asynccontextmanager
async def one_writer(services: Services, kind: type[P], user_id: str) -> AsyncIterator[None]:
    """One write of a user's preferences (or contacts) at a time, across API processes: a
    PATCH reads, merges and writes, and two at once would lose one of the changes. The lock
    outlives a publish that times out; a holder slower than that loses it."""
    settings = services.settings
    hold_s = settings.api.publish_timeout_s + LOCK_MARGIN_S
    name = f"{settings.kafka.topic_prefix}profile-lock:{KIND_OF[kind].value}:{user_id}"
    lock = services.redis.lock(name, timeout=hold_s, blocking_timeout=hold_s)
    with REDIS:
        if not await lock.acquire():
            raise RedisOutage("another write of this profile holds it: try again")
    try:
        yield
    finally:
        with REDIS, suppress(LockError):  # expired: another writer may hold it by now
            await lock.release()


async def save_profile(services: Services, profile: UserPreferences | UserContacts) -> Stored[Any]:
    publisher = services.publisher
    if isinstance(profile, UserPreferences):
        timestamp_ms = await publisher.publish_preferences(profile)
    else:
        timestamp_ms = await publisher.publish_contacts(profile)
    await asyncio.to_thread(services.profiles.put, profile, timestamp_ms)
    services.metrics.profiles.labels(KIND_OF[type(profile)].value).inc()
    return Stored(profile, services.profiles.updated_at(timestamp_ms))


# -- preferences ----------------------------------------------------------------------------
def _preferences(user_id: str, stored: Stored[UserPreferences] | None) -> Preferences:
    if stored is None:
        return Preferences(user_id=user_id, updated_at=None)
    body = PreferencesIn.of(stored.profile)
    return Preferences(**body.model_dump(), user_id=user_id, updated_at=stored.updated_at)


@router.get("/v1/users/{user_id}/preferences", response_model=Preferences, responses=ANSWERS)
async def get_preferences(request: Request, user_id: str, key: Admin) -> Preferences:
    """The user's preferences (the defaults, with ``updated_at`` null, if never set)."""
    return _preferences(
        user_id, await stored_profile(services_of(request), UserPreferences, user_id)
    )


@router.put("/v1/users/{user_id}/preferences", response_model=Preferences, responses=ANSWERS)
async def put_preferences(
    request: Request, user_id: str, body: PreferencesIn, key: Admin
) -> Preferences:
    """Replace the user's preferences."""
    prefs = _checked(check_preferences, body.to_model(user_id))
    services = services_of(request)
    async with one_writer(services, UserPreferences, user_id):
        return _preferences(user_id, await save_profile(services, prefs))


@router.patch("/v1/users/{user_id}/preferences", response_model=Preferences, responses=ANSWERS)
async def patch_preferences(
    request: Request, user_id: str, body: PreferencesPatch, key: Admin
) -> Preferences:
    """Change some of the user's preferences."""
    services = services_of(request)
    async with one_writer(services, UserPreferences, user_id):
        stored = await stored_profile(services, UserPreferences, user_id)
        current = PreferencesIn() if stored is None else PreferencesIn.of(stored.profile)
        prefs = _checked(check_preferences, _merged(current, body).to_model(user_id))
        return _preferences(user_id, await save_profile(services, prefs))


# -- contacts -------------------------------------------------------------------------------
def _contacts(user_id: str, stored: Stored[UserContacts] | None) -> Contacts:
    if stored is None:
        return Contacts(user_id=user_id, updated_at=None)
    body = ContactsIn.of(stored.profile)
    return Contacts(**body.model_dump(), user_id=user_id, updated_at=stored.updated_at)


@router.get("/v1/users/{user_id}/contacts", response_model=Contacts, responses=ANSWERS)
async def get_contacts(request: Request, user_id: str, key: Admin) -> Contacts:
    """The user's contacts (none, with ``updated_at`` null, if never set)."""
    return _contacts(user_id, await stored_profile(services_of(request), UserContacts, user_id))


@router.put("/v1/users/{user_id}/contacts", response_model=Contacts, responses=ANSWERS)
async def put_contacts(request: Request, user_id: str, body: ContactsIn, key: Admin) -> Contacts:
    """Replace the user's contacts; the phone is stored in E.164 form."""
    contacts = _checked(check_contacts, body.to_model(user_id))
    services = services_of(request)
    async with one_writer(services, UserContacts, user_id):
        return _contacts(user_id, await save_profile(services, contacts))


@router.patch("/v1/users/{user_id}/contacts", response_model=Contacts, responses=ANSWERS)
async def patch_contacts(
    request: Request, user_id: str, body: ContactsPatch, key: Admin
) -> Contacts:
    """Change some of the user's contacts (``devices`` is replaced whole)."""
    services = services_of(request)
    async with one_writer(services, UserContacts, user_id):
        stored = await stored_profile(services, UserContacts, user_id)
        current = ContactsIn() if stored is None else ContactsIn.of(stored.profile)
        contacts = _checked(check_contacts, _merged(current, body).to_model(user_id))
        return _contacts(user_id, await save_profile(services, contacts))
