"""The preference centre's form, both ways (pure): a user's preferences as the page shows them,
and the posted form as the preferences it asks for.

The page shows each channel, each offered category (links.categories, the mandatory ones as
always on, and any other category the user left), quiet hours with their time zone, and the
locale. A box that is ticked means "send me these"; the stored preferences keep opt-outs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from herald.errors import ValidationError
from herald.models import Channel, QuietHours, UserPreferences
from herald.profiles import check_preferences, clock, minute_of

CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
CHANNEL_LABELS = {
    Channel.PUSH: "Notifications on your phone",
    Channel.SMS: "Text messages",
    Channel.EMAIL: "Email",
}
DEFAULT_QUIET = ("22:00", "07:00")


@dataclass(frozen=True, slots=True)
class Choice:
    name: str
    label: str
    on: bool
    fixed: bool = False  # mandatory: shown on, cannot be turned off


@dataclass(frozen=True, slots=True)
class Page:
    """What the form shows."""

    channels: tuple[Choice, ...]
    categories: tuple[Choice, ...]
    quiet: bool
    quiet_start: str
    quiet_end: str
    timezone: str
    locale: str
    locales: tuple[str, ...]


def page_of(
    prefs: UserPreferences,
    labels: Mapping[str, str],
    mandatory: frozenset[str],
    locales: Iterable[str],
    default_timezone: str = "UTC",
) -> Page:
    names = [*labels, *sorted(prefs.opted_out_categories - set(labels))]
    categories = tuple(
        Choice(
            name,
            labels.get(name, name),
            on=name in mandatory or name not in prefs.opted_out_categories,
            fixed=name in mandatory,
        )
        for name in names
    )
    quiet = prefs.quiet_hours
    start, end = (
        DEFAULT_QUIET if quiet is None else (clock(quiet.start_minute), clock(quiet.end_minute))
    )
    offered = sorted({*locales, *([prefs.locale] if prefs.locale else [])})
    return Page(
        channels=tuple(
            Choice(c.value, label, on=c not in prefs.opted_out_channels)
            for c, label in CHANNEL_LABELS.items()
        ),
        categories=categories,
        quiet=quiet is not None,
        quiet_start=start,
        quiet_end=end,
        timezone=default_timezone if quiet is None else quiet.timezone,
        locale=prefs.locale or "",
        locales=tuple(offered),
    )


def _one(form: Mapping[str, Sequence[str]], name: str) -> str:
    values = form.get(name) or [""]
    return values[0].strip()


def from_form(
    prefs: UserPreferences,
    form: Mapping[str, Sequence[str]],
    offered: Iterable[str],
    mandatory: frozenset[str],
) -> UserPreferences:
    """The preferences the posted form asks for (limits and categories the page did not offer
    are kept); ``ValidationError`` naming the field."""
    ticked_channels = set(form.get("channel") or ())
    unknown = ticked_channels - {c.value for c in Channel}
    if unknown:
        raise ValidationError("channel", "is not push, sms or email")
    ticked = set(form.get("category") or ())
    shown = set(offered)
    kept = prefs.opted_out_categories - shown
    left = {name for name in shown - ticked if name not in mandatory}
    quiet = None
    if _one(form, "quiet"):
        start, end, zone = (
            _one(form, "quiet_start"),
            _one(form, "quiet_end"),
            _one(form, "timezone"),
        )
        for field, text in (("quiet_start", start), ("quiet_end", end)):
            if not CLOCK.match(text):
                raise ValidationError(field, "is not a time such as 22:00")
        quiet = QuietHours(minute_of(start), minute_of(end), zone)
    changed = replace(
        prefs,
        opted_out_channels=frozenset(c for c in Channel if c.value not in ticked_channels),
        opted_out_categories=frozenset(kept | left),
        quiet_hours=quiet,
        locale=_one(form, "locale") or None,
    )
    return check_preferences(changed)
