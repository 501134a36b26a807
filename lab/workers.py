"""Running Herald's workers as child processes, for the demo, benchmarks and tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from herald.errors import HeraldError
from herald.lifecycle import READY_MARK
from herald.settings import HeraldSettings


def worker_env(settings: HeraldSettings, worker_dir: Path, **extra: str) -> dict[str, str]:
    """What a child worker needs to run on ``settings``' topics: the prefix, the templates
    and its own data directory, plus ``extra`` HERALD_* variables."""
    return {
        "HERALD_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "HERALD_PIPELINE__TEMPLATES_DIR": str(settings.pipeline.templates_dir.resolve()),
        "HERALD_PIPELINE__WORKER_DIR": str(worker_dir),
        **extra,
    }


class WorkerProcess:
    """``herald worker KIND [ARGS]`` in a child process with extra environment (settings)."""

    ready_mark = READY_MARK  # the log line that says it is ready

    def __init__(
        self,
        kind: str,
        env: Mapping[str, str],
        log_file: Path,
        ready_timeout_s: float = 90.0,
        args: Sequence[str] = (),
    ) -> None:
        self.kind = kind
        self.args = tuple(args)  # after the kind, e.g. ("--channel", "sms")
        self.env = {**os.environ, **env}
        self.log_file = log_file
        self.ready_timeout_s = ready_timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own CLI
                self.argv(),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self._wait_ready(offset)
        return self

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "herald", "worker", self.kind, *self.args]

    def _wait_ready(self, offset: int) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise HeraldError(
                    f"worker {self.kind} exited with {self.process.returncode}:\n"
                    + self._log_since(offset)[-3000:]
                )
            if self.ready_mark in self._log_since(offset):
                return
            time.sleep(0.25)
        self.stop()
        raise HeraldError(f"worker {self.kind} was not ready in {self.ready_timeout_s:.0f}s")

    def _log_since(self, offset: int) -> str:
        with self.log_file.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
