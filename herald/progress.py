"""Progress of long work (fetching servers, benchmark steps, replays, the demo's waiting):
what a component reports, and the two ways of showing it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

Advance = Callable[[float], None]  # the amount done since the last call


class Progress(Protocol):
    def __call__(
        self, description: str, total: float | None = None
    ) -> AbstractContextManager[Advance]: ...


@contextmanager
def quiet(description: str, total: float | None = None) -> Iterator[Advance]:
    """Shows nothing: for tests and library use."""
    yield lambda done: None


@contextmanager
def bar(description: str, total: float | None = None) -> Iterator[Advance]:
    """A rich progress bar on stderr (a spinner when ``total`` is unknown) while the block
    runs; nothing when stderr is not a terminal."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn()]
    if total is not None:
        columns.append(MofNCompleteColumn())
    columns.append(TimeElapsedColumn())
    console = Console(file=sys.stderr)
    with Progress(*columns, console=console, disable=not console.is_terminal) as shown:
        task = shown.add_task(description, total=total)
        yield lambda done: shown.advance(task, done)
