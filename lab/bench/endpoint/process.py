"""`herald bench endpoint` as a child process, for the benchmarks and tests."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from herald.errors import SandboxError
from herald.settings import HeraldSettings
from lab.workers import WorkerProcess

Tally = dict[str, dict[str, int]]  # {"accepted": {provider: n}, "refused": {provider: n}}


class EndpointProcess(WorkerProcess):
    """``EndpointProcess(settings, log_file)``, with ``settings.delivery`` from the sandbox
    profile (``on_free_ports``): started, it listens on every port; stopped with SIGTERM (a
    context manager does both). ``counts()`` says what each provider took so far."""

    def __init__(
        self, settings: HeraldSettings, log_file: Path, ready_timeout_s: float = 60.0
    ) -> None:
        super().__init__("bench-endpoint", settings, log_file, ready_timeout_s)

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "herald", "bench", "endpoint", "--configured"]

    def counts(self) -> Tally:
        url = f"{self.settings.delivery.sandbox_control}/counts"
        try:
            answer = httpx.get(url, timeout=10)
            answer.raise_for_status()
        except httpx.HTTPError as exc:
            raise SandboxError(f"the benchmark endpoint's counts: {type(exc).__name__}") from exc
        tally: Tally = answer.json()
        return tally
