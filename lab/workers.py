"""Running Herald's workers as child processes, for the demo, benchmarks and tests.

A child gets its parent's settings whole, as one serialized object: a private JSON file that
``HERALD_SETTINGS_FILE`` names (herald.settings). The same settings say where the child
reports that it is ready (``lifecycle.ready_file``), and where a streams worker keeps its
data, both next to the child's log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from herald.settings import SETTINGS_FILE, HeraldSettings, serialized
from lab.errors import WorkerFailed


def write_private(path: Path, text: str) -> Path:
    """``text`` in a file only its owner can read (it may hold secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # also when the file was there before
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    return path


class WorkerProcess:
    """``herald worker KIND [ARGS]`` in a child process, on ``settings``."""

    def __init__(
        self,
        kind: str,
        settings: HeraldSettings,
        log_file: Path,
        ready_timeout_s: float = 90.0,
        args: Sequence[str] = (),
    ) -> None:
        self.kind = kind
        self.args = tuple(args)  # after the kind, e.g. ("--channel", "sms")
        self.log_file = log_file
        self.ready_file = log_file.with_name(f"{log_file.name}.ready")
        self.settings_file = log_file.with_name(f"{log_file.name}.settings.json")
        self.settings = settings.updated(
            lifecycle={"ready_file": self.ready_file},
            pipeline={"worker_dir": log_file.with_name(f"{log_file.stem}-data")},
        )
        self.ready_timeout_s = ready_timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.ready_file.unlink(missing_ok=True)
        write_private(self.settings_file, serialized(self.settings))
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own CLI
                self.argv(),
                env={**os.environ, SETTINGS_FILE: str(self.settings_file)},
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
                raise WorkerFailed(
                    f"worker {self.kind} exited with {self.process.returncode}:\n"
                    + self._log_since(offset)[-3000:]
                )
            if self.ready_file.exists():
                return
            time.sleep(0.1)
        self.stop()
        raise WorkerFailed(f"worker {self.kind} was not ready in {self.ready_timeout_s:.0f}s")

    def _log_since(self, offset: int) -> str:
        with self.log_file.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 30.0) -> None:
        """Signal the child and wait for it; its settings file (secrets) goes with it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.settings_file.unlink(missing_ok=True)

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


class ApiProcess(WorkerProcess):
    """``herald api`` in a child process on ``port``; ready once its services are connected
    (its lifespan writes the ready file)."""

    def __init__(self, settings: HeraldSettings, log_file: Path, port: int) -> None:
        super().__init__("api", settings, log_file)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "herald",
            "api",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]

    def start(self) -> ApiProcess:
        super().start()  # its services are connected; uvicorn binds the port right after
        if not answering(f"{self.url}/healthz", 10):
            self.stop()
            raise WorkerFailed(f"herald api did not answer on {self.url}")
        return self


def answering(url: str, timeout_s: float, alive: Callable[[], bool] = lambda: True) -> bool:
    """Whether a GET of ``url`` succeeds within ``timeout_s`` (False as soon as ``alive`` says
    the server is gone)."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while alive():
        try:
            httpx.get(url, timeout=1).raise_for_status()
            return True
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
    return False
