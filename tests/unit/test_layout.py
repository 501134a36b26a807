"""The layout's rules, read from the source: the core imports no stage and no tooling, no stage
imports another, and every package of the tree is installed."""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOP = ("herald", "streams", "connectors", "api", "infra", "lab")
# Package data installed inside the core (pyproject's package-dir).
MAPPED = {"herald.schemas": "schemas", "herald.templates": "templates"}
# The stages inside connectors/: each may use the providers, none another stage.
CONNECTOR_STAGES = ("connectors.delivery", "connectors.sink")


def modules(package: str) -> Iterator[tuple[str, Path]]:
    base = ROOT / package.replace(".", "/")
    for path in sorted(base.rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        yield name.removesuffix(".__init__"), path


def _at_import_time(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements that run when the module is imported: not function bodies, not what only a
    type checker reads (``if TYPE_CHECKING:``)."""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        yield node
        if isinstance(node, ast.If):
            if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                yield from _at_import_time(node.body)
            yield from _at_import_time(node.orelse)
        elif isinstance(node, ast.Try):
            for part in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _at_import_time(part)
        elif isinstance(node, ast.With | ast.ClassDef):
            yield from _at_import_time(node.body)


def imports(path: Path, *, top_level_only: bool = False) -> set[str]:
    """Modules ``path`` imports; with ``top_level_only``, only those imported with it."""
    tree = ast.parse(path.read_text())
    nodes = list(_at_import_time(tree.body)) if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: a relative import; Herald imports absolutely"
            if node.module:
                found.add(node.module)
    return found


def within(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


@pytest.mark.parametrize(("name", "path"), list(modules("herald")))
def test_the_core_imports_no_stage_and_no_tooling(name: str, path: Path) -> None:
    # The CLI is the one way in: it imports stages and tooling inside its commands only.
    found = imports(path, top_level_only=within(name, "herald.cli"))
    assert not {m for m in found if within(m, "streams", "connectors", "api", "infra", "lab")}


@pytest.mark.parametrize(("name", "path"), list(modules("streams")))
def test_streams_imports_no_other_stage(name: str, path: Path) -> None:
    assert not {m for m in imports(path) if within(m, "connectors", "api", "infra", "lab")}


@pytest.mark.parametrize(("name", "path"), list(modules("api")))
def test_the_api_imports_no_other_stage(name: str, path: Path) -> None:
    assert not {m for m in imports(path) if within(m, "streams", "connectors", "infra", "lab")}


@pytest.mark.parametrize(("name", "path"), list(modules("connectors")))
def test_connectors_import_no_other_stage(name: str, path: Path) -> None:
    found = imports(path)
    assert not {m for m in found if within(m, "streams", "api", "infra", "lab")}
    own = [stage for stage in CONNECTOR_STAGES if within(name, stage)]
    others = [stage for stage in CONNECTOR_STAGES if stage not in own]
    assert not {m for m in found if within(m, *others)}


@pytest.mark.parametrize(("name", "path"), list(modules("infra")))
def test_infra_imports_only_the_core(name: str, path: Path) -> None:
    assert not {m for m in imports(path) if within(m, "streams", "connectors", "api", "lab")}


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
