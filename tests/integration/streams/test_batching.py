"""The decide agent takes events in batches: each user's state and messages must still land on
the user's own partition (Faust picks a table write's changelog partition from the current
event, which a batch has to set per event)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer

from herald.models import Channel, State
from herald.settings import HeraldSettings
from streams.app import app_id
from tests.integration.pipeline import Pipeline, reachable, request, running_pipeline, user


@pytest.fixture(scope="module")
def pipeline(stack: HeraldSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    with running_pipeline(stack, tmp_path_factory.mktemp("batching")) as running:
        yield running


def _partitions_by_key(
    pipeline: Pipeline, topic: str, wanted: set[str], timeout_s: float = 60
) -> dict[str, set[int]]:
    """key (decoded by Faust's JSON key serializer when quoted) -> partitions it was seen on."""
    consumer = Consumer(
        pipeline.settings.kafka.client_config(
            **{"group.id": f"test-partitions-{uuid.uuid4().hex}", "auto.offset.reset": "earliest"}
        )
    )
    consumer.subscribe([topic])
    seen: dict[str, set[int]] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while not wanted <= seen.keys() and time.monotonic() < deadline:
            for message in consumer.consume(500, 0.5):
                if message.error() is None and message.key() is not None:
                    raw = message.key().decode()
                    key = json.loads(raw) if raw.startswith('"') else raw
                    seen.setdefault(key, set()).add(message.partition())
    finally:
        consumer.close()
    return seen


def test_a_batch_writes_each_users_state_and_messages_to_the_users_partition(
    pipeline: Pipeline,
) -> None:
    users = [user("batch") for _ in range(120)]  # spread over every partition
    pipeline.profiles(contacts=[reachable(u) for u in users])
    sent = request(users, channels=(Channel.PUSH,))
    pipeline.publisher.publish(sent)
    outcome = pipeline.outcome([sent], per_user=1)
    assert {s.state for s in outcome.values()} == {State.QUEUED}

    wanted = set(users)
    home = _partitions_by_key(pipeline, pipeline.names.per_user, wanted)
    state = _partitions_by_key(
        pipeline, f"{app_id(pipeline.settings)}-user-state-changelog", wanted
    )
    push = _partitions_by_key(pipeline, pipeline.names.channel("push"), wanted)
    assert len({p for u in users for p in home[u]}) == pipeline.settings.pipeline.partitions
    assert {u: state.get(u) for u in users} == {u: home[u] for u in users}
    assert {u: push.get(u) for u in users} == {u: home[u] for u in users}
