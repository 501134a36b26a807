"""What the tooling raises besides the core's errors."""

from __future__ import annotations

from herald.errors import HeraldError


class WaitTimedOut(HeraldError):
    """What the demo, a benchmark or a test waited for did not happen in time."""


class WorkerFailed(HeraldError):
    """A child worker exited early, or was not ready in time."""
