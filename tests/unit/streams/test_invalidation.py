"""Removing a dead address from a user's contacts."""

from __future__ import annotations

import pytest

from herald.models import Channel, Device, Platform, UserContacts
from streams.invalidation import without_address

CONTACTS = UserContacts(
    "u-1",
    devices=(Device("tok-a", Platform.IOS), Device("tok-b", Platform.ANDROID)),
    phone="+15555550100",
    email="ann@example.com",
)


def test_a_dead_device_token_removes_that_device_only() -> None:
    assert without_address(CONTACTS, Channel.PUSH, "tok-a").devices == (
        Device("tok-b", Platform.ANDROID),
    )


def test_a_dead_phone_or_email_is_cleared() -> None:
    assert without_address(CONTACTS, Channel.SMS, "+15555550100").phone is None
    assert without_address(CONTACTS, Channel.EMAIL, "ann@example.com").email is None
    kept = without_address(CONTACTS, Channel.EMAIL, "ann@example.com")
    assert (kept.phone, kept.devices) == (CONTACTS.phone, CONTACTS.devices)


@pytest.mark.parametrize(
    ("channel", "address"),
    [
        (Channel.PUSH, "tok-gone"),
        (Channel.SMS, "+15555550199"),  # the user changed their number since
        (Channel.EMAIL, "old@example.com"),
        (Channel.SMS, "ann@example.com"),  # another channel's address
    ],
)
def test_an_address_the_user_no_longer_has_changes_nothing(channel: Channel, address: str) -> None:
    assert without_address(CONTACTS, channel, address) is CONTACTS
