"""Offering a load for a fixed time, tick by tick, with its progress shown."""

from __future__ import annotations

import time
from collections.abc import Iterator

from herald.progress import Progress


def offer(seconds: float, tick_s: float, progress: Progress, description: str) -> Iterator[float]:
    """Seconds elapsed, once a tick, until ``seconds`` have passed; the caller does a tick's
    work between two of them."""
    started = time.monotonic()
    with progress(description, total=seconds) as advance:
        last = started
        while (now := time.monotonic()) < started + seconds:
            yield now - started
            advance(now - last)
            last = now
            time.sleep(tick_s)
        advance(now - last)
