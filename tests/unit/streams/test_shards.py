"""The fan-out's shards: every recipient once, on their own partition, at most ``size`` a shard."""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka.partitioner import DefaultPartitioner

from herald.models import NotificationRequest, Priority
from streams.shards import partition_for, split


def _request(recipients: list[str]) -> NotificationRequest:
    return NotificationRequest(
        request_id="r1",
        source="tests",
        category="marketing",
        priority=Priority.LOW,
        template_id="weekly_digest",
        recipients=recipients,
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
        data={"name": "you"},
    )


def test_keys_go_where_java_and_aiokafka_put_them() -> None:
    partitions = list(range(6))
    for i in range(2_000):
        key = f"user-{i}é".encode()
        assert partition_for(key, 6) == DefaultPartitioner()(key, partitions, partitions)


def test_each_recipient_once_on_their_partition_in_order_and_at_most_size_a_shard() -> None:
    recipients = [f"u-{i}" for i in range(1_000)]
    request = _request(recipients)
    shards = list(split(request, 6, size=70))
    seen = [u for _, shard in shards for u in shard.recipients]
    assert sorted(seen) == sorted(recipients)  # every one, once
    for partition, shard in shards:
        assert 1 <= len(shard.recipients) <= 70
        assert {partition_for(u.encode(), 6) for u in shard.recipients} == {partition}
        assert shard.request_id == request.request_id and shard.data == request.data
    for partition in range(6):  # the request's order kept within a partition
        mine = [u for p, shard in shards if p == partition for u in shard.recipients]
        assert mine == [u for u in recipients if partition_for(u.encode(), 6) == partition]
    # a recipient's notification is the same whether decided from the shard or the request
    _, first = shards[0]
    user = first.recipients[0]
    assert first.for_user(user) == request.for_user(user)
