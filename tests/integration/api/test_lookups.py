"""A request published over HTTP goes through the streams worker and the sink, and its
statuses come back from the lookup routes: a notification's timeline, a user's history a page
at a time, and the request's outcomes counted."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from api.keys import Scope
from herald.models import Channel, notification_id
from herald.settings import HeraldSettings
from lab.workers import WorkerProcess
from tests.integration.api.conftest import Api
from tests.integration.api.test_publish import BODY, bearer
from tests.integration.pipeline import reachable, running_pipeline, user


def wait_for(probe: Callable[[], httpx.Response], timeout_s: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        answer = probe()
        if answer.status_code == 200 or time.monotonic() > deadline:
            return answer
        time.sleep(0.5)


def test_statuses_of_a_request_sent_over_http_are_looked_up(
    stack: HeraldSettings, migrated: str, start_api: Callable[..., Api], tmp_path: Path
) -> None:
    with running_pipeline(stack, tmp_path) as pipeline:
        alice, bob = user("alice"), user("bob")  # bob has no contacts: nowhere to send
        pipeline.profiles(contacts=[reachable(alice)])
        sink_settings = pipeline.settings.updated(cassandra={"keyspace": migrated})
        with WorkerProcess("sink", sink_settings, tmp_path / "sink.log"):
            api = start_api(pipeline.settings)
            publisher, reader = api.token(Scope.PUBLISH), api.token(Scope.READ)
            body = dict(BODY, recipients=[alice, bob], channels=["push", "email"])
            sent = httpx.post(f"{api.url}/v1/notifications", json=body, headers=bearer(publisher))
            assert sent.status_code == 202
            nid = notification_id(sent.json()["request_id"], alice)

            timeline = wait_for(
                lambda: httpx.get(f"{api.url}/v1/notifications/{nid}", headers=bearer(reader))
            )
            assert timeline.status_code == 200, timeline.text
            history = f"{api.url}/v1/users/{alice}/notifications"
            # two statuses: queued on push and on email
            deadline = time.monotonic() + 60
            while True:
                listed = httpx.get(history, headers=bearer(reader), params={"limit": 50}).json()
                if len(listed["items"]) >= 2 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            timeline = httpx.get(f"{api.url}/v1/notifications/{nid}", headers=bearer(reader))
            outcomes = f"{api.url}/v1/requests/{sent.json()['request_id']}"
            deadline = time.monotonic() + 60
            while True:
                summary = httpx.get(outcomes, headers=bearer(reader)).json()
                if sum(summary.get("states", {}).values()) >= 4 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            unknown = httpx.get(f"{api.url}/v1/requests/never-sent", headers=bearer(reader))

    nothing_sent = {
        "sent": 0, "delivered": 0, "opened": 0, "clicked": 0, "bounced": 0,
        "delivery_rate": None, "open_rate": None, "click_rate": None,
    }  # fmt: skip
    assert summary == {
        "request_id": sent.json()["request_id"],
        "notifications": 2,
        "states": {"queued": 2, "suppressed": 2},
        "delivery": nothing_sent,  # queued and suppressed: none sent yet
        "channels": [
            {
                "channel": "email",
                "states": {"queued": 1, "suppressed": 1},
                "delivery": nothing_sent,
            },
            {"channel": "push", "states": {"queued": 1, "suppressed": 1}, "delivery": nothing_sent},
        ],
    }
    assert unknown.status_code == 404
    statuses = timeline.json()["statuses"]
    assert {s["notification_id"] for s in statuses} == {nid}
    items = listed["items"]
    queued = sorted((i["state"], i["channel"]) for i in items)
    assert queued == [("queued", Channel.EMAIL), ("queued", Channel.PUSH)]
    assert sorted(items, key=lambda i: i["channel"]) == sorted(statuses, key=lambda s: s["channel"])
    times = [i["occurred_at"] for i in items]
    assert times == sorted(times, reverse=True)  # newest first

    # a page at a time: limit 1, following the cursor, gives the same items
    paged, cursor = [], None
    for _ in range(10):
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(history, headers=bearer(reader), params=params).json()
        paged.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == items
    bad = httpx.get(history, headers=bearer(reader), params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400
