"""Dependency hygiene: every third-party module the product imports is declared in
pyproject.toml, and every declared package is imported by the product (or is on the short
list of packages used without an import statement, each with its reason)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("bot", "core", "scheduler", "search_index", "migrations")
OWN = {"bot", "core", "scheduler", "search_index", "migrations", "tests", "benchmarks",
       "tools"}
# Declared but never named in an import statement, and why they are needed.
USED_WITHOUT_IMPORT = {
    "psycopg": "the SQLAlchemy driver of postgresql+psycopg:// URLs",
    "tzdata": "time zones where the OS has no zoneinfo database (zoneinfo falls back to it)",
}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~;\s]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    dev = {_name(r) for group in project["optional-dependencies"].values() for r in group}
    return runtime, dev


def _imported(folders: tuple[str, ...]) -> set[str]:
    names: set[str] = set()
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names.add(node.module.split(".")[0])
    return {n for n in names if n not in OWN and n not in sys.stdlib_module_names}


def _distributions(modules: set[str]) -> dict[str, set[str]]:
    known = importlib.metadata.packages_distributions()
    # A module not installed here is taken to come from the distribution of its own name.
    return {m: {d.lower().replace("_", "-") for d in known.get(m, [m])} for m in modules}


def test_every_imported_package_is_declared() -> None:
    runtime, dev = _declared()
    undeclared = {m: d for m, d in _distributions(_imported(PRODUCT)).items()
                  if not d & runtime}
    assert not undeclared, f"imported by the product but not in [project] dependencies: " \
                           f"{undeclared}"
    test_only = {m: d for m, d in _distributions(_imported(("tests",))).items()
                 if not d & (runtime | dev)}
    assert not test_only, f"imported by the tests but declared nowhere: {test_only}"


def test_every_declared_package_is_used() -> None:
    runtime, _dev = _declared()
    used = set().union(*_distributions(_imported(PRODUCT)).values())
    unused = runtime - used - set(USED_WITHOUT_IMPORT)
    assert not unused, f"declared but imported by nothing in {PRODUCT}: {sorted(unused)}"
