"""`herald bench plot`: which benchmark a file is from, a channel's achieved rate, and PNGs."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.bench.plot import achieved_per_channel, kind, plot


def _step(offered: int, achieved: float) -> dict[str, float]:
    return {"offered_per_s": offered, "achieved_per_s": achieved}


PIPELINE = {
    "recipients_per_request": 100,
    "herald_vs_relay": 0.5,
    "herald": {"sustained_per_s": 1000, "steps": [_step(1000, 990), _step(2000, 1200)]},
    "relay": {"sustained_per_s": 2000, "steps": [_step(1000, 1000), _step(2000, 1990)]},
}
DELIVERY = {
    "senders_per_channel": 1,
    "step_seconds": 10.0,
    "steps": [
        {
            "offered_per_s": 300,
            "achieved_messages_per_s": 250.0,
            "final_lag": {"push": 0, "sms": 500, "email": 2_000},
        }
    ],
}
CAMPAIGN = {
    "recipients": 10,
    "total_s": 2.0,
    "samples": [
        {"at_s": 0.0, "stages": {"decided": 0, "sent": 0}},
        {"at_s": 1.0, "stages": {"decided": 10, "sent": 4}},
    ],
}


def test_each_benchmark_is_told_apart() -> None:
    assert [kind(r) for r in (PIPELINE, DELIVERY, CAMPAIGN)] == ["pipeline", "delivery", "campaign"]
    with pytest.raises(ValueError, match="not the figures"):
        kind({"events": 1})


def test_a_channel_achieves_its_share_less_its_backlog_over_the_step() -> None:
    assert achieved_per_channel(DELIVERY["steps"][0], 10.0) == {  # type: ignore[index]
        "push": 100.0,
        "sms": 50.0,
        "email": 0.0,  # never below nothing
    }


@pytest.mark.parametrize("results", [PIPELINE, DELIVERY, CAMPAIGN])
def test_each_is_drawn_as_a_png(results: dict[str, object], tmp_path: Path) -> None:
    written = plot(results, tmp_path / "figures" / "x.png")
    assert written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
