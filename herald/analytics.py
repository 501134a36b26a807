"""Delivery analytics (pure): how many messages got how far, sent to delivered, opened and
clicked, per channel and provider.

Two views of the same funnel:
- a request's, from the latest state of each of its notifications (``funnel``): a message
  opened was delivered and sent, so each stage counts the messages that reached it or went
  beyond; a bounce was sent and not delivered;
- the sink's, from the status events it stores (``RateCounter``): events of each stage against
  the ``sent`` events of the same channel and provider, as Prometheus gauges. Opens and clicks
  reported by apps and tracked links name no provider: they count under provider ``all``, the
  channel's whole, which every event also counts in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from herald.models import Channel, State

STAGES = (State.SENT, State.DELIVERED, State.OPENED, State.CLICKED)
ALL = "all"


@dataclass(frozen=True, slots=True)
class Funnel:
    sent: int
    delivered: int
    opened: int
    clicked: int
    bounced: int

    def rate(self, count: int) -> float | None:
        """``count`` of the sent (None before anything was sent)."""
        return None if self.sent == 0 else count / self.sent


def funnel(latest: Mapping[State, int]) -> Funnel:
    """From notifications counted by their latest state."""
    reached = {
        stage: sum(latest.get(later, 0) for later in STAGES[index:])
        for index, stage in enumerate(STAGES)
    }
    bounced = latest.get(State.BOUNCED, 0)
    return Funnel(
        sent=reached[State.SENT] + bounced,
        delivered=reached[State.DELIVERED],
        opened=reached[State.OPENED],
        clicked=reached[State.CLICKED],
        bounced=bounced,
    )


Key = tuple[str, str]  # (channel, provider or ALL)


@dataclass
class RateCounter:
    """Status events counted per channel and provider since the process started."""

    counts: dict[Key, Counter[State]] = field(default_factory=dict)

    def add(self, events: Iterable[tuple[Channel | None, str | None, State]]) -> set[Key]:
        """Count ``(channel, provider, state)`` events; the keys whose rates changed."""
        changed: set[Key] = set()
        for channel, provider, state in events:
            if channel is None or (state not in STAGES and state is not State.BOUNCED):
                continue
            keys = [(channel.value, ALL)] + ([(channel.value, provider)] if provider else [])
            for key in keys:
                self.counts.setdefault(key, Counter())[state] += 1
                changed.add(key)
        return changed

    def rates(self, key: Key) -> dict[State, float]:
        """Each stage after sent (and bounced) against sent; none before anything was sent."""
        counts = self.counts.get(key, Counter())
        sent = counts[State.SENT]
        if sent == 0:
            return {}
        return {state: counts[state] / sent for state in (*STAGES[1:], State.BOUNCED)}
