from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from herald.models import Channel, Platform
from lab.bench.steps import (
    SINK,
    Step,
    bench_message,
    lag_flat,
    latencies_ms,
    route,
    shares,
    sustained,
)


def test_the_mix_is_a_third_per_channel_and_push_alternates_platforms() -> None:
    routes = Counter(route(i) for i in range(600))
    assert routes == {
        (Channel.PUSH, Platform.ANDROID): 100,
        (Channel.PUSH, Platform.IOS): 100,
        (Channel.SMS, None): 200,
        (Channel.EMAIL, None): 200,
    }


def test_shares_split_the_rate_over_the_senders_and_all_of_it_reaches_the_sink() -> None:
    assert shares(300) == {"push": 100, "sms": 100, "email": 100, SINK: 300}


@given(st.integers(0, 10**9))
def test_a_message_fits_its_route(i: int) -> None:
    message = bench_message(i, "run1")
    assert (message.channel, message.platform) == route(i)
    assert message.notification_id == f"bench-run1-{i}"
    if message.channel is Channel.SMS:
        assert message.address.startswith("+1555") and len(message.address) == 12
    if message.channel is Channel.EMAIL:
        assert "@" in message.address


def test_rising_lag_is_not_flat_but_bounded_or_small_lag_is() -> None:
    rising = [(float(t), 30.0 * t) for t in range(20)]  # falling 30/s behind at 100/s
    bounded = [(float(t), 200.0 + (t % 3) * 50) for t in range(20)]
    noisy_small = [(float(t), float((t * 37) % 90)) for t in range(20)]  # rounds of commits
    assert not lag_flat(rising, offered_per_s=100)
    assert lag_flat(bounded, offered_per_s=100)
    assert lag_flat(noisy_small, offered_per_s=100)


def test_latency_is_write_time_minus_publish_time_for_rows_found() -> None:
    published = {"a": 1_000_000, "b": 2_000_000, "c": 3_000_000}
    written = {"a": 1_250_000, "c": 3_900_000}
    assert sorted(latencies_ms(published, written)) == [250.0, 900.0]


def _step(rate: int, flat: bool) -> Step:
    return Step(rate, rate, rate, 2 * rate, flat, {}, {}, 0, 0, None, None, None, None, None, {},
                {})  # fmt: skip


def test_the_highest_sustained_rate_ignores_rates_that_fell_behind() -> None:
    assert sustained([_step(100, True), _step(200, True), _step(400, False)]) == 200
    assert sustained([_step(100, False)]) == 0
