"""The per-user decision: what happens to one notification on each of its channels.

``decide`` is a pure function of the event, the user's preferences and contacts, what was
already queued, the rate-limit logs and the clock; the agent around it does the I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from herald.errors import ConfigurationError
from herald.models import (
    Channel,
    Platform,
    Priority,
    Reason,
    UserContacts,
    UserNotification,
    UserPreferences,
)
from herald.settings import PipelineSettings
from streams import limiter
from streams.quiet_hours import quiet_until


@dataclass(frozen=True)
class Policy:
    """The pipeline-wide rules: mandatory categories and rate limits (sends per window)."""

    mandatory_categories: frozenset[str]
    limits: Mapping[Channel, int]
    category_limits: Mapping[str, Mapping[Channel, int]]
    window_s: float

    def __post_init__(self) -> None:
        missing = set(Channel) - set(self.limits)
        if missing:
            raise ConfigurationError(f"no rate limit for channels {sorted(missing)}")
        if self.window_s <= 0:
            raise ConfigurationError(f"rate window must be positive, not {self.window_s}")

    @classmethod
    def from_settings(cls, s: PipelineSettings) -> Policy:
        return cls(
            mandatory_categories=frozenset(s.mandatory_categories),
            limits=MappingProxyType(dict(s.rate_limits)),
            category_limits=MappingProxyType(
                {k: MappingProxyType(dict(v)) for k, v in s.category_rate_limits.items()}
            ),
            window_s=float(s.rate_window_s),
        )


@dataclass(frozen=True)
class Address:
    value: str
    platform: Platform | None = None


@dataclass(frozen=True)
class Send:
    """Render and emit a ChannelMessage per address, and a ``queued`` status."""

    channel: Channel
    addresses: tuple[Address, ...]


@dataclass(frozen=True)
class Suppress:
    channel: Channel | None  # None: the whole notification
    reason: Reason


@dataclass(frozen=True)
class Defer:
    """Decide again for ``channels`` at ``until``."""

    channels: tuple[Channel, ...]
    until: datetime
    reason: Reason  # QUIET_HOURS or NOT_DUE


@dataclass(frozen=True)
class Expire:
    """The whole notification expired before it could be sent."""


Outcome = Send | Suppress | Defer | Expire

_NO_PREFS = UserPreferences(user_id="")


def wanted_channels(
    note: UserNotification, template_channels: tuple[Channel, ...]
) -> tuple[Channel, ...]:
    """The note's own channels, else the template's; in order, without repeats."""
    chosen = note.channels if note.channels is not None else template_channels
    return tuple(dict.fromkeys(chosen))


def addresses(channel: Channel, contacts: UserContacts | None) -> tuple[Address, ...]:
    """Where ``channel`` reaches the user: one address per device for push; may be empty."""
    if contacts is None:
        return ()
    if channel is Channel.PUSH:
        found = [Address(d.token, d.platform) for d in contacts.devices if d.token]
    elif channel is Channel.SMS:
        found = [Address(contacts.phone)] if contacts.phone else []
    else:
        found = [Address(contacts.email)] if contacts.email else []
    return tuple(dict.fromkeys(found))


def _suppression(
    channel: Channel,
    note: UserNotification,
    prefs: UserPreferences,
    found: tuple[Address, ...],
    already_queued: Collection[Channel],
    policy: Policy,
) -> Reason | None:
    """Rules that hold whatever the priority, in order: opt-outs, address, duplicate."""
    if channel in prefs.opted_out_channels:
        return Reason.OPTED_OUT_CHANNEL
    category = note.category
    if category in prefs.opted_out_categories and category not in policy.mandatory_categories:
        return Reason.OPTED_OUT_CATEGORY
    if not found:
        return Reason.NO_ADDRESS
    if channel in already_queued:
        return Reason.DUPLICATE
    return None


def _rate_limited(
    channel: Channel,
    note: UserNotification,
    prefs: UserPreferences,
    recent: Mapping[Channel, Sequence[float]],
    now: datetime,
    policy: Policy,
) -> bool:
    """Whether a non-critical send on ``channel`` now would go over the user's limit."""
    if note.priority is Priority.CRITICAL:
        return False
    limit = limiter.limit_for(channel, note.category, prefs, policy)
    log = recent.get(channel, ())
    return not limiter.allowed(log, now.timestamp(), limit, policy.window_s)


def decide(
    note: UserNotification,
    prefs: UserPreferences | None,
    contacts: UserContacts | None,
    template_channels: tuple[Channel, ...],
    already_queued: Collection[Channel],
    recent: Mapping[Channel, Sequence[float]],
    now: datetime,
    policy: Policy,
) -> list[Outcome]:
    """One outcome per wanted channel, the quiet-hours deferrals merged into one ``Defer``."""
    if note.expires_at is not None and note.expires_at <= now:
        return [Expire()]
    wanted = wanted_channels(note, template_channels)
    if not wanted:
        return []
    if note.send_at is not None and note.send_at > now:
        return [Defer(channels=wanted, until=note.send_at, reason=Reason.NOT_DUE)]
    prefs = prefs if prefs is not None else _NO_PREFS
    critical = note.priority is Priority.CRITICAL
    quiet = None if critical else quiet_until(now, prefs.quiet_hours)
    outcomes: list[Outcome] = []
    deferred: list[Channel] = []
    position = 0
    for channel in wanted:
        found = addresses(channel, contacts)
        reason = _suppression(channel, note, prefs, found, already_queued, policy)
        if reason is None and quiet is not None:
            if not deferred:
                position = len(outcomes)
            deferred.append(channel)
            continue
        if reason is None and _rate_limited(channel, note, prefs, recent, now, policy):
            reason = Reason.RATE_LIMITED
        outcomes.append(Send(channel, found) if reason is None else Suppress(channel, reason))
    if deferred and quiet is not None:
        outcomes.insert(position, Defer(tuple(deferred), quiet, Reason.QUIET_HOURS))
    return outcomes
