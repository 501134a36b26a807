"""The CLI as a user meets it: quick to load, one clear line and exit code 1 on a mistake."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from herald import __version__

HEAVY = ("faust", "cassandra", "boto3", "moto", "redis", "confluent_kafka", "aiokafka", "httpx")


def herald(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "herald", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_importing_the_cli_loads_no_client_library() -> None:
    probe = "import sys, herald.cli, json; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout
    )
    assert [m for m in loaded if m.split(".")[0] in HEAVY] == []


def test_version() -> None:
    result = herald("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"herald {__version__}")


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("publish", "no-such-file.json"), "error: No such file or directory: no-such-file.json"),
        (("bench", "pipeline", "--rates", "1,x"), "error: Invalid value for '--rates'"),
        (("bench", "delivery", "--rates", ""), "error: Invalid value for '--rates'"),
        (("stack", "logs", "nope"), "error: no server called 'nope'"),
        (("no-such-command",), "error: No such command 'no-such-command'"),
    ],
)
def test_a_mistake_is_one_line_and_exit_code_1(args: tuple[str, ...], said: str) -> None:
    result = herald(*args)
    assert result.returncode == 1
    assert result.stderr.strip().startswith(said)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr + result.stdout


def test_a_setting_that_does_not_fit_is_named_and_its_value_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HERALD_DELIVERY__TWILIO__AUTH_TOKN", "hunter2-secret")
    result = herald("worker", "sink")
    assert result.returncode == 1
    assert result.stderr.startswith("error: settings: HERALD_DELIVERY__TWILIO__AUTH_TOKN")
    assert "hunter2" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1
