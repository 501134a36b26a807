"""The campaign benchmark's pure parts: how many shards to expect, and each stage's figures."""

from __future__ import annotations

from datetime import UTC, datetime

from herald.models import NotificationRequest, Priority
from lab.bench.campaign import STAGES, Sample, per_process, rates, shard_count
from streams.shards import split


def test_the_expected_shards_are_what_the_fan_out_writes() -> None:
    recipients = [f"c-{i}" for i in range(5_003)]
    request = NotificationRequest(
        request_id="r",
        source="s",
        category="c",
        priority=Priority.LOW,
        template_id="t",
        recipients=recipients,
        created_at=datetime.now(UTC),
    )
    assert shard_count(recipients, 6, 500) == len(list(split(request, 6, 500)))


def _sample(at: float, done: int, cpu: float) -> Sample:
    return Sample(at, dict.fromkeys(STAGES, done), {"streams": cpu}, {"streams": 100.0 + at})


def test_a_stage_rate_is_its_slope_between_a_tenth_and_nine_tenths_done() -> None:
    # 1,000 a second from t=2 to t=12, then flat
    samples = [_sample(t, max(0, min(10_000, 1_000 * (t - 2))), 0.5 * t) for t in range(20)]
    figures = rates(samples)
    assert figures["decided"]["sustained_per_s"] == 1000.0
    assert figures["decided"]["finished_at_s"] == 12
    process = per_process(samples, {"streams": 10_000})["streams"]
    assert process == {"cpu_s": 9.5, "cpu_us_per_item": 950.0, "peak_rss_mb": 119.0}
