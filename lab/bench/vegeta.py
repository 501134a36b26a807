"""Vegeta (github.com/tsenart/vegeta), the open-loop HTTP load generator `herald bench api`
drives: a compiled generator costs a fraction of a Python one's CPU per request, and on 2
shared cores what the generator spends the API cannot.

It is taken from PATH, or built once from the Go module proxy into Herald's cache (as the
stack fetches its servers), which needs the Go toolchain.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from herald.errors import StackError

VERSION = "v12.13.0"
MODULE = "github.com/tsenart/vegeta/v12"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def binary(cache: Path) -> Path:
    """Vegeta on PATH, else the one built into ``cache`` (built now when missing)."""
    found = shutil.which("vegeta")
    if found:
        return Path(found)
    target = cache / "tools" / f"vegeta-{VERSION}"
    built = target / "vegeta"
    if built.exists():
        return built
    go = shutil.which("go")
    if go is None:
        raise StackError(
            "herald bench api needs vegeta: put it on PATH, or install Go so that it can be "
            f"built ({MODULE}@{VERSION})"
        )
    target.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(  # noqa: S603 - fixed argv
        [go, "install", f"{MODULE}@{VERSION}"],
        env={**os.environ, "GOBIN": str(target)},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0 or not built.exists():
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise StackError(f"building vegeta {VERSION} failed (exit {result.returncode}):\n{tail}")
    return built


def targets(url: str, headers: Mapping[str, str], bodies: Iterable[bytes]) -> Iterable[str]:
    """Vegeta's JSON targets (one line each): a POST of each body."""
    header = {name: [value] for name, value in headers.items()}
    for data in bodies:
        yield json.dumps(
            {
                "method": "POST",
                "url": url,
                "header": header,
                "body": base64.b64encode(data).decode(),
            }
        )


@dataclass(frozen=True)
class Hit:
    seq: int
    started_ns: int  # wall clock, when the request left
    latency_ns: int
    code: int  # 0: no answer (the error says why)
    error: str


@dataclass(frozen=True)
class Attack:
    hits: list[Hit]
    cpu_s: float  # vegeta's own, user and system


def attack(vegeta: Path, target_file: Path, rate: int, seconds: float, workdir: Path) -> Attack:
    """Offer ``rate`` requests a second for ``seconds`` (open loop: vegeta starts more workers
    rather than let the schedule slip), each target once, in order."""
    results = workdir / "vegeta-results.bin"
    before = _children_cpu_s()
    with results.open("wb") as out:
        subprocess.run(  # noqa: S603 - fixed argv
            [
                str(vegeta),
                "attack",
                "-format=json",
                f"-targets={target_file}",
                f"-rate={rate}/s",
                f"-duration={seconds}s",
                "-timeout=30s",
                "-keepalive=true",
            ],
            stdout=out,
            check=True,
            timeout=seconds + 120,
        )
    cpu = _children_cpu_s() - before
    encoded = subprocess.run(  # noqa: S603 - fixed argv
        [str(vegeta), "encode", "--to", "json", str(results)],
        capture_output=True,
        check=True,
        timeout=300,
    ).stdout
    results.unlink()
    return Attack([parse_hit(json.loads(line)) for line in encoded.splitlines() if line], cpu)


def parse_hit(row: Mapping[str, object]) -> Hit:
    """One line of `vegeta encode --to json`."""
    started = datetime.fromisoformat(str(row["timestamp"]))
    return Hit(
        seq=int(str(row["seq"])),
        started_ns=(started - EPOCH) // timedelta(microseconds=1) * 1000,
        latency_ns=int(str(row["latency"])),
        code=int(str(row["code"])),
        error=str(row.get("error") or ""),
    )


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
