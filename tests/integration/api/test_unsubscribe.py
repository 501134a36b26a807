"""One-click unsubscribe through a real API: a signed link opts its user out of its category
on the preferences topic, the next notification of that category is suppressed, and forged,
expired, other-user, mandatory and body-less requests change nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from api.keys import Scope
from herald.links import LinkSigner
from herald.models import Channel, Reason, State
from herald.settings import HeraldSettings
from lab.offsets import wait_caught_up
from streams.app import app_id
from tests.integration.api.conftest import Api, records_on
from tests.integration.api.test_profiles import CONTACTS
from tests.integration.api.test_publish import BODY, bearer
from tests.integration.pipeline import running_pipeline, user

SECRET = "an unsubscribe key for the tests, 32 bytes or more"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def click(url: str, method: str = "POST") -> httpx.Response:
    """What a mail client sends for RFC 8058's one click."""
    return httpx.request(method, url, content="List-Unsubscribe=One-Click", headers=FORM)


def link(api: Api, user_id: str, category: str, ago: timedelta = timedelta()) -> str:
    signer = LinkSigner(SECRET, api.url, timedelta(days=30))
    url = urlsplit(signer.unsubscribe_url(user_id, category, datetime.now(UTC) - ago))
    return f"{api.url}{url.path}?{url.query}"


def test_a_one_click_unsubscribe_suppresses_the_next_notification_of_its_category(
    stack: HeraldSettings, migrated: str, start_api: Callable[..., Api], tmp_path: Path
) -> None:
    with running_pipeline(stack, tmp_path) as pipeline:
        api = start_api(pipeline.settings, links={"secret": SECRET})
        admin = bearer(api.token(Scope.ADMIN, Scope.PUBLISH))
        ann = user("ann")
        put = httpx.put(f"{api.url}/v1/users/{ann}/contacts", json=CONTACTS, headers=admin)
        assert put.status_code == 200

        page = httpx.get(link(api, ann, "marketing"))
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert 'method="post"' in page.text and "marketing" in page.text
        prefs = httpx.get(f"{api.url}/v1/users/{ann}/preferences", headers=admin).json()
        assert prefs["opted_out_categories"] == []  # a GET (a mail scanner) changes nothing

        done = click(link(api, ann, "marketing"))
        assert done.status_code == 200 and "no longer" in done.text
        prefs = httpx.get(f"{api.url}/v1/users/{ann}/preferences", headers=admin).json()
        assert prefs["opted_out_categories"] == ["marketing"]
        names = pipeline.names
        on_topic = [v for k, v in records_on(api, names.user_preferences) if k == ann.encode()]
        assert on_topic[-1]["opted_out_categories"] == ["marketing"]
        wait_caught_up(pipeline.settings, app_id(pipeline.settings), [names.user_preferences])

        ids = {}
        for category in ("marketing", "transactional"):
            body = dict(BODY, recipients=[ann], channels=["email"], category=category)
            sent = httpx.post(f"{api.url}/v1/notifications", json=body, headers=admin)
            ids[category] = sent.json()["request_id"]
        reader = pipeline.statuses()
        reader.wait_until(
            lambda seen: {s.request_id for s in seen} >= set(ids.values()), timeout_s=60
        )
        outcome = {s.request_id: (s.channel, s.state, s.reason) for s in reader.seen}
    assert outcome[ids["marketing"]] == (Channel.EMAIL, State.SUPPRESSED, Reason.OPTED_OUT_CATEGORY)
    assert outcome[ids["transactional"]] == (Channel.EMAIL, State.QUEUED, None)


def test_links_that_are_not_ours_change_nothing_and_are_counted(
    start_api: Callable[..., Api],
) -> None:
    api = start_api(links={"secret": SECRET})
    ann = user("ann")
    good = link(api, ann, "marketing")
    token = good.split("token=")[1]
    refused = [
        link(api, "bob", "marketing").replace("user=bob", f"user={ann}"),  # bob's token
        link(api, ann, "digest").replace("category=digest", "category=marketing"),
        link(api, ann, "marketing", ago=timedelta(days=31)),  # expired
        good.replace(token, token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")),
        good.replace(token, token[: len(token) // 2]),
    ]
    for url in refused:
        for method in ("GET", "POST"):
            answer = click(url, method)
            assert answer.status_code == 403, (method, url)
    assert click(link(api, ann, "security")).status_code == 400
    assert httpx.post(good).status_code == 400  # RFC 8058: the body says one click
    metrics = httpx.get(f"{api.url}/metrics").text
    assert 'herald_api_unsubscribes_total{outcome="refused"} 10.0' in metrics
    admin = bearer(api.token(Scope.ADMIN))
    prefs = httpx.get(f"{api.url}/v1/users/{ann}/preferences", headers=admin).json()
    assert prefs["updated_at"] is None  # nothing was written

    unset = start_api()  # no links.secret: no link works
    assert httpx.get(link(unset, ann, "marketing")).status_code == 404
