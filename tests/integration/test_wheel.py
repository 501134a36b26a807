"""Herald as a user installs it: the wheel, in a fresh virtual environment, without the extras.
No repository on the path: what runs comes from site-packages (dependencies from PyPI, pinned
by constraints.txt)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from herald import __version__

ROOT = Path(__file__).resolve().parents[2]
NOT_SOURCE = (".git", ".venv", ".stack", "build", "dist", "*.egg-info", "__pycache__", ".*_cache")
NOT_SOURCE += (".hypothesis", "bench-results", ".lock-venv")

PROBE = textwrap.dedent(
    """
    import importlib.util, json
    from herald.contracts import REQUEST, SCHEMA_DIR, load_schema, topic_contracts
    from herald.settings import HeraldSettings
    from herald.topics import TopicNames
    from herald.migrate import MIGRATIONS_DIR
    from herald.templating import TemplateStore

    settings = HeraldSettings()
    store = TemplateStore(settings.pipeline.templates_dir)
    print(json.dumps({
        "schemas": str(SCHEMA_DIR),
        "schemas_found": sorted(p.name for p in SCHEMA_DIR.iterdir() if p.name.endswith(".avsc")),
        "contracts_load": all(load_schema(c.file_name)["name"]
                              for c in topic_contracts(TopicNames("x.")).values()),
        "request": load_schema(REQUEST.file_name)["name"],
        "templates": str(settings.pipeline.templates_dir),
        "order_shipped": [str(c) for c in store.channels("order_shipped")],
        "migrations": sorted(p.name for p in MIGRATIONS_DIR.glob("*.cql")),
        "tooling": [m for m in ("moto", "aiosmtpd", "hypercorn", "pytest")
                    if importlib.util.find_spec(m)],
    }))
    """
)


def run(argv: list[str], cwd: Path, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the fresh venv's bin directory, a working directory outside the repository)."""
    home = tmp_path_factory.mktemp("wheel")
    source = home / "source"  # built from a copy: the build leaves nothing in the work tree
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    wheel_of = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(home), str(source)]
    built = run(wheel_of, home)
    assert built.returncode == 0, built.stderr[-3000:]
    [wheel] = home.glob("herald-*.whl")
    venv = home / "venv"
    assert run([sys.executable, "-m", "venv", str(venv)], home).returncode == 0
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    done = run([*pip, "-c", str(ROOT / "constraints.txt"), str(wheel)], home)
    assert done.returncode == 0, done.stderr[-3000:]
    return venv / "bin", home


@pytest.mark.timeout(900)
def test_the_wheel_carries_contracts_templates_and_migrations(
    installed: tuple[Path, Path],
) -> None:
    import json

    bin_dir, home = installed
    probe = run([str(bin_dir / "python"), "-c", PROBE], home)
    assert probe.returncode == 0, probe.stderr[-3000:]
    found = json.loads(probe.stdout)
    assert "site-packages" in found["schemas"] and "site-packages" in found["templates"]
    assert str(ROOT) not in found["schemas"] + found["templates"]
    ours = sorted(p.name for p in (ROOT / "schemas").glob("*.avsc"))
    assert found["schemas_found"] == ours and found["contracts_load"]
    assert found["request"] == "NotificationRequest"
    assert found["order_shipped"]
    assert found["migrations"] == sorted(p.name for p in (ROOT / "herald/migrations").glob("*.cql"))
    assert found["tooling"] == []  # neither the lab extra nor the test tools came along


def test_the_installed_command(installed: tuple[Path, Path]) -> None:
    bin_dir, home = installed
    version = run([str(bin_dir / "herald"), "--version"], home)
    assert (version.returncode, version.stdout.strip()) == (0, f"herald {__version__}")
    sandbox = run([str(bin_dir / "herald"), "sandbox", "run"], home)
    assert sandbox.returncode == 1
    assert "pip install 'herald[lab]'" in sandbox.stderr
    sender = run([str(bin_dir / "herald"), "worker", "sender", "--channel", "sms"], home)
    assert sender.returncode == 1  # no provider is configured: it refuses, naming what
    assert sender.stderr.startswith("error: provider sns of sms: HERALD_DELIVERY__AWS__")
    assert len(sender.stderr.strip().splitlines()) == 1
