"""Fetching the servers once into the cache: jars through Maven; Java, Maven and
redis-server through apt when they are missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

from herald.errors import StackError
from herald.progress import Progress, quiet
from herald.settings import HeraldSettings
from infra.stack import configs, servers

_COMPLETE = ".complete"
MAVEN_HINT = "install Maven (apt-get install maven) or set HERALD_STACK__MAVEN"


def _run(argv: list[str], cwd: Path, what: str) -> None:
    try:
        result = subprocess.run(  # noqa: S603 - fixed argv
            argv, cwd=cwd, capture_output=True, text=True, timeout=1800, check=False
        )
    except FileNotFoundError as exc:
        raise StackError(f"{argv[0]} not found while fetching {what}: {MAVEN_HINT}") from exc
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"fetching {what} did not finish in 30 minutes") from exc
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()[-25:]
        raise StackError(
            f"fetching {what} failed (exit {result.returncode}):\n" + "\n".join(output)
        )


def _maven_jars(
    settings: HeraldSettings, target: Path, name: str, deps: list[tuple[str, str, str]]
) -> None:
    target.mkdir(parents=True, exist_ok=True)
    (target / "pom.xml").write_text(configs.maven_pom(name, deps))
    shutil.rmtree(target / "lib", ignore_errors=True)
    _run(
        [settings.stack.maven, "-B", "-q", "dependency:copy-dependencies", "-DoutputDirectory=lib"],
        target,
        name,
    )


def _registry(settings: HeraldSettings, target: Path) -> None:
    version = settings.stack.registry_version
    target.mkdir(parents=True, exist_ok=True)
    artifact = f"io.apicurio:apicurio-registry-app:{version}:tar.gz:all"
    _run(
        [
            settings.stack.maven,
            "-B",
            "-q",
            "dependency:copy",
            f"-Dartifact={artifact}",
            "-DoutputDirectory=download",
        ],
        target,
        f"Apicurio Registry {version}",
    )
    archive = target / "download" / f"apicurio-registry-app-{version}-all.tar.gz"
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    archive.unlink()


def _once(target: Path, what: str, fetch: Callable[[], None], progress: Progress) -> None:
    """``fetch`` into ``target`` unless an earlier fetch completed there."""
    if (target / _COMPLETE).exists():
        return
    with progress(f"fetching {what} (once)"):
        fetch()
    (target / _COMPLETE).touch()


# What apt installs for each command the stack runs, when it is missing.
APT_PACKAGES = {
    "java": "openjdk-17-jre-headless",
    "mvn": "maven",
    "redis-server": "redis-server",
    "chromium": "chromium",  # the end users' pages in a real browser (the tests)
}
_NAMES = {"java": "Java", "mvn": "Maven"}


def system_command(settings: HeraldSettings, command: str, setting: str | None = None) -> str:
    """The path of ``command``; installed through apt when missing, when the stack may use
    apt and runs as root. Otherwise one line says what to install, or which setting
    (``HERALD_STACK__<setting>``) points elsewhere."""
    found = shutil.which(command)
    if found:
        return found
    package = APT_PACKAGES.get(command)
    missing = f"{_NAMES.get(Path(command).name, command)} not found ({command!r})"
    hint = f" or set HERALD_STACK__{setting} to another path" if setting else ""
    if package is None:  # a path of the user's own that is not there: no guessing
        raise StackError(f"{missing}: check HERALD_STACK__{setting}")
    if not settings.stack.allow_apt or shutil.which("apt-get") is None:
        raise StackError(f"{missing}: install it (apt-get install {package}){hint}")
    if os.geteuid() != 0:
        raise StackError(f"{missing} and apt needs root: sudo apt-get install {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", package]):
        result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)  # noqa: S603
        if result.returncode != 0:
            raise StackError(f"{' '.join(argv)} failed:\n{result.stderr[-2000:]}")
    found = shutil.which(command)
    if found is None:
        raise StackError(f"apt installed {package}, yet {command} is still not on PATH")
    return found


def redis_server(settings: HeraldSettings) -> str:
    return system_command(settings, "redis-server")


def ensure_installed(settings: HeraldSettings, progress: Progress = quiet) -> None:
    """Fetch whatever is not in the cache yet; cheap when everything is there."""
    stack = settings.stack
    system_command(settings, stack.maven, "MAVEN")
    kafka = [
        ("org.apache.kafka", "kafka_2.13", stack.kafka_version),
        # Kafka's POM leaves the logging backend out; without it the broker logs nothing.
        ("org.apache.logging.log4j", "log4j-slf4j-impl", stack.log4j_version),
    ]
    cassandra = [("org.apache.cassandra", "cassandra-all", stack.cassandra_version)]
    for name, version, target, deps in (
        ("kafka", stack.kafka_version, servers.kafka_dir(settings), kafka),
        ("cassandra", stack.cassandra_version, servers.cassandra_dir(settings), cassandra),
    ):
        fetch = partial(_maven_jars, settings, target, name, deps)
        _once(target, f"{name} {version}", fetch, progress)
    registry = servers.registry_dir(settings)
    _once(
        registry,
        f"Apicurio Registry {stack.registry_version}",
        partial(_registry, settings, registry),
        progress,
    )
    redis_server(settings)
