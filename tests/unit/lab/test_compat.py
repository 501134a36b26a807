from __future__ import annotations

from herald.contracts import SCHEMA_DIR
from lab.compat import distinct, history


def test_distinct_drops_consecutive_repeats_only() -> None:
    a, b = {"type": "int"}, {"type": "long"}
    assert distinct([a, a, b, b, a]) == [a, b, a]


def test_history_ends_with_the_working_copy() -> None:
    import json

    path = SCHEMA_DIR / "delivery_status.avsc"
    versions = history(path)
    assert versions[-1] == json.loads(path.read_text())
