"""What happened in a demo run: counts over its statuses, users' stories, and the text report."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from herald.demo.users import DemoUser, describe_user
from herald.models import Channel, DeliveryStatus, State

WHOLE = "all channels"  # statuses about a whole notification (expired, unknown template)


@dataclass(frozen=True)
class UserStory:
    user_id: str
    profile: str
    events: tuple[str, ...]


@dataclass(frozen=True)
class Summary:
    requests: int
    notifications: int  # (request, recipient) pairs
    status_events: int
    by_state: Mapping[str, int]  # final state of each (notification, channel)
    by_channel: Mapping[str, Mapping[str, int]]  # channel (or WHOLE) -> state -> count
    suppressed: Mapping[str, int]  # reason -> count
    channel_messages: Mapping[str, int]  # channel -> messages on its topic
    dead_letters: int
    missing: tuple[str, ...]
    elapsed_s: float
    samples: tuple[UserStory, ...] = ()

    @property
    def throughput(self) -> float:
        """Notifications decided per second."""
        return self.notifications / self.elapsed_s if self.elapsed_s > 0 else 0.0


def final_statuses(statuses: Sequence[DeliveryStatus]) -> list[DeliveryStatus]:
    """The latest status of each (notification, channel), in order of first appearance."""
    latest: dict[tuple[str, Channel | None], DeliveryStatus] = {}
    for status in statuses:
        latest[(status.notification_id, status.channel)] = status
    return list(latest.values())


def summarize(
    statuses: Sequence[DeliveryStatus],
    *,
    started_at: datetime | None = None,
    channel_messages: Mapping[str, int] | None = None,
    dead_letters: int = 0,
    missing: Sequence[str] = (),
    samples: Sequence[UserStory] = (),
) -> Summary:
    """Counts over this run's statuses; elapsed runs from ``started_at`` to the last one."""
    final = final_statuses(statuses)
    by_channel: dict[str, Counter[str]] = defaultdict(Counter)
    for status in final:
        by_channel[status.channel or WHOLE][status.state] += 1
    last = max((s.occurred_at for s in statuses), default=None)
    elapsed = (last - started_at).total_seconds() if last and started_at else 0.0
    return Summary(
        requests=len({s.request_id for s in statuses}),
        notifications=len({s.notification_id for s in statuses}),
        status_events=len(statuses),
        by_state=dict(Counter(str(s.state) for s in final)),
        by_channel={channel: dict(counts) for channel, counts in by_channel.items()},
        suppressed=dict(Counter(s.reason or "?" for s in final if s.state is State.SUPPRESSED)),
        channel_messages=dict(channel_messages or {}),
        dead_letters=dead_letters,
        missing=tuple(missing),
        elapsed_s=max(elapsed, 0.0),
        samples=tuple(samples),
    )


def _outcome(status: DeliveryStatus) -> str:
    text = f"{status.channel or WHOLE} {status.state}"
    return f"{text} ({status.reason})" if status.reason and status.reason != status.state else text


def user_story(
    user: DemoUser, statuses: Sequence[DeliveryStatus], labels: Mapping[str, str]
) -> UserStory:
    """What happened to ``user``, request label by request label (in publishing order)."""
    per_label: dict[str, Counter[str]] = {label: Counter() for label in labels.values()}
    for status in final_statuses(statuses):
        if status.user_id == user.user_id and status.request_id in labels:
            per_label[labels[status.request_id]][_outcome(status)] += 1
    events = tuple(
        f"{label}: " + ", ".join(f"{o} x{n}" if n > 1 else o for o, n in outcomes.items())
        for label, outcomes in per_label.items()
        if outcomes
    )
    return UserStory(user.user_id, describe_user(user), events)


COLUMNS = (State.QUEUED, State.SUPPRESSED, State.DEFERRED, State.EXPIRED, *State)


def _table(summary: Summary) -> list[str]:
    states = [s for s in dict.fromkeys(COLUMNS) if s in summary.by_state]
    rows = [c for c in [*Channel, WHOLE] if c in summary.by_channel]
    head = f"{'':<13}" + "".join(f"{s:>12}" for s in states) + f"{'total':>9}"
    lines = [head]
    for row in [*rows, "total"]:
        counts = summary.by_state if row == "total" else summary.by_channel[row]
        cells = "".join(f"{counts.get(s, 0):>12,}" for s in states)
        lines.append(f"{row:<13}{cells}{sum(counts.values()):>9,}")
    return lines


def format_summary(summary: Summary) -> str:
    lines = [
        "",
        f"{summary.requests} requests fanned out to {summary.notifications:,} notifications; "
        "final state of each (notification, channel):",
        *_table(summary),
        "",
        "suppressed, by reason:",
        *(f"  {r:<20}{n:>7,}" for r, n in sorted(summary.suppressed.items(), key=_by_count)),
        "",
        "messages on channel topics (push: one per device): "
        + ", ".join(f"{c} {n:,}" for c, n in summary.channel_messages.items()),
        f"dead letters: {summary.dead_letters} (records that could not be decoded or validated)",
        f"{summary.status_events:,} status events; the last came {summary.elapsed_s:.1f}s after "
        f"the first publish ({summary.throughput:,.0f} notifications decided a second)",
    ]
    for story in summary.samples:
        lines += ["", f"{story.user_id} ({story.profile}):", *(f"  {e}" for e in story.events)]
    if summary.missing:
        lines += ["", f"MISSING: {len(summary.missing)} notification(s) got no status on time:"]
        lines += [f"  {line}" for line in summary.missing[:10]]
    return "\n".join(lines)


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]
