"""What happened in a demo run: counts over its statuses, users' stories, and the text report."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from herald.models import Channel, DeliveryStatus, State
from lab.demo.users import DemoUser, describe_user

WHOLE = "all channels"  # statuses about a whole notification (expired, unknown template)


@dataclass(frozen=True)
class UserStory:
    user_id: str
    profile: str
    events: tuple[str, ...]


DELIVERED = frozenset({State.SENT, State.FAILED, State.DEAD_LETTERED, State.UNKNOWN})


@dataclass(frozen=True)
class TimelineRow:
    """One row of a user's history as read back from Cassandra."""

    at: str  # HH:MM:SS.mmm, UTC
    channel: str
    state: State
    reason: str | None
    provider: str | None


@dataclass(frozen=True)
class DeliveryReport:
    """What the senders did: per channel, messages sent by each provider; retries scheduled."""

    providers: Mapping[str, Mapping[str, int]]  # channel -> provider -> messages sent
    retries: Mapping[str, int]  # "provider code" -> retries scheduled because of it
    timelines: Mapping[str, Sequence[TimelineRow]] = field(default_factory=dict)


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
    delivery: DeliveryReport | None = None

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
    delivery: DeliveryReport | None = None,
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
        delivery=delivery,
    )


def awaiting_delivery(statuses: Sequence[DeliveryStatus]) -> set[tuple[str, Channel | None]]:
    """(notification, channel) pairs routed to a channel topic without a delivery outcome yet."""
    routed = {(s.notification_id, s.channel) for s in statuses if s.state is State.QUEUED}
    return routed - {(s.notification_id, s.channel) for s in statuses if s.state in DELIVERED}


def delivery_report(
    statuses: Sequence[DeliveryStatus], timelines: Mapping[str, Sequence[TimelineRow]]
) -> DeliveryReport:
    """Counted once per message even if a status was emitted twice (statuses are at least
    once): sent by message id, retries by attempt."""
    sent = {
        (s.channel, s.provider, s.provider_message_id)
        for s in statuses
        if s.state is State.SENT and s.channel is not None
    }
    providers: dict[str, Counter[str]] = defaultdict(Counter)
    for channel, provider, _ in sent:
        providers[str(channel)][provider or "?"] += 1
    retried = {
        (s.notification_id, s.channel, s.attempt, s.provider, s.reason)
        for s in statuses
        if s.state is State.DEFERRED and s.provider is not None
    }
    retries = Counter(f"{provider} {reason}" for *_, provider, reason in retried)
    return DeliveryReport(
        providers={channel: dict(counts) for channel, counts in providers.items()},
        retries=dict(retries),
        timelines=dict(timelines),
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
        "the first publish",
    ]
    if summary.delivery is not None:
        lines += ["", *_delivery(summary.delivery)]
    for story in summary.samples:
        lines += ["", f"{story.user_id} ({story.profile}):", *(f"  {e}" for e in story.events)]
    if summary.missing:
        lines += ["", f"MISSING: {len(summary.missing)} notification(s) got no status on time:"]
        lines += [f"  {line}" for line in summary.missing[:10]]
    return "\n".join(lines)


def _delivery(report: DeliveryReport) -> list[str]:
    lines = ["delivered through the provider sandboxes (messages sent, by provider):"]
    for channel in Channel:
        counts = report.providers.get(channel, {})
        text = ", ".join(f"{p} {n:,}" for p, n in sorted(counts.items())) or "none"
        lines.append(f"  {channel:<7}{text}")
    retries = ", ".join(f"{what} x{n}" for what, n in sorted(report.retries.items()))
    lines.append(f"retries scheduled: {retries or 'none'}")
    for user_id, rows in report.timelines.items():
        lines += ["", f"{user_id}'s history, newest first (read back from Cassandra):"]
        for row in rows[:12]:
            why = f" ({row.reason})" if row.reason else ""
            via = f" via {row.provider}" if row.provider else ""
            lines.append(f"  {row.at}  {row.channel:<6} {row.state}{why}{via}")
        if len(rows) > 12:
            lines.append(f"  ... and {len(rows) - 12} earlier")
    return lines


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]
