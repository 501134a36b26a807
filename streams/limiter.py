"""Per-user, per-channel rate limits as a sliding-window log of send times (epoch seconds).

The log is a plain tuple the caller keeps (in a table or store); these functions only read it
and return a new one. A send at ``t`` counts while ``t > now - window_s``: a send exactly one
window old has left the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from herald.models import Channel, UserPreferences

if TYPE_CHECKING:
    from streams.decision import Policy


def limit_for(
    channel: Channel, category: str, prefs: UserPreferences | None, policy: Policy
) -> int:
    """The user's override, else the category's limit, else the channel's default."""
    if prefs is not None and channel in prefs.limit_overrides:
        return prefs.limit_overrides[channel]
    by_category = policy.category_limits.get(category, {})
    if channel in by_category:
        return by_category[channel]
    return policy.limits[channel]


def _in_window(recent: Sequence[float], now: float, window_s: float) -> list[float]:
    return [t for t in recent if t > now - window_s]


def allowed(recent: Sequence[float], now: float, limit: int, window_s: float) -> bool:
    """Whether one more send at ``now`` keeps the window at ``limit`` sends or fewer."""
    return len(_in_window(recent, now, window_s)) < limit


def record(recent: Sequence[float], now: float, window_s: float) -> tuple[float, ...]:
    """The log after a send at ``now``: entries outside the window dropped, ``now`` appended."""
    return (*_in_window(recent, now, window_s), now)
