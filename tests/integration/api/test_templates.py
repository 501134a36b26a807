"""Templates over HTTP: a write reaches the templates topic, the running streams worker renders
it from its next request on and another API has it without a restart; listing, reading,
previews, and 422s that name the field and the line."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from api.keys import Scope
from herald.settings import HeraldSettings
from tests.integration.api.conftest import Api, records_on
from tests.integration.api.test_publish import BODY, bearer
from tests.integration.pipeline import reachable, read_records, running_pipeline, user

PUSH_ONLY = {
    "channels": ["push"],
    "default_locale": "en",
    "locales": {
        "en": {"push": {"title": "Parcel {{ order_id }} is coming", "body": "Hi {{ name }}"}},
        "fr": {"push": {"title": "Colis {{ order_id }}", "body": "Bonjour {{ name }}"}},
    },
}


def titled(title: str) -> dict[str, Any]:
    return {**PUSH_ONLY, "locales": {"en": {"push": {"title": title, "body": "b"}}}}


def put(api: Api, token: str, template_id: str, body: object) -> httpx.Response:
    return httpx.put(
        f"{api.url}/v1/templates/{template_id}", json=body, headers=bearer(token), timeout=30
    )


def eventually(probe: Callable[[], bool], timeout_s: float = 30) -> bool:
    deadline = time.monotonic() + timeout_s
    while not probe():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_a_template_written_over_http_is_rendered_by_the_running_worker(
    stack: HeraldSettings, migrated: str, start_api: Callable[..., Api], tmp_path: Path
) -> None:
    with running_pipeline(stack, tmp_path) as pipeline:
        alice = user("alice")
        pipeline.profiles(contacts=[reachable(alice)])
        api = start_api(pipeline.settings)
        admin, publisher = api.token(Scope.ADMIN), api.token(Scope.PUBLISH)
        request = dict(BODY, recipients=[alice], channels=["push"])

        # the installed file, replaced on the topic: the worker renders the new one
        written = put(api, admin, "order_shipped", PUSH_ONLY)
        assert written.status_code == 200, written.text
        assert written.json()["origin"] == "topic"
        assert written.json()["locales"] == PUSH_ONLY["locales"]
        sent = httpx.post(f"{api.url}/v1/notifications", json=request, headers=bearer(publisher))
        assert sent.status_code == 202
        push = pipeline.names.channel("push")
        ((_, _, first),) = read_records(pipeline, push, 1)
        assert first is not None and first["title"] == "Parcel 42 is coming"

        # another API started now reads the topic whole; a second edit reaches both of them
        # and the worker, none restarted
        other = start_api(pipeline.settings)
        reader = other.token(Scope.READ)
        shown = httpx.get(f"{other.url}/v1/templates/order_shipped", headers=bearer(reader))
        assert shown.json()["locales"] == PUSH_ONLY["locales"]
        assert put(api, admin, "order_shipped", titled("Second {{ order_id }}")).status_code == 200

        def other_has_it() -> bool:
            answer = httpx.get(f"{other.url}/v1/templates/order_shipped", headers=bearer(reader))
            return bool(answer.json()["locales"]["en"]["push"]["title"] == "Second {{ order_id }}")

        assert eventually(other_has_it)
        deadline = time.monotonic() + 30
        while True:  # the worker follows within a poll: requests sent just before may not
            sent = httpx.post(
                f"{api.url}/v1/notifications", json=request, headers=bearer(publisher)
            )
            assert sent.status_code == 202
            titles = [r[2]["title"] for r in read_records(pipeline, push, 100, 3) if r[2]]
            if "Second 42" in titles or time.monotonic() > deadline:
                break
        assert "Second 42" in titles
        on_topic = records_on(api, pipeline.names.templates)

    assert [key for key, _ in on_topic] == [b"order_shipped", b"order_shipped"]
    assert on_topic[-1][1]["template_id"] == "order_shipped"


def test_templates_are_listed_read_and_previewed(module_api: Api) -> None:
    api = module_api
    reader, admin = api.token(Scope.READ), api.token(Scope.ADMIN)
    assert put(api, admin, "parcel", PUSH_ONLY).status_code == 200

    listed = httpx.get(f"{api.url}/v1/templates", headers=bearer(reader)).json()["templates"]
    by_id = {t["template_id"]: t for t in listed}
    assert by_id["parcel"]["origin"] == "topic" and by_id["parcel"]["locales"] == ["en", "fr"]
    assert by_id["order_shipped"]["origin"] == "file"
    assert "nosuchfilter" in by_id["broken"]["problem"]  # it loads, but does not compile

    one = httpx.get(f"{api.url}/v1/templates/order_shipped", headers=bearer(reader)).json()
    assert one["channels"] == ["push", "sms", "email"] and set(one["locales"]) == {"en", "fr"}
    missing = httpx.get(f"{api.url}/v1/templates/nope", headers=bearer(reader))
    assert missing.status_code == 404
    broken = httpx.get(f"{api.url}/v1/templates/broken", headers=bearer(reader))
    assert broken.json()["locales"]["en"]["push"]["body"] == "{{ name | nosuchfilter }}"

    preview = httpx.post(
        f"{api.url}/v1/templates/parcel/preview",
        json={"data": {"order_id": "7", "name": "Ada"}, "locales": ["fr-CA", "de"]},
        headers=bearer(reader),
    ).json()
    found = {(p["locale"], p["channel"]): p for p in preview["previews"]}
    assert found["fr-CA", "push"]["title"] == "Colis 7"
    assert found["fr-CA", "push"]["used_locale"] == "fr"
    assert found["de", "push"]["title"] == "Parcel 7 is coming"
    no_data = httpx.post(
        f"{api.url}/v1/templates/parcel/preview", json={}, headers=bearer(reader)
    ).json()
    assert all("order_id" in p["error"] for p in no_data["previews"])  # each locale, named

    draft = httpx.post(
        f"{api.url}/v1/templates/preview",
        json={"template": titled("Draft {{ n }}"), "data": {"n": "1"}},
        headers=bearer(reader),
    ).json()
    assert [p["title"] for p in draft["previews"]] == ["Draft 1"]
    unsaved = httpx.get(f"{api.url}/v1/templates/draft", headers=bearer(reader))
    assert unsaved.status_code == 404  # a draft is not stored


def test_a_bad_template_is_a_422_naming_the_field_and_the_line(module_api: Api) -> None:
    api = module_api
    admin = api.token(Scope.ADMIN)
    source = {"title": "fine", "body": "line one\nline two {% if %}"}
    bad = {**PUSH_ONLY, "locales": {"en": {"push": source}}}
    answer = put(api, admin, "bad_syntax", bad)
    assert answer.status_code == 422
    (problem,) = answer.json()["detail"]
    assert problem["loc"] == ["body", "locales", "en", "push", "body"]
    assert "line 2" in problem["msg"]

    cases: list[tuple[dict[str, Any], list[str], str]] = [
        ({**PUSH_ONLY, "default_locale": "de"}, ["body"], "has no variants"),
        (
            {**PUSH_ONLY, "locales": {"en": {"push": {"title": "t"}}}},
            ["body", "locales", "en", "push"],
            "missing fields ['body']",
        ),
        (
            {**PUSH_ONLY, "locales": {"en": {"push": {"title": "t", "body": "b", "x": "y"}}}},
            ["body", "locales", "en", "push"],
            "unknown fields ['x']",
        ),
    ]
    for body, loc, message in cases:
        answer = put(api, admin, "bad", body)
        assert answer.status_code == 422, body
        (problem,) = answer.json()["detail"]
        assert problem["loc"] == loc and message in problem["msg"], problem
    for body in ({**PUSH_ONLY, "channels": ["fax"]}, {"channels": ["push"]}):
        assert put(api, admin, "bad", body).status_code == 422
    assert put(api, admin, "../etc", PUSH_ONLY).status_code in (404, 405, 422)
    assert put(api, admin, "a.b", PUSH_ONLY).status_code == 422
    reader = api.token(Scope.READ)
    assert httpx.get(f"{api.url}/v1/templates/bad", headers=bearer(reader)).status_code == 404
    assert not [key for key, _ in records_on(api, api.names.templates) if key == b"bad"]
