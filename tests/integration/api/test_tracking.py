"""Email opens and clicks of a template that opts in (track_email): the streams worker renders
its links as signed redirects and adds an open pixel; following them through herald api
records ``opened`` once and ``clicked`` once per link, and redirects only to the link's own
URL. A forged or altered link is refused and redirects nowhere."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from api.keys import Scope
from herald.models import Channel, DeliveryStatus, State
from herald.settings import HeraldSettings
from tests.integration.api.conftest import Api
from tests.integration.api.test_publish import BODY, bearer
from tests.integration.api.test_templates import put
from tests.integration.pipeline import reachable, read_records, running_pipeline, user

SECRET = "a tracking key for the tests, 32 bytes or more"
OFFER = {
    "channels": ["email"],
    "default_locale": "en",
    "track_email": True,
    "locales": {
        "en": {
            "email": {
                "subject": "A deal for {{ name }}",
                "text": "See https://shop.example/deal",
                "html": '<html><body><a href="https://shop.example/deal?id={{ order_id }}&amp;'
                'src=mail">Deal</a> <a href="https://shop.example/help">Help</a></body></html>',
            }
        }
    },
}


def test_opens_and_clicks_of_a_tracked_email_become_statuses_once(
    stack: HeraldSettings, migrated: str, start_api: Callable[..., Api], tmp_path: Path
) -> None:
    with running_pipeline(stack.updated(links={"secret": SECRET}), tmp_path) as pipeline:
        ann = user("ann")
        pipeline.profiles(contacts=[reachable(ann)])
        api = start_api(pipeline.settings)
        admin, publisher = api.token(Scope.ADMIN), api.token(Scope.PUBLISH)
        written = put(api, admin, "tracked_offer", OFFER)
        assert written.status_code == 200 and written.json()["track_email"] is True
        request = dict(BODY, recipients=[ann], channels=["email"], template_id="tracked_offer")
        email = pipeline.names.channel("email")
        deadline, page = time.monotonic() + 30, None
        while page is None and time.monotonic() < deadline:  # the worker follows the topic
            sent = httpx.post(
                f"{api.url}/v1/notifications", json=request, headers=bearer(publisher)
            )
            assert sent.status_code == 202
            for _, _, record in read_records(pipeline, email, 100, 3):
                if record and record["html"] and "/v1/t/click" in str(record["html"]):
                    page, notification_id = str(record["html"]), str(record["notification_id"])
        assert page is not None, "the worker never rendered the tracked template"
        links = [html.unescape(h) for h in re.findall(r'href="([^"]+)"', page)]
        pixel = html.unescape(re.findall(r'<img src="([^"]+)"', page)[0])
        base = pipeline.settings.links.base_url
        deal, help_link = (link.replace(base, api.url) for link in links)
        pixel = pixel.replace(base, api.url)

        clicks = [httpx.get(deal), httpx.get(deal), httpx.get(help_link)]
        assert [c.status_code for c in clicks] == [302, 302, 302]
        assert clicks[0].headers["location"] == "https://shop.example/deal?id=42&src=mail"
        assert clicks[2].headers["location"] == "https://shop.example/help"
        opens = [httpx.get(pixel), httpx.get(pixel)]
        assert [o.headers["content-type"] for o in opens] == ["image/gif", "image/gif"]

        token = deal.split("token=")[1]
        for forged in (
            deal.replace(token, token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")),
            deal.split("?")[0] + "?token=" + token[: len(token) // 2],
            f"{deal}&url=https://evil.example/",  # the target is the token's, not the query's
        ):
            answer = httpx.get(forged)
            if answer.status_code == 302:
                assert answer.headers["location"].startswith("https://shop.example/deal")
            else:
                assert answer.status_code == 403 and "location" not in answer.headers

        reader = pipeline.statuses()

        def mine(seen: list[DeliveryStatus]) -> list[DeliveryStatus]:
            return [s for s in seen if s.notification_id == notification_id]

        reader.wait_until(
            lambda seen: len([s for s in mine(seen) if s.state is State.CLICKED]) >= 2, 30
        )
        time.sleep(1)
        reader.poll()
        metrics = httpx.get(f"{api.url}/metrics").text
    states = [s.state for s in mine(reader.seen)]
    assert states.count(State.OPENED) == 1 and states.count(State.CLICKED) == 2
    assert all(s.channel is Channel.EMAIL and s.user_id == ann for s in mine(reader.seen))
    assert 'herald_api_receipts_total{outcome="repeated",provider="tracking"} 3.0' in metrics
    assert 'herald_api_receipts_total{outcome="bad_signature",provider="tracking"} 2.0' in metrics
