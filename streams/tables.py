"""The user-state table, written through Herald's producer.

Faust writes a changelog record for each key set through its own producer (``Topic.send``,
tens of microseconds of Python a record). Herald keeps the table Faust's, so Faust still
recovers it from its changelog at start-up and on rebalances, but writes the local entry and
its changelog record itself, in Faust's own format (the key JSON-encoded as Faust encodes a
``str`` key; the value raw bytes: the state as JSON, by orjson), on the partition of the event
that decided it, which is the user's own.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from streams.outbox import Outbox
from streams.state import State


def compact(raw: bytes) -> bytes:
    """``raw`` in a buffer of its own size. orjson's bytes keep the 4 KiB it wrote them into
    (3.13: a 122-byte state held 4,097 bytes): kept in the table for every user, that was
    4 KiB a user, 400 MB in a 100,000-recipient campaign."""
    return bytes(memoryview(raw))


class StateTable:
    def __init__(self, table: Any, outbox: Outbox) -> None:
        self._table = table  # a faust Table of str keys and bytes values
        self._outbox = outbox
        self._topic = table.changelog_topic.get_topic_name()

    def get(self, user_id: str) -> State | None:
        raw = self._table.data.get(user_id)
        return None if raw is None else dict(orjson.loads(raw))

    def set(self, user_id: str, partition: int, state: State) -> None:
        raw = compact(orjson.dumps(state))
        self._table.data[user_id] = raw
        # the key exactly as Faust's JSON codec writes it (ASCII, escaped): compaction and
        # recovery match keys by their bytes
        self._outbox.changelog(self._topic, partition, json.dumps(user_id).encode(), raw)
