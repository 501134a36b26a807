"""`herald sandbox run` as a child process, for tests, the demo and benchmarks."""

from __future__ import annotations

import sys
from pathlib import Path

from herald.settings import HeraldSettings
from lab.workers import WorkerProcess


class SandboxProcess(WorkerProcess):
    """``SandboxProcess(settings, log_file)``, with ``settings.delivery`` from the sandbox
    profile (``on_free_ports``): started, it has answered on every port; stopped with
    SIGTERM (a context manager does both)."""

    def __init__(
        self, settings: HeraldSettings, log_file: Path, ready_timeout_s: float = 60.0
    ) -> None:
        super().__init__("sandbox", settings, log_file, ready_timeout_s)

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "herald", "sandbox", "run", "--configured"]
