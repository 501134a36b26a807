from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from herald.errors import ConfigurationError
from herald.models import (
    Channel,
    Device,
    Platform,
    Priority,
    QuietHours,
    Reason,
    UserContacts,
    UserNotification,
    UserPreferences,
)
from herald.settings import PipelineSettings
from streams.decision import (
    Address,
    Defer,
    Expire,
    Outcome,
    Policy,
    Send,
    Suppress,
    decide,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
PUSH, SMS, EMAIL = Channel.PUSH, Channel.SMS, Channel.EMAIL
ALL = (PUSH, SMS, EMAIL)
POLICY = Policy.from_settings(
    PipelineSettings(
        mandatory_categories=frozenset({"security"}),
        rate_limits={PUSH: 10, SMS: 3, EMAIL: 20},
        category_rate_limits={"marketing": {EMAIL: 1}},
        rate_window_s=3600,
    )
)
NOTE = UserNotification(
    notification_id="n1",
    request_id="r1",
    user_id="u1",
    source="test",
    category="orders",
    priority=Priority.NORMAL,
    template_id="order_shipped",
    created_at=NOW - timedelta(minutes=1),
)
CONTACTS = UserContacts(
    user_id="u1",
    devices=(Device("tok-a", Platform.ANDROID), Device("tok-i", Platform.IOS)),
    phone="+15550100",
    email="u1@example.com",
)
PREFS = UserPreferences(user_id="u1")
# Quiet all day in UTC but for the last minute, so NOW is always inside.
QUIET = QuietHours(0, 23 * 60 + 59, "UTC")
QUIET_END = datetime(2024, 6, 1, 23, 59, tzinfo=UTC)
SENDS = {
    PUSH: Send(PUSH, (Address("tok-a", Platform.ANDROID), Address("tok-i", Platform.IOS))),
    SMS: Send(SMS, (Address("+15550100"),)),
    EMAIL: Send(EMAIL, (Address("u1@example.com"),)),
}


def run(
    note: UserNotification = NOTE,
    prefs: UserPreferences | None = PREFS,
    contacts: UserContacts | None = CONTACTS,
    template_channels: tuple[Channel, ...] = ALL,
    already_queued: Collection[Channel] = (),
    recent: Mapping[Channel, Sequence[float]] | None = None,
    now: datetime = NOW,
) -> list[Outcome]:
    return decide(
        note, prefs, contacts, template_channels, already_queued, recent or {}, now, POLICY
    )


def full(channel: Channel, category: str = "orders") -> dict[Channel, list[float]]:
    """A log holding exactly the channel's limit of sends in the last minutes."""
    limit = POLICY.category_limits.get(category, {}).get(channel, POLICY.limits[channel])
    return {channel: [NOW.timestamp() - 60 * (i + 1) for i in range(limit)]}


# -- policy ------------------------------------------------------------------------------


def test_policy_from_settings() -> None:
    assert POLICY.mandatory_categories == {"security"}
    assert POLICY.limits[SMS] == 3
    assert POLICY.category_limits["marketing"][EMAIL] == 1
    assert POLICY.window_s == 3600.0


def test_a_policy_needs_a_limit_for_every_channel_and_a_positive_window() -> None:
    with pytest.raises(ConfigurationError, match="sms"):
        Policy(frozenset(), {PUSH: 1, EMAIL: 1}, {}, 60.0)
    with pytest.raises(ConfigurationError, match="window"):
        Policy(frozenset(), dict.fromkeys(ALL, 1), {}, 0.0)


# -- timing --------------------------------------------------------------------------------


def test_everything_sends_by_default() -> None:
    assert run() == [SENDS[PUSH], SENDS[SMS], SENDS[EMAIL]]


def test_missing_prefs_mean_defaults() -> None:
    assert run(prefs=None) == run(prefs=PREFS)


@pytest.mark.parametrize("expires_at", [NOW, NOW - timedelta(seconds=1)])
def test_an_expired_note_expires_whole(expires_at: datetime) -> None:
    note = replace(NOTE, expires_at=expires_at, send_at=NOW + timedelta(hours=1))
    assert run(note, contacts=None) == [Expire()]


def test_a_note_expiring_later_is_decided() -> None:
    assert run(replace(NOTE, expires_at=NOW + timedelta(seconds=1)))[0] == SENDS[PUSH]


def test_a_note_not_due_is_deferred_on_all_wanted_channels_whatever_the_prefs() -> None:
    send_at = NOW + timedelta(minutes=5)
    note = replace(NOTE, send_at=send_at, channels=(SMS, PUSH, SMS))
    prefs = replace(PREFS, opted_out_channels=frozenset({SMS}))
    assert run(note, prefs, contacts=None) == [Defer((SMS, PUSH), send_at, Reason.NOT_DUE)]


def test_a_note_due_now_is_decided() -> None:
    assert run(replace(NOTE, send_at=NOW)) == run()


# -- wanted channels -----------------------------------------------------------------------


def test_the_notes_channels_beat_the_templates_in_order_without_repeats() -> None:
    note = replace(NOTE, channels=(EMAIL, PUSH, EMAIL))
    assert run(note, template_channels=(SMS,)) == [SENDS[EMAIL], SENDS[PUSH]]


def test_the_templates_channels_apply_when_the_note_names_none() -> None:
    assert run(template_channels=(SMS, SMS, EMAIL)) == [SENDS[SMS], SENDS[EMAIL]]


def test_no_wanted_channel_means_nothing_to_do() -> None:
    assert run(template_channels=()) == []
    assert run(replace(NOTE, channels=(), send_at=NOW + timedelta(hours=1))) == []


# -- addresses -----------------------------------------------------------------------------


def test_each_channel_needs_its_own_address() -> None:
    contacts = UserContacts("u1", devices=(), phone="+15550100", email=None)
    assert run(contacts=contacts) == [
        Suppress(PUSH, Reason.NO_ADDRESS),
        SENDS[SMS],
        Suppress(EMAIL, Reason.NO_ADDRESS),
    ]


def test_no_contacts_means_no_address_anywhere() -> None:
    assert run(contacts=None) == [Suppress(c, Reason.NO_ADDRESS) for c in ALL]


def test_push_goes_to_each_distinct_device() -> None:
    web = Device("tok-w", Platform.WEB)
    contacts = replace(CONTACTS, devices=(web, web, Device("", Platform.IOS)))
    assert run(contacts=contacts, template_channels=(PUSH,)) == [
        Send(PUSH, (Address("tok-w", Platform.WEB),))
    ]


# -- the order of the rules ----------------------------------------------------------------


def test_a_channel_opt_out_beats_a_missing_address() -> None:
    prefs = replace(PREFS, opted_out_channels=frozenset({SMS}))
    assert run(prefs=prefs, contacts=None)[1] == Suppress(SMS, Reason.OPTED_OUT_CHANNEL)


def test_a_channel_opt_out_beats_a_category_opt_out() -> None:
    prefs = replace(
        PREFS, opted_out_channels=frozenset({SMS}), opted_out_categories=frozenset({"orders"})
    )
    assert run(prefs=prefs) == [
        Suppress(PUSH, Reason.OPTED_OUT_CATEGORY),
        Suppress(SMS, Reason.OPTED_OUT_CHANNEL),
        Suppress(EMAIL, Reason.OPTED_OUT_CATEGORY),
    ]


def test_a_category_opt_out_beats_a_missing_address() -> None:
    prefs = replace(PREFS, opted_out_categories=frozenset({"orders"}))
    assert run(prefs=prefs, contacts=None) == [Suppress(c, Reason.OPTED_OUT_CATEGORY) for c in ALL]


def test_a_mandatory_category_ignores_the_category_opt_out_but_not_the_channel_opt_out() -> None:
    note = replace(NOTE, category="security")
    prefs = replace(
        PREFS, opted_out_channels=frozenset({SMS}), opted_out_categories=frozenset({"security"})
    )
    assert run(note, prefs) == [
        SENDS[PUSH],
        Suppress(SMS, Reason.OPTED_OUT_CHANNEL),
        SENDS[EMAIL],
    ]


def test_a_missing_address_beats_a_duplicate() -> None:
    contacts = replace(CONTACTS, phone=None)
    assert run(contacts=contacts, already_queued={SMS, EMAIL}) == [
        SENDS[PUSH],
        Suppress(SMS, Reason.NO_ADDRESS),
        Suppress(EMAIL, Reason.DUPLICATE),
    ]


def test_a_duplicate_beats_quiet_hours() -> None:
    prefs = replace(PREFS, quiet_hours=QUIET)
    assert run(prefs=prefs, already_queued={PUSH}) == [
        Suppress(PUSH, Reason.DUPLICATE),
        Defer((SMS, EMAIL), QUIET_END, Reason.QUIET_HOURS),
    ]


def test_quiet_hours_beat_the_rate_limit() -> None:
    prefs = replace(PREFS, quiet_hours=QUIET)
    assert run(prefs=prefs, recent=full(SMS), template_channels=(SMS,)) == [
        Defer((SMS,), QUIET_END, Reason.QUIET_HOURS)
    ]


# -- quiet hours ---------------------------------------------------------------------------


def test_quiet_hours_defer_the_remaining_channels_together_where_the_first_was() -> None:
    prefs = replace(PREFS, quiet_hours=QUIET, opted_out_channels=frozenset({PUSH}))
    note = replace(NOTE, channels=(SMS, PUSH, EMAIL))
    assert run(note, prefs) == [
        Defer((SMS, EMAIL), QUIET_END, Reason.QUIET_HOURS),
        Suppress(PUSH, Reason.OPTED_OUT_CHANNEL),
    ]
    note = replace(NOTE, channels=(PUSH, SMS, EMAIL))
    assert run(note, prefs) == [
        Suppress(PUSH, Reason.OPTED_OUT_CHANNEL),
        Defer((SMS, EMAIL), QUIET_END, Reason.QUIET_HOURS),
    ]


def test_outside_quiet_hours_nothing_is_deferred() -> None:
    prefs = replace(PREFS, quiet_hours=QuietHours(22 * 60, 7 * 60, "UTC"))
    assert run(prefs=prefs) == run()


@pytest.mark.parametrize("priority", [Priority.HIGH, Priority.NORMAL, Priority.LOW])
def test_only_critical_notes_bypass_quiet_hours(priority: Priority) -> None:
    note = replace(NOTE, priority=priority)
    prefs = replace(PREFS, quiet_hours=QUIET)
    assert run(note, prefs) == [Defer(ALL, QUIET_END, Reason.QUIET_HOURS)]


# -- rate limits ---------------------------------------------------------------------------


def test_the_send_past_the_limit_is_rate_limited_on_its_channel_only() -> None:
    one_less = {SMS: full(SMS)[SMS][1:]}
    assert run(recent=one_less)[1] == SENDS[SMS]
    assert run(recent=full(SMS)) == [
        SENDS[PUSH],
        Suppress(SMS, Reason.RATE_LIMITED),
        SENDS[EMAIL],
    ]


def test_sends_one_window_old_no_longer_count() -> None:
    window_old = {SMS: [NOW.timestamp() - POLICY.window_s] * 3}
    assert run(recent=window_old)[1] == SENDS[SMS]
    just_inside = {SMS: [NOW.timestamp() - POLICY.window_s + 0.5] * 3}
    assert run(recent=just_inside)[1] == Suppress(SMS, Reason.RATE_LIMITED)


def test_a_category_limit_and_a_users_override_apply() -> None:
    note = replace(NOTE, category="marketing", channels=(EMAIL,))
    one_email = {EMAIL: [NOW.timestamp() - 10]}
    assert run(note, recent=one_email) == [Suppress(EMAIL, Reason.RATE_LIMITED)]
    prefs = replace(PREFS, limit_overrides={EMAIL: 2})
    assert run(note, prefs, recent=one_email) == [SENDS[EMAIL]]


def test_successive_decisions_stop_at_the_limit() -> None:
    """Driving decide the way the pipeline does: record each send in the log."""
    log: list[float] = []
    verdicts = []
    for minute in range(5):
        now = NOW + timedelta(minutes=minute)
        [outcome] = run(replace(NOTE, channels=(SMS,)), recent={SMS: log}, now=now)
        verdicts.append(outcome)
        if isinstance(outcome, Send):
            log.append(now.timestamp())
    assert verdicts == [SENDS[SMS]] * 3 + [Suppress(SMS, Reason.RATE_LIMITED)] * 2


# -- critical ------------------------------------------------------------------------------


def test_critical_bypasses_quiet_hours_and_limits() -> None:
    note = replace(NOTE, priority=Priority.CRITICAL)
    prefs = replace(PREFS, quiet_hours=QUIET, limit_overrides={PUSH: 0})
    recent = {**full(SMS), **full(EMAIL)}
    assert run(note, prefs, recent=recent) == [SENDS[PUSH], SENDS[SMS], SENDS[EMAIL]]


def test_critical_does_not_bypass_opt_outs_addresses_or_dedupe() -> None:
    note = replace(NOTE, priority=Priority.CRITICAL, category="promo")
    prefs = replace(
        PREFS,
        quiet_hours=QUIET,
        opted_out_channels=frozenset({PUSH}),
        opted_out_categories=frozenset({"promo"}),
    )
    assert run(note, prefs) == [
        Suppress(PUSH, Reason.OPTED_OUT_CHANNEL),
        Suppress(SMS, Reason.OPTED_OUT_CATEGORY),
        Suppress(EMAIL, Reason.OPTED_OUT_CATEGORY),
    ]
    note = replace(note, category="orders")
    contacts = replace(CONTACTS, email=None)
    assert run(note, prefs, contacts, already_queued={SMS}) == [
        Suppress(PUSH, Reason.OPTED_OUT_CHANNEL),
        Suppress(SMS, Reason.DUPLICATE),
        Suppress(EMAIL, Reason.NO_ADDRESS),
    ]


# -- properties ----------------------------------------------------------------------------

channel_sets = st.frozensets(st.sampled_from(ALL))


@st.composite
def situations(draw: st.DrawFn) -> tuple[UserNotification, UserPreferences, UserContacts]:
    categories = st.sampled_from(["orders", "security", "promo"])
    note = replace(
        NOTE,
        category=draw(categories),
        priority=draw(st.sampled_from(Priority)),
        channels=draw(st.none() | st.lists(st.sampled_from(ALL), max_size=4).map(tuple)),
    )
    prefs = replace(
        PREFS,
        opted_out_channels=draw(channel_sets),
        opted_out_categories=draw(st.frozensets(categories)),
        quiet_hours=draw(st.sampled_from([None, QUIET])),
        limit_overrides=draw(st.dictionaries(st.sampled_from(ALL), st.integers(0, 2))),
    )
    contacts = replace(
        CONTACTS,
        devices=CONTACTS.devices if draw(st.booleans()) else (),
        phone=draw(st.sampled_from([None, "+15550100"])),
        email=draw(st.sampled_from([None, "u1@example.com"])),
    )
    return note, prefs, contacts


@given(situations(), channel_sets, st.lists(st.sampled_from(ALL), max_size=4).map(tuple))
def test_every_wanted_channel_gets_exactly_one_outcome_and_rules_hold(
    situation: tuple[UserNotification, UserPreferences, UserContacts],
    queued: frozenset[Channel],
    template_channels: tuple[Channel, ...],
) -> None:
    note, prefs, contacts = situation
    recent = {c: [NOW.timestamp() - 1.0] for c in ALL}
    outcomes = run(note, prefs, contacts, template_channels, queued, recent)
    chosen = note.channels if note.channels is not None else template_channels
    wanted = tuple(dict.fromkeys(chosen))
    decided: list[Channel] = []
    for outcome in outcomes:
        assert not isinstance(outcome, Expire)
        if isinstance(outcome, Defer):
            assert note.priority is not Priority.CRITICAL
            decided.extend(outcome.channels)
        else:
            assert outcome.channel is not None
            decided.append(outcome.channel)
        if isinstance(outcome, Send):
            assert outcome.addresses
            assert outcome.channel not in prefs.opted_out_channels
            assert outcome.channel not in queued
        if isinstance(outcome, Suppress) and note.priority is Priority.CRITICAL:
            assert outcome.reason is not Reason.RATE_LIMITED
    assert sorted(decided) == sorted(wanted)
    assert sum(isinstance(o, Defer) for o in outcomes) <= 1
