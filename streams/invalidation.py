"""A provider refused an address for good: the user's contacts without it (pure)."""

from __future__ import annotations

import dataclasses

from herald.models import Channel, UserContacts


def without_address(contacts: UserContacts, channel: Channel, address: str) -> UserContacts:
    """``contacts`` minus the dead ``address`` on ``channel``; unchanged when it is not there
    (already removed, or the user has since changed it)."""
    if channel is Channel.PUSH:
        devices = tuple(d for d in contacts.devices if d.token != address)
        return (
            contacts
            if devices == contacts.devices
            else dataclasses.replace(contacts, devices=devices)
        )
    if channel is Channel.SMS and contacts.phone == address:
        return dataclasses.replace(contacts, phone=None)
    if channel is Channel.EMAIL and contacts.email == address:
        return dataclasses.replace(contacts, email=None)
    return contacts
