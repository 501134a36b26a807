"""A request split by the per-user partition of its recipients (pure).

The fan-out does not write a record per recipient: it writes, to each per-user partition, the
request restricted to the recipients whose user id hashes there, at most ``size`` a record.
The decide agent then reads one event for hundreds of users, decodes the request once, and
decides each user against that user's own table entries, all on the same partition.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

from aiokafka.partitioner import murmur2

from herald.models import NotificationRequest


def partition_for(key: bytes, partitions: int) -> int:
    """Where ``key`` goes: murmur2 like Java, aiokafka, Faust and librdkafka's
    ``murmur2_random``, so a user's shards, profiles and messages share a partition number."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def split(
    request: NotificationRequest, partitions: int, size: int
) -> Iterator[tuple[int, NotificationRequest]]:
    """(partition, the request for some of its recipients there), recipients in their order."""
    by_partition: dict[int, list[str]] = {}
    for user_id in request.recipients:
        by_partition.setdefault(partition_for(user_id.encode(), partitions), []).append(user_id)
    for partition, users in sorted(by_partition.items()):
        for start in range(0, len(users), size):
            yield partition, _only(request, users[start : start + size])


def _only(request: NotificationRequest, recipients: Sequence[str]) -> NotificationRequest:
    return dataclasses.replace(request, recipients=list(recipients))
