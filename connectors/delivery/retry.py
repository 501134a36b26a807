"""What a failed attempt leads to (pure): another attempt at a due time, or giving up.

``ChannelMessage.attempt`` counts from 0: the first call is attempt 0, so with
``max_attempts = 5`` the calls are attempts 0 to 4. The next attempt waits at least the
provider's Retry-After when it gave one; otherwise an exponential backoff with full jitter
(a uniform draw in ``[0, min(backoff_max, base * 2^attempt)]``), which spreads the retries of a
burst of failures instead of sending them back together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from herald.settings import DeliverySettings

Random = Callable[[], float]  # uniform in [0, 1), like random.random


class GiveUpReason(StrEnum):
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    DEADLINE_PASSED = "deadline_passed"


@dataclass(frozen=True, slots=True)
class RetryAt:
    due: datetime
    attempt: int  # the number of the attempt made at ``due``


@dataclass(frozen=True, slots=True)
class GiveUp:
    reason: GiveUpReason


def backoff_s(attempt: int, base_s: float, max_s: float, random: Random) -> float:
    """Full jitter: uniform in [0, min(max_s, base_s * 2^attempt)]."""
    ceiling = min(max_s, base_s * 2.0 ** min(attempt, 64))
    return random() * ceiling


def after_failure(
    attempt: int,
    deadline: datetime | None,
    retry_after_s: float | None,
    now: datetime,
    settings: DeliverySettings,
    random: Random,
) -> RetryAt | GiveUp:
    """The next step after attempt number ``attempt`` failed transiently."""
    following = attempt + 1
    if following >= settings.max_attempts:
        return GiveUp(GiveUpReason.ATTEMPTS_EXHAUSTED)
    if retry_after_s is not None:
        delay = max(retry_after_s, 0.0)
    else:
        delay = backoff_s(attempt, settings.backoff_base_s, settings.backoff_max_s, random)
    due = now + timedelta(seconds=delay)
    if deadline is not None and due > deadline:
        return GiveUp(GiveUpReason.DEADLINE_PASSED)
    return RetryAt(due, following)
