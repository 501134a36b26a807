"""The state table's values hold no more memory than their bytes need."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import orjson

from streams.tables import compact


def _held(values: int, make: Callable[[], bytes]) -> float:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [make() for _ in range(values)]
        return (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()


def test_a_compacted_state_holds_about_its_size() -> None:
    state = {"sent": {"push": [1.5e9]}, "seen": {"n-1": {"c": ["push"], "t": 1.5e9}}}
    raw = orjson.dumps(state)
    assert compact(raw) == raw
    assert _held(2_000, lambda: compact(orjson.dumps(state))) < len(raw) + 200
