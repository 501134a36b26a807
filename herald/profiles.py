"""Checks of a user's preferences and contacts (pure). The SDK and the HTTP API apply them
before publishing; the streams worker applies them to every profile record it reads and
dead-letters one that fails.

A problem names the field and what is wrong, never the value: phone numbers and email
addresses are personal data, and these messages end up in answers, logs and dead letters.
"""

from __future__ import annotations

import dataclasses
import re
import zoneinfo
from collections.abc import Mapping
from functools import cache
from typing import Any

import email_validator
import phonenumbers

from herald.errors import ValidationError
from herald.models import (
    Channel,
    Device,
    Platform,
    QuietHours,
    UserContacts,
    UserPreferences,
)

DAY_MINUTES = 24 * 60
# BCP 47's common shape: a language, then subtags (en, fr-CA, zh-Hant-TW, es-419)
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_MAX_TEXT = 200
MAX_LIMIT = 1_000_000  # notifications a window: past this, a limit means none


@cache
def time_zones() -> frozenset[str]:
    """The IANA zone names this Python knows (the system's database, or tzdata's)."""
    return frozenset(zoneinfo.available_timezones())


def _user_id(user_id: str) -> None:
    if not user_id.strip():
        raise ValidationError("user_id", "must not be empty")
    if len(user_id) > _MAX_TEXT:
        raise ValidationError("user_id", f"is longer than {_MAX_TEXT} characters")


def check_preferences(prefs: UserPreferences) -> UserPreferences:
    """``prefs`` if it can be honoured as written; else ``ValidationError`` naming the field."""
    _user_id(prefs.user_id)
    if any(not category.strip() for category in prefs.opted_out_categories):
        raise ValidationError("opted_out_categories", "contains an empty category")
    if any(len(category) > _MAX_TEXT for category in prefs.opted_out_categories):
        raise ValidationError(
            "opted_out_categories", f"contains a category longer than {_MAX_TEXT} characters"
        )
    quiet = prefs.quiet_hours
    if quiet is not None:
        for name in ("start_minute", "end_minute"):
            if not 0 <= getattr(quiet, name) < DAY_MINUTES:
                raise ValidationError(f"quiet_hours.{name}", f"must be in 0..{DAY_MINUTES - 1}")
        if quiet.timezone not in time_zones():
            raise ValidationError("quiet_hours.timezone", "is not an IANA time zone name")
    for channel, limit in prefs.limit_overrides.items():
        if not 0 <= limit <= MAX_LIMIT:
            raise ValidationError(f"limit_overrides.{channel.value}", f"must be in 0..{MAX_LIMIT}")
    if prefs.locale is not None and not _LOCALE.match(prefs.locale):
        raise ValidationError("locale", "is not a language tag such as en or fr-CA")
    return prefs


def phone_e164(phone: str) -> str:
    """The number in E.164 form (``+`` and digits), or ``ValidationError``."""
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            "phone", "is not a phone number with its country code (+ and digits)"
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError("phone", "is not a valid number for its country")
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def email_address(email: str) -> str:
    """The address normalized (its domain lower-cased), or ``ValidationError``. Only its form
    is checked: no DNS lookup."""
    try:
        checked = email_validator.validate_email(email, check_deliverability=False)
    except email_validator.EmailNotValidError:
        # the library's message may quote the address: it is not repeated
        raise ValidationError("email", "is not a valid email address") from None
    return str(checked.normalized)


def check_contacts(contacts: UserContacts, *, strict: bool = False) -> UserContacts:
    """The contacts normalized (phone in E.164, email's domain lower-cased), or
    ``ValidationError``. ``strict`` (the streams worker): the phone must already be in E.164
    form, since the worker passes it on to providers as it is."""
    _user_id(contacts.user_id)
    for n, device in enumerate(contacts.devices):
        if not device.token.strip():
            raise ValidationError(f"devices[{n}].token", "must not be empty")
    phone = None if contacts.phone is None else phone_e164(contacts.phone)
    if strict and phone != contacts.phone:
        raise ValidationError("phone", "is not in E.164 form (+, country code, digits only)")
    email = None if contacts.email is None else email_address(contacts.email)
    unique = tuple(dict.fromkeys(contacts.devices))
    return dataclasses.replace(contacts, devices=unique, phone=phone, email=email)


# -- the JSON shape the HTTP API and its client share ----------------------------------------
def clock(minute: int) -> str:
    """Minutes after midnight as ``HH:MM``."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def minute_of(text: str) -> int:
    """``HH:MM`` as minutes after midnight."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def preferences_json(prefs: UserPreferences) -> dict[str, Any]:
    quiet = prefs.quiet_hours
    return {
        "opted_out_channels": sorted(c.value for c in prefs.opted_out_channels),
        "opted_out_categories": sorted(prefs.opted_out_categories),
        "quiet_hours": None
        if quiet is None
        else {
            "start": clock(quiet.start_minute),
            "end": clock(quiet.end_minute),
            "timezone": quiet.timezone,
        },
        "limit_overrides": {c.value: n for c, n in prefs.limit_overrides.items()},
        "locale": prefs.locale,
    }


def preferences_from_json(user_id: str, obj: Mapping[str, Any]) -> UserPreferences:
    quiet = obj.get("quiet_hours")
    return UserPreferences(
        user_id=user_id,
        opted_out_channels=frozenset(Channel(c) for c in obj.get("opted_out_channels") or ()),
        opted_out_categories=frozenset(obj.get("opted_out_categories") or ()),
        quiet_hours=None
        if quiet is None
        else QuietHours(minute_of(quiet["start"]), minute_of(quiet["end"]), quiet["timezone"]),
        limit_overrides={Channel(c): int(n) for c, n in (obj.get("limit_overrides") or {}).items()},
        locale=obj.get("locale"),
    )


def contacts_json(contacts: UserContacts) -> dict[str, Any]:
    return {
        "devices": [{"token": d.token, "platform": d.platform.value} for d in contacts.devices],
        "phone": contacts.phone,
        "email": contacts.email,
    }


def contacts_from_json(user_id: str, obj: Mapping[str, Any]) -> UserContacts:
    return UserContacts(
        user_id=user_id,
        devices=tuple(
            Device(d["token"], Platform(d["platform"])) for d in obj.get("devices") or ()
        ),
        phone=obj.get("phone"),
        email=obj.get("email"),
    )
