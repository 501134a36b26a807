"""Preferences and contacts over HTTP: checked as the SDK checks them, on their compacted
topics once the answer is 200, read back at once, and honoured by the next decision."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from api.keys import Scope
from herald.models import Channel, Reason, State
from herald.settings import HeraldSettings
from lab.offsets import wait_caught_up
from streams.app import app_id
from tests.integration.api.conftest import Api, records_on
from tests.integration.api.test_publish import BODY, bearer
from tests.integration.pipeline import running_pipeline, user

PREFS = {
    "opted_out_channels": ["sms"],
    "opted_out_categories": ["marketing"],
    "quiet_hours": {"start": "22:00", "end": "07:30", "timezone": "Europe/Paris"},
    "limit_overrides": {"push": 20},
    "locale": "fr-CA",
}
CONTACTS = {
    "devices": [{"token": "tok-ann", "platform": "ios"}],
    "phone": "+1 (201) 555-0123",  # 555-01xx: fictional, valid for its country
    "email": "ann@Example.COM",
}


def test_a_write_is_on_its_topic_and_read_back_at_once(api: Api) -> None:
    admin = bearer(api.token(Scope.ADMIN))
    url = f"{api.url}/v1/users/ann"
    unset = httpx.get(f"{url}/preferences", headers=admin).json()
    assert unset["updated_at"] is None and unset["quiet_hours"] is None

    put = httpx.put(f"{url}/preferences", json=PREFS, headers=admin)
    assert put.status_code == 200, put.text
    read = httpx.get(f"{url}/preferences", headers=admin).json()
    assert read == put.json()
    assert {k: read[k] for k in PREFS} == PREFS and read["user_id"] == "ann"

    patched = httpx.patch(f"{url}/preferences", json={"locale": "en"}, headers=admin).json()
    assert patched["locale"] == "en" and patched["quiet_hours"] == PREFS["quiet_hours"]
    cleared = httpx.patch(f"{url}/preferences", json={"quiet_hours": None}, headers=admin)
    assert cleared.json()["quiet_hours"] is None
    assert httpx.get(f"{url}/preferences", headers=admin).json() == cleared.json()

    contacts = httpx.put(f"{url}/contacts", json=CONTACTS, headers=admin).json()
    assert contacts["phone"] == "+12015550123"  # stored in E.164 form
    assert contacts["email"] == "ann@example.com"
    moved = httpx.patch(f"{url}/contacts", json={"email": None}, headers=admin).json()
    assert moved["email"] is None and moved["phone"] == "+12015550123"
    assert httpx.get(f"{url}/contacts", headers=admin).json() == moved

    prefs_records = records_on(api, api.names.user_preferences)
    assert [key for key, _ in prefs_records] == [b"ann"] * 3
    assert [r["locale"] for _, r in prefs_records] == ["fr-CA", "en", "en"]
    assert prefs_records[0][1]["quiet_hours"] == {
        "start_minute": 22 * 60,
        "end_minute": 7 * 60 + 30,
        "timezone": "Europe/Paris",
    }
    contact_records = records_on(api, api.names.user_contacts)
    assert [r["phone"] for _, r in contact_records] == ["+12015550123"] * 2
    assert [r["email"] for _, r in contact_records] == ["ann@example.com", None]


BAD_ZONE = {"quiet_hours": {"start": "22:00", "end": "07:00", "timezone": "Mars/Olympus"}}


@pytest.mark.parametrize(
    ("path", "body", "field", "secret"),
    [
        ("preferences", BAD_ZONE, "quiet_hours.timezone", None),
        (
            "preferences",
            {"quiet_hours": {**BAD_ZONE["quiet_hours"], "start": "25:00"}},
            "quiet_hours",
            None,
        ),
        ("preferences", {"limit_overrides": {"push": -1}}, "limit_overrides.push", None),
        ("preferences", {"limit_overrides": {"fax": 1}}, "limit_overrides", None),
        ("preferences", {"opted_out_channels": ["pigeon"]}, "opted_out_channels", None),
        ("preferences", {"locale": "french please"}, "locale", None),
        ("contacts", {"phone": "+1 555 CALL ANN"}, "phone", "+1 555 CALL ANN"),
        ("contacts", {"phone": "+15555550100"}, "phone", "+15555550100"),
        ("contacts", {"phone": "2015550123"}, "phone", "2015550123"),
        ("contacts", {"email": "ann-at-example.com"}, "email", "ann-at-example.com"),
        ("contacts", {"email": "ann@@example.com"}, "email", "ann@@example.com"),
        ("contacts", {"devices": [{"token": "t", "platform": "nokia"}]}, "devices", None),
        ("contacts", {"phone": 2015550123}, "phone", "2015550123"),
    ],
)
def test_a_bad_field_is_a_422_that_names_it_and_nothing_is_published(
    api: Api, path: str, body: dict[str, object], field: str, secret: str | None
) -> None:
    admin = bearer(api.token(Scope.ADMIN))
    for method in ("PUT", "PATCH"):
        answer = httpx.request(method, f"{api.url}/v1/users/bo/{path}", json=body, headers=admin)
        assert answer.status_code == 422, (method, answer.text)
        [problem, *_] = answer.json()["detail"]
        assert ".".join(str(part) for part in problem["loc"][1:]).startswith(field), problem
        if secret is not None:
            assert secret not in answer.text  # a phone or an email is never quoted back
    topic = api.names.user_preferences if path == "preferences" else api.names.user_contacts
    assert records_on(api, topic, idle_s=1.0) == []


def test_profiles_set_over_http_are_honoured_by_the_next_decision(
    stack: HeraldSettings, migrated: str, start_api: Callable[..., Api], tmp_path: Path
) -> None:
    with running_pipeline(stack, tmp_path) as pipeline:
        api = start_api(pipeline.settings)
        admin = bearer(api.token(Scope.ADMIN, Scope.PUBLISH))
        ann, names = user("ann"), pipeline.names
        prefs = {"opted_out_channels": ["sms"]}
        for path, body in (("preferences", prefs), ("contacts", CONTACTS)):
            answer = httpx.put(f"{api.url}/v1/users/{ann}/{path}", json=body, headers=admin)
            assert answer.status_code == 200, answer.text
        profiles = [names.user_preferences, names.user_contacts]
        wait_caught_up(pipeline.settings, app_id(pipeline.settings), profiles)
        body = dict(BODY, recipients=[ann], channels=["push", "sms", "email"])
        sent = httpx.post(f"{api.url}/v1/notifications", json=body, headers=admin)
        assert sent.status_code == 202, sent.text
        request_id = sent.json()["request_id"]
        reader = pipeline.statuses()
        reader.wait_until(
            lambda seen: len([s for s in seen if s.request_id == request_id]) >= 3, timeout_s=60
        )
        mine = [s for s in reader.seen if s.request_id == request_id]
    assert {s.channel: (s.state, s.reason) for s in mine} == {
        Channel.PUSH: (State.QUEUED, None),
        Channel.SMS: (State.SUPPRESSED, Reason.OPTED_OUT_CHANNEL),
        Channel.EMAIL: (State.QUEUED, None),
    }


def test_concurrent_patches_of_different_fields_all_land(api: Api) -> None:
    admin = bearer(api.token(Scope.ADMIN))
    url = f"{api.url}/v1/users/{user('racer')}/preferences"
    patches = [{name: value} for name, value in PREFS.items()]

    async def patch_all() -> list[int]:
        async with httpx.AsyncClient(timeout=30) as client:
            answers = await asyncio.gather(
                *(client.patch(url, json=body, headers=admin) for body in patches * 3)
            )
        return [answer.status_code for answer in answers]

    assert asyncio.run(patch_all()) == [200] * len(patches) * 3
    stored = httpx.get(url, headers=admin).json()
    assert {name: stored[name] for name in PREFS} == PREFS
