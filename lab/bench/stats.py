"""Pure figures from samples: percentiles, and whether consumer lag stayed flat."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return ordered[rank]


def slope(samples: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (time, value) samples, per second."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    if spread == 0:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in samples) / spread


def lag_is_flat(
    samples: Sequence[tuple[float, float]], offered_per_s: float, tolerance: float = 0.05
) -> bool:
    """Over the second half of a step, lag grew by less than ``tolerance`` of the offered rate
    (a consumer keeping up shows a bounded, not a rising, lag)."""
    half = samples[len(samples) // 2 :]
    return slope(half) < tolerance * offered_per_s
