"""Publishing over HTTP: what reaches the requests topic, idempotency under concurrency,
validation that names the field, and a 503 (never a 202) when the broker is away."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx

from api.keys import Scope
from tests.integration.api.conftest import Api, requests_on_topic

BODY = {
    "source": "checkout",
    "category": "transactional",
    "template_id": "order_shipped",
    "recipients": ["u-1", "u-2", "u-3"],
    "data": {"name": "Ann", "order_id": "42"},
    "channels": ["push", "email"],
}


JSON = {"Content-Type": "application/json"}


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def test_a_request_is_on_kafka_when_the_answer_is_202(api: Api) -> None:
    token = api.token(Scope.PUBLISH)
    answer = httpx.post(f"{api.url}/v1/notifications", json=BODY, headers=bearer(token))
    assert answer.status_code == 202
    accepted = answer.json()
    assert accepted["recipients"] == 3
    seed = {"user_ids": ["u-9"], "template_id": "order_shipped", "data": {"order_id": 7}}
    second = httpx.post(f"{api.url}/api/v1/notifications/send", json=seed, headers=bearer(token))
    assert second.status_code == 202, second.text

    found = {key.decode(): record for key, record in requests_on_topic(api)}
    assert set(found) == {accepted["request_id"], second.json()["request_id"]}
    first = found[accepted["request_id"]]
    assert first["recipients"] == ["u-1", "u-2", "u-3"]
    assert first["channels"] == ["push", "email"]
    assert first["data"] == {"name": "Ann", "order_id": "42"}
    from_seed = found[second.json()["request_id"]]
    assert from_seed["recipients"] == ["u-9"]
    assert from_seed["data"] == {"order_id": "7"}
    assert from_seed["source"] == "api"
    metrics = httpx.get(f"{api.url}/metrics").text
    assert (
        'herald_api_requests_total{method="POST",route="/v1/notifications",status="202"} 1.0'
        in metrics
    )
    assert "herald_api_published_recipients_total 4.0" in metrics


def test_the_lane_and_the_fastapi_route_publish_and_answer_alike(api: Api) -> None:
    # application/json with a valid key is the lane's plain case; another JSON type goes on to
    # the FastAPI route: the same records, the same answers
    token = api.token(Scope.PUBLISH)
    url = f"{api.url}/v1/notifications"
    content = json.dumps(BODY)
    lane = httpx.post(
        url, content=content, headers=bearer(token, **JSON, **{"Idempotency-Key": "a"})
    )
    route = httpx.post(
        url,
        content=content,
        headers=bearer(
            token, **{"Content-Type": "application/merge-patch+json", "Idempotency-Key": "b"}
        ),
    )
    assert (lane.status_code, route.status_code) == (202, 202), route.text
    assert lane.json() == {"request_id": "a", "recipients": 3}
    assert route.json() == {"request_id": "b", "recipients": 3}
    found = dict(requests_on_topic(api))
    assert set(found) == {b"a", b"b"}
    same = ("recipients", "channels", "data", "template_id", "category", "source")
    assert {k: found[b"a"][k] for k in same} == {k: found[b"b"][k] for k in same}

    # what the lane does not take gets the route's documented answers
    bad = httpx.post(
        url, content=json.dumps(dict(BODY, channels=["fax"])), headers=bearer(token, **JSON)
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"][:2] == ["body", "channels"]
    assert httpx.post(url, content=content, headers=JSON).status_code == 401
    read_only = api.token(Scope.READ)
    assert httpx.post(url, content=content, headers=bearer(read_only, **JSON)).status_code == 403


def test_fifty_concurrent_posts_with_one_key_publish_one_request(api: Api) -> None:
    token = api.token(Scope.PUBLISH)
    headers = bearer(token, **{"Idempotency-Key": "order-42-shipped"})

    async def fifty() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
            return await asyncio.gather(
                *(client.post("/v1/notifications", json=BODY, headers=headers) for _ in range(50))
            )

    answers = asyncio.run(fifty())
    assert {a.status_code for a in answers} == {202}
    assert {a.text for a in answers} == {'{"request_id":"order-42-shipped","recipients":3}'}
    found = requests_on_topic(api)
    assert [key for key, _ in found] == [b"order-42-shipped"]

    other = dict(BODY, recipients=["u-4"])
    reused = httpx.post(f"{api.url}/v1/notifications", json=other, headers=headers)
    assert reused.status_code == 422
    assert reused.json()["detail"][0]["loc"] == ["body", "Idempotency-Key"]


def test_a_bad_field_is_a_422_that_names_it(api: Api) -> None:
    token = api.token(Scope.PUBLISH)
    cases = {
        "channels": dict(BODY, channels=["pigeon"]),
        "recipients": dict(BODY, recipients=[]),
        "expires_at": dict(BODY, send_at="2030-01-02T00:00:00Z", expires_at="2030-01-01T00:00:00Z"),
        "template_id": {k: v for k, v in BODY.items() if k != "template_id"},
        "colour": dict(BODY, colour="blue"),
    }
    for field, body in cases.items():
        answer = httpx.post(f"{api.url}/v1/notifications", json=body, headers=bearer(token))
        assert answer.status_code == 422, field
        named = {tuple(error["loc"][1:2]) for error in answer.json()["detail"]}
        assert (field,) in named, (field, answer.json())
    assert requests_on_topic(api, idle_s=1.0) == []


def test_no_broker_is_a_503_with_retry_after(start_api: Callable[..., Api]) -> None:
    api = start_api(kafka={"bootstrap_servers": "127.0.0.1:1"}, api={"publish_timeout_s": 2.0})
    token = api.token(Scope.PUBLISH)
    answer = httpx.post(f"{api.url}/v1/notifications", json=BODY, headers=bearer(token), timeout=30)
    assert answer.status_code == 503
    assert int(answer.headers["Retry-After"]) > 0
    ready = httpx.get(f"{api.url}/readyz", timeout=30)
    assert ready.status_code == 503
    assert ready.json()["checks"] == {
        "kafka": False,
        "templates": False,
        "registry": True,
        "cassandra": True,
        "redis": True,
    }
