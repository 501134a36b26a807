"""The layout's rules, read from the source: the core imports no stage and no tooling, no stage
imports another, and every package of the tree is installed."""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOP = ("herald", "streams", "connectors", "infra", "lab")
# Package data installed inside the core (pyproject's package-dir).
MAPPED = {"herald.schemas": "schemas", "herald.templates": "templates"}
# The stages inside connectors/: each may use the providers, none another stage.
CONNECTOR_STAGES = ("connectors.delivery", "connectors.sink")


def modules(package: str) -> Iterator[tuple[str, Path]]:
    base = ROOT / package.replace(".", "/")
    for path in sorted(base.rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        yield name.removesuffix(".__init__"), path


def imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    """Modules ``path`` imports; with ``top_level_only``, not those inside functions."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def within(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


@pytest.mark.parametrize(("name", "path"), list(modules("herald")))
def test_the_core_imports_no_stage_and_no_tooling(name: str, path: Path) -> None:
    # The CLI is the one way in: it imports stages and tooling inside its commands only.
    found = imports(path, top_level_only=within(name, "herald.cli"))
    assert not {m for m in found if within(m, "streams", "connectors", "infra", "lab")}


@pytest.mark.parametrize(("name", "path"), list(modules("streams")))
def test_streams_imports_no_other_stage(name: str, path: Path) -> None:
    assert not {m for m in imports(path) if within(m, "connectors", "infra", "lab")}


@pytest.mark.parametrize(("name", "path"), list(modules("connectors")))
def test_connectors_import_no_other_stage(name: str, path: Path) -> None:
    found = imports(path)
    assert not {m for m in found if within(m, "streams", "infra", "lab")}
    own = [stage for stage in CONNECTOR_STAGES if within(name, stage)]
    others = [stage for stage in CONNECTOR_STAGES if stage not in own]
    assert not {m for m in found if within(m, *others)}


@pytest.mark.parametrize(("name", "path"), list(modules("infra")))
def test_infra_imports_only_the_core(name: str, path: Path) -> None:
    assert not {m for m in imports(path) if within(m, "streams", "connectors", "lab")}


def test_every_package_is_installed() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(pyproject["tool"]["setuptools"]["packages"])
    in_tree = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in TOP
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert listed == in_tree | set(MAPPED)
    assert pyproject["tool"]["setuptools"]["package-dir"] == MAPPED
