"""The checks of preferences and contacts that the SDK, the API and the streams worker share."""

from __future__ import annotations

import pytest

from herald.errors import ValidationError
from herald.models import Channel, Device, Platform, QuietHours, UserContacts, UserPreferences
from herald.profiles import check_contacts, check_preferences

PHONE = "+12015550123"  # 555-01xx: fictional, and valid for its country
EMAIL = "someone@Example.COM"


def prefs(**fields: object) -> UserPreferences:
    return UserPreferences(user_id="u-1", **fields)  # type: ignore[arg-type]


def contacts(**fields: object) -> UserContacts:
    return UserContacts(user_id="u-1", **fields)  # type: ignore[arg-type]


def test_sound_preferences_pass_as_they_are() -> None:
    sound = prefs(
        opted_out_channels=frozenset({Channel.SMS}),
        opted_out_categories=frozenset({"marketing"}),
        quiet_hours=QuietHours(22 * 60, 7 * 60, "Europe/Paris"),
        limit_overrides={Channel.PUSH: 0},
        locale="fr-CA",
    )
    assert check_preferences(sound) is sound


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"quiet_hours": QuietHours(0, 60, "Mars/Olympus")}, "quiet_hours.timezone"),
        ({"quiet_hours": QuietHours(0, 60, "utc ")}, "quiet_hours.timezone"),
        ({"quiet_hours": QuietHours(-1, 60, "UTC")}, "quiet_hours.start_minute"),
        ({"quiet_hours": QuietHours(0, 1440, "UTC")}, "quiet_hours.end_minute"),
        ({"limit_overrides": {Channel.EMAIL: -1}}, "limit_overrides.email"),
        ({"limit_overrides": {Channel.SMS: 10**12}}, "limit_overrides.sms"),
        ({"opted_out_categories": frozenset({"x" * 201})}, "opted_out_categories"),
        ({"locale": "french please"}, "locale"),
        ({"opted_out_categories": frozenset({" "})}, "opted_out_categories"),
    ],
)
def test_unsound_preferences_name_the_field(fields: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        check_preferences(prefs(**fields))
    assert raised.value.field == field


def test_an_empty_user_id_is_refused() -> None:
    with pytest.raises(ValidationError, match="user_id"):
        check_preferences(UserPreferences(user_id=" "))


def test_contacts_are_normalized() -> None:
    device = Device("tok-1", Platform.IOS)
    checked = check_contacts(
        contacts(phone="+1 (201) 555-0123", email=EMAIL, devices=(device, device))
    )
    assert checked.phone == PHONE
    assert checked.email == "someone@example.com"
    assert checked.devices == (device,)


@pytest.mark.parametrize(
    "phone", ["2015550123", "+1555", "+15555550100", "call me", "+999123456789", ""]
)
def test_a_bad_phone_is_refused_without_quoting_it(phone: str) -> None:
    with pytest.raises(ValidationError) as raised:
        check_contacts(contacts(phone=phone))
    assert raised.value.field == "phone"
    assert phone not in str(raised.value) or not phone


@pytest.mark.parametrize("email", ["no-at-sign", "two@@example.com", "a@b", "@example.com"])
def test_a_bad_email_is_refused_without_quoting_it(email: str) -> None:
    with pytest.raises(ValidationError) as raised:
        check_contacts(contacts(email=email))
    assert raised.value.field == "email"
    assert email not in str(raised.value)


def test_strict_wants_the_phone_already_in_e164_form() -> None:
    assert check_contacts(contacts(phone=PHONE), strict=True).phone == PHONE
    with pytest.raises(ValidationError, match=r"E\.164"):
        check_contacts(contacts(phone="+1 201 555 0123"), strict=True)


def test_an_empty_device_token_is_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        check_contacts(contacts(devices=(Device(" ", Platform.ANDROID),)))
    assert raised.value.field == "devices[0].token"
