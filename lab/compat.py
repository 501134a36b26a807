"""Schema evolution check: every version of each contract, as committed in git and as edited
now, must be BACKWARD compatible with the one before it, judged by the schema registry."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from herald.codec import AvroCodec
from herald.contracts import COMPATIBILITY, SCHEMA_DIR


def _git(args: list[str], cwd: Path) -> str:
    argv = ["git", *args]  # git from PATH, fixed arguments
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=True).stdout  # noqa: S603


def history(path: Path) -> list[dict[str, Any]]:
    """The schema's committed versions, oldest first, then the working copy if it differs."""
    root = Path(_git(["rev-parse", "--show-toplevel"], path.parent).strip())
    relative = path.resolve().relative_to(root)
    commits = _git(["log", "--reverse", "--format=%H", "--", str(relative)], root).split()
    versions = [json.loads(_git(["show", f"{c}:{relative}"], root)) for c in commits]
    current = json.loads(path.read_text())
    if not versions or versions[-1] != current:
        versions.append(current)
    return distinct(versions)


def distinct(versions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive duplicates removed (a commit that only touched whitespace)."""
    result: list[dict[str, Any]] = []
    for version in versions:
        if not result or result[-1] != version:
            result.append(version)
    return result


def incompatible_step(codec: AvroCodec, name: str, versions: list[dict[str, Any]]) -> int | None:
    """Index of the first version the registry refuses after its predecessor, or None."""
    subject = f"herald-compat-check-{uuid.uuid4().hex}-{name}"
    codec.set_compatibility(subject, COMPATIBILITY)
    try:
        for index, version in enumerate(versions):
            if index and not codec.compatible(subject, version):
                return index
            codec.register(subject, version)
        return None
    finally:
        codec.delete_subject(subject)


def check_all(codec: AvroCodec, directory: Path = SCHEMA_DIR) -> list[str]:
    """Problems found, one line each; empty when every contract evolved compatibly."""
    problems = []
    for path in sorted(directory.glob("*.avsc")):
        try:
            versions = history(path)
        except subprocess.CalledProcessError as error:
            problems.append(f"{path.name}: git could not read its history: {error.stderr}")
            continue
        step = incompatible_step(codec, path.stem, versions)
        if step is not None:
            problems.append(
                f"{path.name}: version {step + 1} of {len(versions)} is not "
                f"{COMPATIBILITY} compatible with version {step}"
            )
    return problems
