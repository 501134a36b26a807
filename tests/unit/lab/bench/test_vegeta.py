from __future__ import annotations

import base64
import json

import pytest

from lab.bench.api import summary
from lab.bench.vegeta import Attack, Hit, parse_hit, targets

SECOND = 1_000_000_000


def test_targets_are_one_json_post_per_body_with_the_body_in_base64() -> None:
    lines = list(targets("http://h/v1/n", {"Authorization": "Bearer t"}, [b'{"a":1}', b"{}"]))
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["method"] == "POST"
    assert first["url"] == "http://h/v1/n"
    assert first["header"] == {"Authorization": ["Bearer t"]}
    assert base64.b64decode(first["body"]) == b'{"a":1}'


def test_a_result_line_keeps_nanoseconds_of_latency_and_the_error() -> None:
    row = {
        "seq": 7,
        "timestamp": "2026-12-05T06:10:21.5+00:00",
        "latency": 1_234_567,
        "code": 0,
        "error": "Post http://h: read: connection reset by peer",
    }
    hit = parse_hit(row)
    assert hit.seq == 7
    assert hit.latency_ns == 1_234_567
    assert hit.code == 0
    assert hit.started_ns % SECOND == SECOND // 2
    assert "connection reset" in hit.error


def _hit(seq: int, started_s: float, latency_ms: float, code: int = 202) -> Hit:
    error = "" if code else "Post http://h: dial tcp: connection refused"
    return Hit(seq, int(started_s * SECOND), int(latency_ms * 1_000_000), code, error)


def test_latency_counts_from_when_a_request_was_due_not_when_it_left() -> None:
    # at 10/s request 5 was due at 0.5 s; it left late, at 0.8 s, and took 10 ms
    result = summary(Attack([_hit(0, 100.0, 2), _hit(5, 100.8, 10)], cpu_s=0.1), rate=10)
    assert result.latencies_ms == pytest.approx([2.0, 310.0])
    assert result.seconds == pytest.approx(0.81)


def test_the_schedule_starts_early_enough_that_no_latency_is_negative() -> None:
    # the first request left 1 ms after the schedule's start, the second on time
    result = summary(Attack([_hit(0, 100.001, 2), _hit(1, 100.1, 3)], cpu_s=0.0), rate=10)
    assert result.latencies_ms == pytest.approx([3.0, 3.0])


def test_only_202s_have_latencies_and_unanswered_requests_are_errors_by_why() -> None:
    hits = [_hit(0, 1.0, 1), _hit(1, 1.1, 1, code=503), _hit(2, 1.2, 1, code=0)]
    result = summary(Attack(hits, cpu_s=0.0), rate=10)
    assert len(result.latencies_ms) == 1
    assert result.statuses == {"202": 1, "503": 1}
    assert result.errors == {"connection refused": 1}
    assert result.sent == 3
