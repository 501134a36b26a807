"""`herald sandbox run` as a child process, for tests, the demo and benchmarks."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from lab.sandboxes.config import READY_LINE
from lab.workers import WorkerProcess


class SandboxProcess(WorkerProcess):
    """``SandboxProcess(sandbox_env(delivery), log_file)``: started, it has answered on every
    port; stopped with SIGTERM (a context manager does both)."""

    ready_mark = READY_LINE

    def __init__(
        self, env: Mapping[str, str], log_file: Path, ready_timeout_s: float = 60.0
    ) -> None:
        super().__init__("sandbox", env, log_file, ready_timeout_s)

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "herald", "sandbox", "run"]
