"""The worker lifecycle's rules, on a worker that only counts."""

from __future__ import annotations

import asyncio
from pathlib import Path

from herald.lifecycle import Bounds, Stop, report_ready, run_rounds


class Counting:
    def __init__(self, takes: list[int], ready_after: int = 1) -> None:
        self.takes = takes
        self.rounds = 0
        self.ready_after = ready_after

    @property
    def ready(self) -> bool:
        return self.rounds >= self.ready_after

    async def round(self) -> int:
        self.rounds += 1
        return self.takes.pop(0) if self.takes else 0


def test_a_bounded_run_ends_at_its_rounds() -> None:
    worker = Counting([5, 5, 5, 5])
    assert asyncio.run(run_rounds(worker, Stop(), Bounds(rounds=3))) == 15
    assert worker.rounds == 3


def test_until_idle_ends_at_the_first_empty_round_once_ready() -> None:
    worker = Counting([0, 2, 3, 0, 9], ready_after=2)  # the first empty round is before ready
    assert asyncio.run(run_rounds(worker, Stop(), Bounds(until_idle=True))) == 5
    assert worker.rounds == 4


def test_ready_is_announced_once_and_stop_ends_the_run() -> None:
    announced: list[int] = []
    stop = Stop()
    worker = Counting([1] * 100, ready_after=3)

    def ready() -> None:
        announced.append(worker.rounds)

    async def stop_soon() -> int:
        task = asyncio.create_task(run_rounds(worker, stop, on_ready=ready))
        while worker.rounds < 10:
            await asyncio.sleep(0)
        stop.set()
        return await task

    taken = asyncio.run(stop_soon())
    assert announced == [3]
    assert 10 <= taken < 100


def test_ready_is_a_file_written_whole(tmp_path: Path) -> None:
    path = tmp_path / "run" / "worker.ready"
    report_ready(path)
    assert path.read_text().strip().isdigit()
    assert [p.name for p in path.parent.iterdir()] == ["worker.ready"]
    report_ready(None)  # not asked for: nothing happens


def test_readiness_is_cleared_before_and_after(tmp_path: Path) -> None:
    from herald.lifecycle import readiness

    path = tmp_path / "worker.ready"
    path.write_text("left by an earlier run\n")
    with readiness(path) as announce:
        assert not path.exists()  # a stale file must not say ready
        announce()
        assert path.exists()
    assert not path.exists()  # stopped: not ready any more
