"""Thin process and socket helpers for the launcher: spawn, identify, stop, tail."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections import deque
from pathlib import Path


def spawn(argv: list[str], stdout_file: Path) -> int:
    """Start ``argv`` in a session of its own, output appended to ``stdout_file``; its pid.

    posix_spawn leaves no Popen object behind: the server outlives this process by design.
    """
    stdout_file.parent.mkdir(parents=True, exist_ok=True)
    out = os.open(stdout_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        return os.posix_spawnp(
            argv[0],
            argv,
            os.environ,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out, 1),
                (os.POSIX_SPAWN_DUP2, out, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(out)


def _reap(pid: int) -> None:
    # A server started by this very process (a test session) stays a zombie until reaped.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    _reap(pid)
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def is_ours(pid: int, marker: str) -> bool:
    """``pid`` is alive and its command line mentions ``marker`` (guards against pid reuse).

    Right after a spawn the command line can read empty for a moment (the kernel is still
    in execve), so a process just started is watched with `alive`, not with this.
    """
    if not alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return marker.encode() in cmdline


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def stop(pid: int, marker: str, timeout_s: float = 60.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it has not gone after ``timeout_s``."""
    for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if not is_ours(pid, marker):
                return
            time.sleep(0.2)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def tail(path: Path, lines: int) -> str:
    try:
        with path.open(errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines))
    except OSError:
        return ""


def rss_bytes(pid: int) -> int | None:
    """Resident memory of one process, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) one process has used so far, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
