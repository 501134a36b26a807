"""The delivery benchmark's settings: providers' limits out of the way, buckets in force."""

from __future__ import annotations

from herald.settings import DeliverySettings
from lab.bench.delivery import LIMITS, lifted


def test_every_provider_is_raised_but_keeps_its_token_bucket() -> None:
    raised = lifted(DeliverySettings())
    for path in LIMITS:
        provider, field = path.split(".")
        limits = getattr(getattr(raised, provider), field)
        assert limits.rate_per_s >= 100_000
        assert limits.limited  # the senders still take a token per call from Redis
