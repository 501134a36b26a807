"""The SDK's HTTP client against a real `herald api`: sends that reach Kafka once, however
often they are retried, and the API's answers as Herald's errors."""

from __future__ import annotations

import asyncio

import pytest

from api.keys import Scope
from herald.client import (
    ApiUnavailable,
    AsyncHeraldClient,
    HeraldClient,
    NotAuthorized,
    NotFound,
)
from herald.errors import ValidationError
from herald.models import Channel, QuietHours, UserContacts, UserPreferences
from lab.sandboxes.config import free_port
from tests.integration.api.conftest import Api, requests_on_topic
from tests.integration.pipeline import request


def test_a_send_retried_by_the_client_is_on_kafka_once(api: Api) -> None:
    token = api.token(Scope.PUBLISH, Scope.READ)
    first, second = request(["u-1", "u-2"]), request(["u-3"])
    with HeraldClient(api.url, token) as client:
        assert client.send(first).recipients == 2
        assert client.send(first).request_id == first.request_id  # a retry: the same answer
        with pytest.raises(ValidationError) as refused:
            client.send(request(["u-4"], template=""))
        assert refused.value.field == "template_id"
        assert client.history("u-1").statuses == []

    async def send_async() -> str:
        async with AsyncHeraldClient(api.url, token) as client:
            return (await client.send(second)).request_id

    assert asyncio.run(send_async()) == second.request_id
    keys = sorted(key.decode() for key, _ in requests_on_topic(api))
    assert keys == sorted([first.request_id, second.request_id])


def test_errors_say_what_to_do(api: Api) -> None:
    reader = HeraldClient(api.url, api.token(Scope.READ))
    with reader, pytest.raises(NotAuthorized, match="publish"):
        reader.send(request(["u-1"]))
    stranger = HeraldClient(api.url, "hk_000000000000_wrong")
    with stranger, pytest.raises(NotAuthorized):
        stranger.timeline("n-1")
    nobody = HeraldClient(f"http://127.0.0.1:{free_port()}", "hk_x_y")
    with nobody, pytest.raises(ApiUnavailable):
        nobody.send(request(["u-1"]))


def test_profiles_templates_and_counts_through_the_client(api: Api) -> None:
    token = api.token(Scope.READ, Scope.ADMIN)
    prefs = UserPreferences(
        "u-client",
        opted_out_channels=frozenset({Channel.SMS}),
        quiet_hours=QuietHours(22 * 60, 7 * 60, "Europe/Paris"),
        locale="fr",
    )
    contacts = UserContacts("u-client", phone="+1 (201) 555-0123", email="u@Example.COM")
    definition = {
        "channels": ["sms"],
        "default_locale": "en",
        "locales": {"en": {"sms": {"body": "Hi {{ name }}"}}},
    }

    async def through_async() -> tuple[UserPreferences, list[dict[str, object]]]:
        async with AsyncHeraldClient(api.url, token) as client:
            await client.set_preferences(prefs)
            previews = await client.preview("client_sms", {"name": "Ada"})
            return await client.preferences("u-client"), previews

    with HeraldClient(api.url, token) as client:
        assert client.preferences("u-never") == UserPreferences("u-never")
        stored = client.set_contacts(contacts)
        assert (stored.phone, stored.email) == ("+12015550123", "u@example.com")
        assert client.contacts("u-client") == stored
        assert client.put_template("client_sms", definition)["origin"] == "topic"
        assert client.template("client_sms")["locales"] == definition["locales"]
        assert "client_sms" in {t["template_id"] for t in client.templates()}
        with pytest.raises(NotFound):
            client.outcomes("never-sent")
        with pytest.raises(NotFound):
            client.template("never-written")
        with pytest.raises(ValidationError) as refused:
            client.set_contacts(UserContacts("u-client", phone="12"))
        assert refused.value.field == "phone"
    read_back, previews = asyncio.run(through_async())
    assert read_back == prefs
    assert [p["body"] for p in previews] == ["Hi Ada"]
