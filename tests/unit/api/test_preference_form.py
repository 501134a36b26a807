"""The preference centre's form both ways: what the page shows, and what a posted form asks."""

from __future__ import annotations

import pytest

from api.preference_form import from_form, page_of
from herald.errors import ValidationError
from herald.models import Channel, QuietHours, UserPreferences

LABELS = {"transactional": "Orders", "marketing": "Offers", "security": "Security"}
MANDATORY = frozenset({"security"})
PREFS = UserPreferences(
    "ann",
    opted_out_channels=frozenset({Channel.SMS}),
    opted_out_categories=frozenset({"marketing", "old-newsletter"}),
    quiet_hours=QuietHours(22 * 60, 7 * 60, "Europe/Paris"),
    limit_overrides={Channel.PUSH: 3},
    locale="fr",
)


def test_the_page_shows_what_the_user_receives() -> None:
    page = page_of(PREFS, LABELS, MANDATORY, ["en", "de"])
    assert [(c.name, c.on) for c in page.channels] == [
        ("push", True),
        ("sms", False),
        ("email", True),
    ]
    categories = [(c.name, c.on, c.fixed) for c in page.categories]
    assert categories == [
        ("transactional", True, False),
        ("marketing", False, False),
        ("security", True, True),
        ("old-newsletter", False, False),  # left before: shown, so it can be taken back
    ]
    assert (page.quiet, page.quiet_start, page.quiet_end, page.timezone) == (
        True, "22:00", "07:00", "Europe/Paris"
    )  # fmt: skip
    assert (page.locale, page.locales) == ("fr", ("de", "en", "fr"))
    fresh = page_of(UserPreferences("bob"), LABELS, MANDATORY, [])
    assert not fresh.quiet and fresh.timezone == "UTC" and fresh.locale == ""
    assert all(c.on for c in fresh.channels + fresh.categories)


def form(**fields: list[str]) -> dict[str, list[str]]:
    return fields


OFFERED = ["transactional", "marketing", "security", "old-newsletter"]


def test_a_posted_form_becomes_preferences_and_keeps_what_it_did_not_show() -> None:
    prefs = UserPreferences(
        "ann", opted_out_categories=frozenset({"hidden"}), limit_overrides={Channel.PUSH: 3}
    )
    posted = form(
        channel=["push", "email"],
        category=["marketing"],
        quiet=["on"],
        quiet_start=["23:30"],
        quiet_end=["06:15"],
        timezone=["America/New_York"],
        locale=["de"],
    )
    changed = from_form(prefs, posted, OFFERED, MANDATORY)
    assert changed.opted_out_channels == {Channel.SMS}
    # unticked: transactional and old-newsletter; security cannot be left; hidden was kept
    assert changed.opted_out_categories == {"transactional", "old-newsletter", "hidden"}
    assert changed.quiet_hours == QuietHours(23 * 60 + 30, 6 * 60 + 15, "America/New_York")
    assert (changed.locale, changed.limit_overrides) == ("de", {Channel.PUSH: 3})


def test_an_empty_form_turns_everything_off_but_the_mandatory() -> None:
    changed = from_form(PREFS, form(locale=[""]), OFFERED, MANDATORY)
    assert changed.opted_out_channels == set(Channel)
    assert "security" not in changed.opted_out_categories
    assert changed.quiet_hours is None and changed.locale is None


@pytest.mark.parametrize(
    ("posted", "field"),
    [
        (form(quiet=["on"], quiet_start=["25:00"], quiet_end=["07:00"], timezone=["UTC"]),
         "quiet_start"),
        (form(quiet=["on"], quiet_start=["22:00"], quiet_end=["7"], timezone=["UTC"]), "quiet_end"),
        (form(quiet=["on"], quiet_start=["22:00"], quiet_end=["07:00"], timezone=["Mars/Base"]),
         "quiet_hours.timezone"),
        (form(channel=["fax"]), "channel"),
        (form(locale=["not a locale!"]), "locale"),
    ],
)  # fmt: skip
def test_a_wrong_field_is_named(posted: dict[str, list[str]], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        from_form(PREFS, posted, OFFERED, MANDATORY)
    assert raised.value.field == field
