"""The SDK's HTTP client against a real `herald api`: sends that reach Kafka once, however
often they are retried, and the API's answers as Herald's errors."""

from __future__ import annotations

import asyncio

import pytest

from api.keys import Scope
from herald.client import ApiUnavailable, AsyncHeraldClient, HeraldClient, NotAuthorized
from herald.errors import ValidationError
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
