"""The demo's users: fixed personas first, then seeded random ones, and their profiles in words.

No phone number, email address or device token appears in any description.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from herald.models import Channel, Device, Platform, QuietHours, UserContacts, UserPreferences
from streams.quiet_hours import quiet_until

SEED = 7
ZONES = ("Europe/London", "Europe/Paris", "America/New_York", "America/Sao_Paulo", "Asia/Tokyo")
DAY = 24 * 60
# 555-0100 to 555-0199 are set aside for fiction in every North American area code
AREA_CODES = ("201", "202", "212", "213", "305", "312", "415", "503", "617", "702")


def fictional_phone(number: int) -> str:
    """A fictional North American number that still passes the E.164 checks, one of 1,000."""
    area = AREA_CODES[number // 100 % len(AREA_CODES)]
    return f"+1{area}555{100 + number % 100:04d}"


@dataclass(frozen=True)
class Traits:
    """What a demo user is like; ``quiet`` is "none", "night" (22:00-07:00) or "now"."""

    locale: str = "en"
    zone: str = "Europe/London"
    devices: int = 1
    phone: bool = True
    email: bool = True
    no_sms: bool = False
    no_marketing: bool = False
    quiet: str = "none"
    push_limit: int | None = None


# The first users are fixed, so that even a small demo shows every outcome.
PERSONAS = (
    Traits(devices=2),  # reachable everywhere: gets the SMS burst and the broken template
    Traits(locale="fr", zone="Europe/Paris", no_sms=True),
    Traits(zone="America/New_York", no_marketing=True),
    Traits(locale="fr", zone="Asia/Tokyo", quiet="now"),
    Traits(devices=0, phone=False, email=False),
    Traits(zone="America/Sao_Paulo", push_limit=1),
)
SAMPLE = (0, 1, 3)  # the personas whose stories the summary tells


@dataclass(frozen=True)
class DemoUser:
    prefs: UserPreferences
    contacts: UserContacts

    @property
    def user_id(self) -> str:
        return self.prefs.user_id


def random_traits(rng: random.Random) -> Traits:
    return Traits(
        locale=rng.choice(("en", "en", "fr")),
        zone=rng.choice(ZONES),
        devices=rng.choice((0, 1, 1, 1, 2)),
        phone=rng.random() > 0.2,
        email=rng.random() > 0.1,
        no_sms=rng.random() < 0.15,
        no_marketing=rng.random() < 0.2,
        quiet=rng.choices(("none", "night", "now"), weights=(70, 20, 10))[0],
        push_limit=1 if rng.random() < 0.05 else None,
    )


def quiet_window(traits: Traits, now: datetime) -> QuietHours | None:
    """None, the night in the user's zone, or two hours around ``now`` on their clock."""
    if traits.quiet == "none":
        return None
    if traits.quiet == "night":
        return QuietHours(22 * 60, 7 * 60, traits.zone)
    local = now.astimezone(ZoneInfo(traits.zone))
    minute = local.hour * 60 + local.minute
    return QuietHours((minute - 60) % DAY, (minute + 60) % DAY, traits.zone)


def make_user(number: int, traits: Traits, now: datetime) -> DemoUser:
    user_id = f"demo-user-{number:04d}"
    prefs = UserPreferences(
        user_id,
        opted_out_channels=frozenset({Channel.SMS} if traits.no_sms else ()),
        opted_out_categories=frozenset({"marketing"} if traits.no_marketing else ()),
        quiet_hours=quiet_window(traits, now),
        limit_overrides={} if traits.push_limit is None else {Channel.PUSH: traits.push_limit},
        locale=traits.locale,
    )
    platforms = list(Platform)
    contacts = UserContacts(
        user_id,
        devices=tuple(
            Device(f"demo-token-{number}-{n}", platforms[(number + n) % len(platforms)])
            for n in range(traits.devices)
        ),
        phone=fictional_phone(number) if traits.phone else None,
        email=f"{user_id}@example.com" if traits.email else None,
    )
    return DemoUser(prefs, contacts)


def demo_users(count: int, now: datetime, seed: int = SEED) -> list[DemoUser]:
    """``count`` users: the personas first, then seeded random ones (same seed, same users)."""
    rng = random.Random(seed)
    drawn = [random_traits(rng) for _ in range(count)]
    traits = [*PERSONAS[:count], *drawn[len(PERSONAS) :]]
    return [make_user(number, t, now) for number, t in enumerate(traits)]


def describe_user(user: DemoUser) -> str:
    """A user's profile in words, without their addresses."""
    prefs, contacts = user.prefs, user.contacts
    parts = [f"locale {prefs.locale}"]
    if (quiet := prefs.quiet_hours) is not None:
        span = f"{quiet.start_minute // 60:02d}:{quiet.start_minute % 60:02d}-"
        span += f"{quiet.end_minute // 60:02d}:{quiet.end_minute % 60:02d}"
        parts.append(f"quiet hours {span} {quiet.timezone}")
    opted_out = sorted(prefs.opted_out_channels) + sorted(prefs.opted_out_categories)
    if opted_out:
        parts.append("opted out of " + " and ".join(opted_out))
    parts += [f"{channel} limit {n}" for channel, n in prefs.limit_overrides.items()]
    parts.append(f"{len(contacts.devices)} device(s)")
    parts.append("phone" if contacts.phone else "no phone")
    parts.append("email" if contacts.email else "no email")
    return ", ".join(parts)


def population(users: Sequence[DemoUser], now: datetime) -> str:
    """How varied the users are, in a few counts."""
    counts = {
        "opted out of sms": sum(Channel.SMS in u.prefs.opted_out_channels for u in users),
        "of marketing": sum("marketing" in u.prefs.opted_out_categories for u in users),
        "in quiet hours now": sum(quiet_until(now, u.prefs.quiet_hours) is not None for u in users),
        "without a device": sum(not u.contacts.devices for u in users),
        "without a phone": sum(u.contacts.phone is None for u in users),
        "with a lower limit": sum(bool(u.prefs.limit_overrides) for u in users),
        "reading French": sum(u.prefs.locale == "fr" for u in users),
    }
    return ", ".join(f"{n} {what}" for what, n in counts.items())
