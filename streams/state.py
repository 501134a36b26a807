"""Per-user state kept in a Faust table (co-partitioned with the user's events), pure.

``sent``: channel -> epoch seconds of recent sends (the rate limiter's sliding log).
``seen``: notification_id -> the channels it was queued on, and when (for dedupe).
Stored as a JSON-able dict; entries older than their window are dropped on every write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from herald.models import Channel
from streams import limiter

State = dict[str, Any]
MAX_SEEN = 5_000  # per user: the oldest ids are forgotten first beyond this


def queued_channels(state: State | None, notification_id: str) -> frozenset[Channel]:
    entry = (state or {}).get("seen", {}).get(notification_id)
    return frozenset(Channel(c) for c in entry["c"]) if entry else frozenset()


def recent_sends(state: State | None) -> dict[Channel, Sequence[float]]:
    return {Channel(c): times for c, times in (state or {}).get("sent", {}).items()}


def after_sends(
    state: State | None,
    notification_id: str,
    channels: Sequence[Channel],
    now: float,
    window_s: float,
    dedupe_ttl_s: float,
) -> State:
    """The state once ``channels`` of ``notification_id`` were queued at ``now``."""
    old_sent: Mapping[str, Sequence[float]] = (state or {}).get("sent", {})
    sent = {c: [t for t in times if t > now - window_s] for c, times in old_sent.items()}
    for channel in channels:
        sent[channel.value] = list(limiter.record(sent.get(channel.value, ()), now, window_s))
    seen = {
        nid: entry
        for nid, entry in (state or {}).get("seen", {}).items()
        if entry["t"] > now - dedupe_ttl_s
    }
    previous = seen.get(notification_id, {"c": []})["c"]
    seen[notification_id] = {"c": sorted({*previous, *(c.value for c in channels)}), "t": now}
    if len(seen) > MAX_SEEN:
        seen = dict(sorted(seen.items(), key=lambda item: item[1]["t"])[-MAX_SEEN:])
    return {"sent": {c: t for c, t in sent.items() if t}, "seen": seen}
