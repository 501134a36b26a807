from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lab.bench.stats import lag_is_flat, percentile, slope


def test_percentile_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile([], 0.5) is None


@given(st.lists(st.floats(-1e6, 1e6), min_size=1), st.floats(0, 1))
def test_percentile_is_one_of_the_values(values: list[float], fraction: float) -> None:
    assert percentile(values, fraction) in values


def test_slope_of_a_line() -> None:
    assert abs(slope([(t, 3 * t + 1) for t in range(10)]) - 3) < 1e-9


def test_rising_lag_is_not_flat_and_bounded_lag_is() -> None:
    rising = [(float(t), 400.0 * t) for t in range(20)]  # falling 400/s behind
    bounded = [(float(t), 100.0 + (t % 3) * 50) for t in range(20)]
    assert not lag_is_flat(rising, offered_per_s=2000)
    assert lag_is_flat(bounded, offered_per_s=2000)
