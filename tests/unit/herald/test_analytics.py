"""The delivery funnel of a request, and the sink's delivery rates."""

from __future__ import annotations

from collections import Counter

from herald.analytics import ALL, Funnel, RateCounter, funnel
from herald.models import Channel, State


def test_a_stage_counts_the_messages_that_reached_it_or_went_beyond() -> None:
    latest = Counter(
        {State.SENT: 4, State.DELIVERED: 3, State.OPENED: 2, State.CLICKED: 1, State.BOUNCED: 2,
         State.SUPPRESSED: 5, State.FAILED: 1}
    )  # fmt: skip
    found = funnel(latest)
    assert found == Funnel(sent=12, delivered=6, opened=3, clicked=1, bounced=2)
    assert found.rate(found.delivered) == 0.5
    assert funnel(Counter({State.SUPPRESSED: 3})).rate(0) is None


def test_rates_are_per_channel_and_provider_with_the_channels_whole() -> None:
    rates = RateCounter()
    changed = rates.add(
        [
            (Channel.SMS, "twilio", State.SENT),
            (Channel.SMS, "twilio", State.SENT),
            (Channel.SMS, "sns", State.SENT),
            (Channel.SMS, "twilio", State.DELIVERED),
            (Channel.PUSH, "fcm", State.SENT),
            (Channel.PUSH, None, State.OPENED),  # an app's report names no provider
            (Channel.EMAIL, "smtp", State.QUEUED),  # not a stage: not counted
            (None, None, State.EXPIRED),
        ]
    )
    assert changed == {
        ("sms", ALL),
        ("sms", "twilio"),
        ("sms", "sns"),
        ("push", ALL),
        ("push", "fcm"),
    }
    assert rates.rates(("sms", "twilio"))[State.DELIVERED] == 0.5
    assert rates.rates(("sms", ALL))[State.DELIVERED] == 1 / 3
    assert rates.rates(("push", ALL))[State.OPENED] == 1.0
    assert rates.rates(("push", "fcm"))[State.OPENED] == 0.0
    assert rates.rates(("email", "smtp")) == {}
