"""The fan-out writes shards (a request's recipients of one partition) and the decide agent
takes them in batches: each user must still be decided alone, and their state and messages
land on the user's own partition."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer

from herald.contracts import REQUEST, TopicCodec
from herald.models import Channel, Reason, State, UserPreferences
from herald.settings import HeraldSettings
from streams.app import app_id
from streams.shards import partition_for
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


def _shard_partitions(pipeline: Pipeline, wanted: set[str]) -> dict[str, set[int]]:
    """recipient -> partitions of the per-user topic whose shards named them."""
    codec = TopicCodec(pipeline.codec, pipeline.names.per_user, REQUEST)
    consumer = Consumer(
        pipeline.settings.kafka.client_config(
            **{"group.id": f"test-shards-{uuid.uuid4().hex}", "auto.offset.reset": "earliest"}
        )
    )
    consumer.subscribe([pipeline.names.per_user])
    seen: dict[str, set[int]] = {}
    deadline = time.monotonic() + 60
    try:
        while not wanted <= seen.keys() and time.monotonic() < deadline:
            for message in consumer.consume(500, 0.5):
                if message.error() is None:
                    for user_id in codec.decode(message.value()).recipients:
                        seen.setdefault(user_id, set()).add(message.partition())
    finally:
        consumer.close()
    return seen


def test_one_batch_of_many_users_decides_each_once_against_their_own_profile(
    pipeline: Pipeline,
) -> None:
    """One request to 120 users spread over every partition: its shards reach the decide
    agent together. Each user is decided once, by their own preferences (some opted out of
    push, some with a push limit of 0), and their state and message land on their own
    partition."""
    plain = [user("batch") for _ in range(40)]
    opted_out = [user("batch-out") for _ in range(40)]
    limited = [user("batch-lim") for _ in range(40)]
    users = [u for trio in zip(plain, opted_out, limited, strict=True) for u in trio]
    pipeline.profiles(
        prefs=[
            *(UserPreferences(u, opted_out_channels=frozenset({Channel.PUSH})) for u in opted_out),
            *(UserPreferences(u, limit_overrides={Channel.PUSH: 0}) for u in limited),
        ],
        contacts=[reachable(u) for u in users],
    )
    reader = pipeline.statuses()
    sent = request(users, channels=(Channel.PUSH,))
    pipeline.publisher.publish(sent)
    outcome = pipeline.outcome([sent], per_user=1)
    assert {u: outcome[(u, Channel.PUSH)].state for u in plain} == dict.fromkeys(
        plain, State.QUEUED
    )
    assert {u: outcome[(u, Channel.PUSH)].reason for u in opted_out} == dict.fromkeys(
        opted_out, Reason.OPTED_OUT_CHANNEL
    )
    assert {u: outcome[(u, Channel.PUSH)].reason for u in limited} == dict.fromkeys(
        limited, Reason.RATE_LIMITED
    )
    time.sleep(1)  # anything decided twice would have its second status by now
    reader.poll()
    per_user = Counter(s.user_id for s in reader.seen if s.request_id == sent.request_id)
    assert per_user == dict.fromkeys(users, 1)

    partitions = pipeline.settings.pipeline.partitions
    home = {u: {partition_for(u.encode(), partitions)} for u in users}
    shards = _shard_partitions(pipeline, set(users))
    assert {u: shards.get(u) for u in users} == home
    assert len({p for u in users for p in home[u]}) == partitions
    state = _partitions_by_key(
        pipeline, f"{app_id(pipeline.settings)}-user-state-changelog", set(plain)
    )
    push = _partitions_by_key(pipeline, pipeline.names.channel("push"), set(plain))
    assert {u: state.get(u) for u in plain} == {u: home[u] for u in plain}
    assert {u: push.get(u) for u in plain} == {u: home[u] for u in plain}
    assert not set(state) & {*opted_out, *limited}  # nothing queued: no state written
