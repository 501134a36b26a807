"""The launcher's decisions and error paths, without starting any real server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from herald.errors import StackError
from herald.settings import HeraldSettings, RedisSettings, StackSettings
from infra.stack import fetch, servers
from infra.stack.launcher import Stack, java_major


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _settings(tmp_path: Path, **stack: object) -> HeraldSettings:
    return HeraldSettings(
        stack=StackSettings(home=tmp_path / "home", cache=tmp_path / "cache", **stack)
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_402"', 8),
        ('openjdk version "25" 2025-09-16', 25),
        ("nonsense", None),
    ],
)
def test_java_major(output: str, major: int | None) -> None:
    assert java_major(output) == major


def test_plans_start_servers_where_clients_will_look(tmp_path: Path) -> None:
    settings = _settings(tmp_path).model_copy(
        update={"redis": RedisSettings.model_validate({"url": "redis://127.0.0.1:6390/0"})}
    )
    plans = servers.plans(settings, servers.installed(settings, "/usr/bin/redis-server"))
    assert list(plans) == list(servers.SERVER_NAMES)
    redis = plans["redis"]
    assert redis.listen.port == 6390 and "6390" in redis.argv
    assert str(redis.run_dir) in " ".join(redis.argv)  # how `down` recognises its own process
    assert plans["registry"].needs == ("kafka",)
    assert plans["kafka"].init_marker == plans["kafka"].data_dir / "meta.properties"


def test_up_refuses_a_port_that_another_process_holds(tmp_path: Path, taken_port: int) -> None:
    settings = _settings(tmp_path).model_copy(
        update={"redis": RedisSettings.model_validate({"url": f"redis://127.0.0.1:{taken_port}"})}
    )
    stack = Stack(settings, say=lambda _: None, install=lambda *_: None)
    stack.plans = {"redis": stack.plans["redis"]}
    with pytest.raises(StackError, match=f"port 127.0.0.1:{taken_port} \\(redis\\)"):
        stack.up()


def test_up_says_when_java_is_missing(tmp_path: Path) -> None:
    stack = Stack(
        _settings(tmp_path, java="/nonexistent/java"), say=lambda _: None, install=lambda *_: None
    )
    with pytest.raises(StackError, match="Java not found"):
        stack.up()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_server_that_dies_at_start_shows_the_end_of_its_log(tmp_path: Path) -> None:
    settings = _settings(tmp_path).model_copy(
        update={"redis": RedisSettings.model_validate({"url": f"redis://127.0.0.1:{_free_port()}"})}
    )
    stack = Stack(settings, say=lambda _: None, install=lambda *_: None)
    run_dir = tmp_path / "home" / "stack" / "redis"
    plan = servers.ServerPlan(
        name="redis",
        listen=settings.redis.address,
        extra_ports=(),
        run_dir=run_dir,
        argv=["sh", "-c", f"echo 'FATAL: bad config in {run_dir}'; exit 3"],
    )
    stack.plans = {"redis": plan}
    with pytest.raises(StackError, match=r"exited during start-up(.|\n)*FATAL: bad config"):
        stack.up()


def test_status_and_down_leave_foreign_processes_alone(tmp_path: Path) -> None:
    stack = Stack(_settings(tmp_path), say=lambda _: None, install=lambda *_: None)
    plan = stack.plans["redis"]
    plan.pid_file.parent.mkdir(parents=True)
    plan.pid_file.write_text("1\n")  # pid 1 is not ours: its command line lacks our run dir
    assert stack.pid(plan) is None
    assert all(status.state == "stopped" for status in stack.status())
    stack.down()  # must not signal pid 1
    assert not plan.pid_file.exists()


@pytest.fixture
def empty_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No command but apt-get is found (a fresh machine); apt-get itself must never run."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "apt-get").write_text("#!/bin/sh\nexit 99\n")
    (bin_dir / "apt-get").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))


@pytest.mark.usefixtures("empty_path")
@pytest.mark.parametrize(
    ("command", "package"),
    [("java", "openjdk-17-jre-headless"), ("mvn", "maven"), ("redis-server", "redis-server")],
)
def test_a_missing_command_names_its_package_when_apt_may_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, package: str
) -> None:
    with pytest.raises(StackError, match=f"apt-get install {package}"):
        fetch.system_command(_settings(tmp_path, allow_apt=False), command)
    monkeypatch.setattr(fetch.os, "geteuid", lambda: 1000)
    with pytest.raises(StackError, match=f"needs root: sudo apt-get install {package}"):
        fetch.system_command(_settings(tmp_path), command)


@pytest.mark.usefixtures("empty_path")
def test_a_missing_command_of_the_users_own_is_not_installed(tmp_path: Path) -> None:
    settings = _settings(tmp_path, java="/opt/jdk/bin/java")
    with pytest.raises(StackError, match="check HERALD_STACK__JAVA"):
        fetch.system_command(settings, settings.stack.java, "JAVA")


@pytest.mark.usefixtures("empty_path")
def test_a_failed_apt_install_says_so(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="apt-get update -q failed"):
        fetch.system_command(_settings(tmp_path), "mvn", "MAVEN")
