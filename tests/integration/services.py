"""How a test session gets the real services.

1. The services named in settings already answer: use them, leave them running.
2. A Docker engine is reachable: start infra/docker-compose.yml with testcontainers.
3. Otherwise: the local launcher (what `herald stack up` runs), which fetches the servers.
What the session started, it stops at the end (HERALD_TEST_KEEP_STACK=1 keeps it running).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from herald.settings import HeraldSettings
from infra.stack import probes
from infra.stack.launcher import Stack

Stop = Callable[[], None]
ROOT = Path(__file__).resolve().parents[2]


def all_answer(settings: HeraldSettings) -> bool:
    return all(probe(settings) for probe in probes.PROBES.values())


def docker_reachable() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def start_with_docker(settings: HeraldSettings) -> Stop:
    """docker-compose.yml publishes the ports that the default settings use."""
    from testcontainers.compose import DockerCompose

    compose = DockerCompose(ROOT / "infra", compose_file_name="docker-compose.yml", wait=True)
    compose.start()
    deadline = time.monotonic() + settings.stack.start_timeout_s
    while not all_answer(settings):
        if time.monotonic() > deadline:
            compose.stop()
            raise RuntimeError("the docker-compose services did not answer in time")
        time.sleep(1)
    return compose.stop


def start_with_launcher(settings: HeraldSettings) -> Stop:
    stack = Stack(settings)
    running = {status.name for status in stack.status() if status.pid is not None}
    started = set(stack.plans) - running
    try:
        stack.up()
    except BaseException:
        stack.down(only=started)
        raise
    return lambda: stack.down(only=started)


def acquire(settings: HeraldSettings) -> tuple[str, Stop]:
    if all_answer(settings):
        return "already running", lambda: None
    if docker_reachable():
        return "testcontainers (infra/docker-compose.yml)", start_with_docker(settings)
    return "local launcher", start_with_launcher(settings)
