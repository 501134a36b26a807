"""`herald stack up | down | status | logs`: the local stack's lifecycle."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from herald.errors import StackError
from herald.progress import Progress, quiet
from herald.settings import HeraldSettings
from infra.stack import fetch, probes, process, servers
from infra.stack.servers import ServerPlan

Say = Callable[[str], None]


@dataclass(frozen=True)
class ServerStatus:
    name: str
    address: str
    pid: int | None  # our process, alive; None when not running
    ready: bool
    rss_bytes: int | None

    @property
    def state(self) -> str:
        if self.pid is None:
            return "stopped"
        return "healthy" if self.ready else "starting"


def java_major(version_output: str) -> int | None:
    """17 from 'openjdk version "17.0.15" 2025-04-15' (or 8 from '"1.8.0_402"')."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


class Stack:
    def __init__(
        self,
        settings: HeraldSettings,
        say: Say = print,
        install: Callable[[HeraldSettings, Progress], None] = fetch.ensure_installed,
        progress: Progress = quiet,
    ) -> None:
        self.settings = settings
        self.say = say
        self.install = install
        self.progress = progress
        # Paths in the cache are fixed by version; redis-server is found through PATH.
        self.plans = servers.plans(settings, servers.installed(settings, "redis-server"))

    # -- queries -------------------------------------------------------------------------
    def pid(self, plan: ServerPlan) -> int | None:
        pid = process.read_pid(plan.pid_file)
        return pid if pid is not None and process.is_ours(pid, str(plan.run_dir)) else None

    def status(self) -> list[ServerStatus]:
        result = []
        for plan in self.plans.values():
            pid = self.pid(plan)
            result.append(
                ServerStatus(
                    name=plan.name,
                    address=servers.address_of(plan),
                    pid=pid,
                    ready=pid is not None and probes.ready(plan, self.settings),
                    rss_bytes=process.rss_bytes(pid) if pid else None,
                )
            )
        return result

    def log_file(self, name: str) -> Path:
        if name not in self.plans:
            raise StackError(f"no server called {name!r}; choose from {', '.join(self.plans)}")
        return self.plans[name].log_file

    # -- up ------------------------------------------------------------------------------
    def up(self) -> list[ServerStatus]:
        to_start = [plan for plan in self.plans.values() if self.pid(plan) is None]
        if not to_start:
            self._wait_ready(list(self.plans.values()), quiet=True)
            self.say("stack already up: nothing to do")
            return self.status()
        self._check_java()
        self._check_ports(to_start)
        self.install(self.settings, self.progress)
        # Servers that need others start last, once those answer.
        ordered = sorted(to_start, key=lambda plan: len(plan.needs))
        for plan in ordered:
            self._wait_ready([self.plans[need] for need in plan.needs], quiet=True)
            self._start(plan)
        self._wait_ready(ordered)
        return self.status()

    def _check_java(self) -> None:
        java = fetch.system_command(self.settings, self.settings.stack.java, "JAVA")
        output = subprocess.run(  # noqa: S603
            [java, "-version"], capture_output=True, text=True, check=False
        ).stderr
        major = java_major(output)
        if major is None or major < 17:
            raise StackError(f"Java 17 or newer is needed; {java!r} is {output.splitlines()[:1]}")

    def _check_ports(self, plans: list[ServerPlan]) -> None:
        for plan in plans:
            for port in plan.ports:
                if process.port_in_use(port.host, port.port):
                    raise StackError(
                        f"port {port.host}:{port.port} ({plan.name}) is already taken by "
                        "another process: stop it, or move Herald's "
                        f"{plan.name} elsewhere in settings"
                    )

    def _start(self, plan: ServerPlan) -> None:
        for directory in (plan.data_dir, plan.log_dir):
            directory.mkdir(parents=True, exist_ok=True)
        for path, text in plan.files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        if plan.init_argv and plan.init_marker and not plan.init_marker.exists():
            result = subprocess.run(  # noqa: S603
                plan.init_argv, capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                raise StackError(
                    f"{plan.name}: preparing storage failed:\n{result.stdout}{result.stderr}"
                )
        pid = process.spawn(plan.argv, plan.stdout_file)
        plan.pid_file.write_text(f"{pid}\n")
        self.say(f"starting {plan.name} (pid {pid})")

    def _wait_ready(self, plans: list[ServerPlan], *, quiet: bool = False) -> None:
        deadline = time.monotonic() + self.settings.stack.start_timeout_s
        waiting = list(plans)
        while waiting:
            plan = waiting[0]
            pid = process.read_pid(plan.pid_file)
            if pid is None or not process.alive(pid):
                raise StackError(
                    f"{plan.name} exited during start-up; the end of its log:\n"
                    + self._log_tail(plan)
                )
            if probes.ready(plan, self.settings):
                if not quiet:
                    self.say(f"{plan.name:<9} ready on {servers.address_of(plan)}")
                waiting.pop(0)
            elif time.monotonic() > deadline:
                raise StackError(
                    f"{plan.name} did not answer within "
                    f"{self.settings.stack.start_timeout_s:.0f}s; the end of its log:\n"
                    + self._log_tail(plan)
                )
            else:
                time.sleep(0.5)

    @staticmethod
    def _log_tail(plan: ServerPlan) -> str:
        files = dict.fromkeys([plan.log_file, plan.stdout_file])
        return "".join(f"--- {path}\n{process.tail(path, 20)}" for path in files if path.exists())

    # -- down ----------------------------------------------------------------------------
    def down(self, *, wipe: bool = False, only: Collection[str] | None = None) -> None:
        """Stop our servers (those named in ``only``, or all), newest first."""
        for plan in reversed(self.plans.values()):
            if only is not None and plan.name not in only:
                continue
            pid = self.pid(plan)
            if pid is not None:
                self.say(f"stopping {plan.name} (pid {pid})")
                process.stop(pid, str(plan.run_dir))
            plan.pid_file.unlink(missing_ok=True)
            if wipe:
                shutil.rmtree(plan.run_dir, ignore_errors=True)
        if wipe:
            self.say(f"removed the stack's data under {self.settings.stack.home / 'stack'}")
