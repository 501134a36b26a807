"""One lifecycle for every worker kind: opened (clients connected, topics subscribed), rounds
until asked to stop, closed.

A worker is an async context manager whose value has ``round()`` (take what is there, handle
it, commit; return how many records it took) and ``ready`` (it has partitions to consume).
``run_rounds`` drives it; the CLI alone turns signals into ``Stop.set``; tests drive single
rounds in-process, or a bounded run (``Bounds``, like arq's burst mode).

Readiness is reported through ``report_ready``: a file the worker creates once it consumes
(``lifecycle.ready_file``), which a parent process or a container's readiness probe waits for.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class Stop:
    """Asked to stop: set from a signal handler or a test, read between rounds on the event
    loop and in the threads that wait out a retry."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout_s: float) -> bool:
        """Block a thread for ``timeout_s`` at most; True when asked to stop meanwhile."""
        return self._event.wait(timeout_s)


class Worker(Protocol):
    @property
    def ready(self) -> bool: ...

    async def round(self) -> int: ...


@dataclass(frozen=True)
class Bounds:
    """Where a bounded run ends: after ``rounds`` rounds, or (``until_idle``) at the first
    round that took nothing once the worker was ready. The default is unbounded."""

    rounds: int | None = None
    until_idle: bool = False

    def reached(self, done: int, took: int, ready: bool) -> bool:
        if self.rounds is not None and done >= self.rounds:
            return True
        return self.until_idle and ready and took == 0


async def run_rounds(
    worker: Worker,
    stop: Stop,
    bounds: Bounds = Bounds(),
    on_ready: Callable[[], None] = lambda: None,
) -> int:
    """Rounds until ``stop`` (the round under way finishes) or ``bounds``; ``on_ready`` once,
    after the first round that found the worker ready. Returns the records taken."""
    done = taken = 0
    announced = False
    while not stop.is_set():
        took = await worker.round()
        done, taken = done + 1, taken + took
        if worker.ready and not announced:
            announced = True
            on_ready()
        if bounds.reached(done, took, worker.ready):
            break
        await asyncio.sleep(0)
    return taken


def report_ready(path: Path | None) -> None:
    """Create ``path`` (atomically, so a reader never sees half of it): this worker is ready."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}")
    scratch.write_text(f"{os.getpid()}\n")
    scratch.replace(path)
    log.info("ready (%s)", path)


@contextmanager
def readiness(path: Path | None) -> Iterator[Callable[[], None]]:
    """Readiness through ``path`` while the block runs: removed first (a file left by an
    earlier run must not say ready), created when the block calls what it is given, and
    removed again when the block ends, however it ends."""
    if path is not None:
        path.unlink(missing_ok=True)
    try:
        yield lambda: report_ready(path)
    finally:
        if path is not None:
            path.unlink(missing_ok=True)


# Python's cyclic collector runs every 700 net allocations by default. A busy worker makes
# and frees several short-lived records a message (refcounting frees them; cycles are rare),
# and each collection re-scans what survived the last: about a sixth of a decision's time.
YOUNG_COLLECTION_EVERY = 50_000


def settle_memory() -> None:
    """Once a worker has loaded: what start-up allocated is never scanned again
    (``gc.freeze``), and the young generation is collected every 50,000 allocations."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, old)
