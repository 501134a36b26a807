"""The delivery benchmark's pure parts: the message mix, and a step's figures and verdict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from herald.models import Channel, ChannelMessage, Platform, Priority
from lab.bench.stats import lag_is_flat

# The message mix, in turn: push (android, then ios on the next push), SMS, email.
MIX: tuple[Channel, ...] = (Channel.PUSH, Channel.SMS, Channel.EMAIL)
SINK = "sink"  # the sink group's name among the lag series; senders go by their channel


def route(i: int) -> tuple[Channel, Platform | None]:
    """The ``i``-th message's channel and, for push, its device platform."""
    channel = MIX[i % len(MIX)]
    if channel is not Channel.PUSH:
        return channel, None
    return channel, (Platform.ANDROID, Platform.IOS)[(i // len(MIX)) % 2]


def shares(rate: float) -> dict[str, float]:
    """What each lag series is offered a second at ``rate``: a third per channel, all of it
    to the sink (one ``sent`` status per message)."""
    return {**{c.value: rate * MIX.count(c) / len(MIX) for c in Channel}, SINK: float(rate)}


def bench_message(i: int, run_id: str) -> ChannelMessage:
    channel, device = route(i)
    address = {
        Channel.PUSH: f"bench-token-{run_id}-{i}",
        Channel.SMS: f"+1555{i % 10_000_000:07d}",
        Channel.EMAIL: f"bench-{i}@bench.herald.example",
    }[channel]
    return ChannelMessage(
        notification_id=f"bench-{run_id}-{i}",
        request_id=f"bench-{run_id}-r{i // 100}",
        user_id=f"bench-u{i % 10_000}",
        channel=channel,
        address=address,
        platform=device,
        title="Your order shipped",
        body="Order 42 is on its way.",
        category="transactional",
        priority=Priority.NORMAL,
    )


def lag_flat(samples: Sequence[tuple[float, float]], offered_per_s: float) -> bool:
    """Flat when the lag's slope over the step's second half is under 5% of what the group is
    offered, or it never trails by more than one second's worth there (commits come in
    rounds, so a small bounded lag is noisy)."""
    half = samples[len(samples) // 2 :]
    return lag_is_flat(samples, offered_per_s) or max((v for _, v in half), default=0) <= max(
        offered_per_s, 1.0
    )


def latencies_ms(published_us: Mapping[str, int], written_us: Mapping[str, int]) -> list[float]:
    """Publish -> status row, in ms, for each sampled message whose row was found."""
    return [
        (written_us[key] - sent) / 1000 for key, sent in published_us.items() if key in written_us
    ]


@dataclass
class Step:
    offered_per_s: int
    published: int
    achieved_messages_per_s: float  # committed by the sender groups
    achieved_rows_per_s: float  # status rows written by the sink (two per status event)
    flat: bool  # every group's lag
    lag_flat: dict[str, bool]
    final_lag: dict[str, int]
    latency_samples: int
    latency_found: int
    p50_ms: float | None
    p99_ms: float | None
    sender_rss_mb: float | None  # all sender workers together
    sink_rss_mb: float | None
    sandbox_rss_mb: float | None
    cpu_cores: dict[str, float]  # CPU seconds a second of the step, per role
    lag_samples: dict[str, list[tuple[float, float]]] = field(repr=False)


def sustained(steps: Sequence[Step]) -> int:
    return max((s.offered_per_s for s in steps if s.flat), default=0)


def describe(step: Step) -> str:
    lags = ", ".join(f"{n} {'flat' if f else 'RISING'}" for n, f in step.lag_flat.items())
    return (
        f"offered {step.offered_per_s:>5}/s  sent {step.achieved_messages_per_s:>7.0f}/s  "
        f"rows {step.achieved_rows_per_s:>7.0f}/s  p50 {step.p50_ms} ms  p99 {step.p99_ms} ms  "
        f"({step.latency_found}/{step.latency_samples} sampled)  lag: {lags}  "
        f"rss senders {step.sender_rss_mb} MB, sink {step.sink_rss_mb} MB, "
        f"sandbox {step.sandbox_rss_mb} MB; cpu cores {step.cpu_cores}"
    )
