"""The house's layering, read from the source with the standard library's ast: no import
circle anywhere in the product, and no arrow pointing the wrong way (core imports no chat
side, the scheduler no door, a flow no door).

Every import counts: at the top, inside a function (a lazy import hides a circle, it does not
remove it) and under `if TYPE_CHECKING:` (a circle of types is still one a reader follows).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("core", "bot", "scheduler", "search_index")

# package -> what it may never import (our packages and third-party top-level names)
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "core": ("bot", "scheduler", "search_index", "telegram", "slack_bolt", "slack_sdk",
             "apscheduler", "whoosh"),
    "scheduler": ("bot", "search_index", "telegram", "slack_bolt", "slack_sdk", "whoosh"),
    "search_index": ("bot", "scheduler", "telegram", "slack_bolt", "slack_sdk", "apscheduler"),
    "bot.conversations": ("bot.handlers", "telegram", "slack_bolt", "slack_sdk", "apscheduler",
                          "whoosh", "search_index", "scheduler"),
    # A door only translates: the database is the chat side's (bot.conversations.door_services,
    # bot.intake.queue), never a door's own.
    "bot.handlers": ("sqlalchemy", "bot.conversations.models", "bot.intake.store",
                     "bot.intake.models", "core.db"),
}
DOOR_MAX_LINES = 500


def modules(root: Path, packages: Iterable[str]) -> dict[str, tuple[Path, bool]]:
    """module name -> (file, is a package's __init__)."""
    found: dict[str, tuple[Path, bool]] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            found[".".join(parts)] = (path, is_package)
    return found


def imported_names(path: Path, module: str, is_package: bool, *, qualified: bool = True
                   ) -> set[str]:
    """Every dotted name `module` imports, anywhere in the file (relative ones resolved):
    for `from a import b`, a.b when `qualified` (b may be a module), else a."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if qualified:
                names.update(f"{source}.{alias.name}" for alias in node.names)
            else:
                names.add(source)
    return names


def import_graph(root: Path, packages: Iterable[str]) -> dict[str, set[str]]:
    """Our module -> the modules of ours it imports (the deepest module a name reaches)."""
    found = modules(root, packages)

    def ours(name: str) -> str | None:
        while name and name not in found:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in found.items():
        targets = {ours(n) for n in imported_names(path, name, is_package)}
        graph[name] = {t for t in targets if t is not None and t != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: strongly connected groups of more than one module (Tarjan), each
    as one loop through it, e.g. ["a", "b", "a"]."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(start: str) -> None:  # iterative: no recursion limit on a long chain
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(group)

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return [_loop(graph, group) for group in groups]


def _loop(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest loop from the group's first module back to itself (breadth first)."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & group):
            if child == start:
                return [*paths[node], start]
            if child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    raise AssertionError("a strongly connected group always has a loop")


def wrong_arrows(root: Path) -> list[str]:
    """'importer -> imported' for every import a package's rule forbids."""
    found = modules(root, PRODUCT)
    bad = []
    for name, (path, is_package) in found.items():
        for package, forbidden in FORBIDDEN.items():
            if name != package and not name.startswith(package + "."):
                continue
            def against(target: str, forbidden: tuple[str, ...] = forbidden) -> bool:
                return any(target == f or target.startswith(f + ".") for f in forbidden)

            # `from a import b`: a when a is forbidden, else a.b (`from bot import handlers`)
            sources = {n for n in imported_names(path, name, is_package, qualified=False)
                       if against(n)}
            bad += [f"{name} -> {n}" for n in sources]
            bad += [f"{name} -> {n}" for n in imported_names(path, name, is_package)
                    if against(n) and not any(n.startswith(s + ".") for s in sources)]
    return sorted(set(bad))


def test_no_import_circles() -> None:
    found = circles(import_graph(ROOT, PRODUCT))
    assert not found, "import circles (break each by moving the shared piece down):\n" + \
        "\n".join(" -> ".join(loop) for loop in found)


def test_no_arrow_points_the_wrong_way() -> None:
    bad = wrong_arrows(ROOT)
    assert not bad, "imports against the layering (see docs/DEVELOPING.md):\n" + "\n".join(bad)


def test_doors_only_translate() -> None:
    """No door file over DOOR_MAX_LINES lines; none opens a session or takes the engine's
    lock (the imports are checked above; these are the calls through the engine)."""
    too_long, own_database = [], []
    for path in sorted((ROOT / "bot" / "handlers").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > DOOR_MAX_LINES:
            too_long.append(f"{path.name}: {text.count(chr(10))} lines")
        if any(call in text for call in (".db.session(", ".db.engine", "writer_lock",
                                         ".sessionmaker(")):
            own_database.append(path.name)
    assert too_long == [] and own_database == []


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_checks_see_lazy_typing_and_relative_imports(tmp_path: Path) -> None:
    _tree(tmp_path, {
        "core/__init__.py": "",
        "core/a.py": "def f():\n    from core import b\n",
        "core/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import X\n",
        "core/c.py": "import core.a\nX = 1\n",
        "core/d.py": "from core.e import Y\n",
        "core/e.py": "Y = 2\n",
        "core/sub/__init__.py": "from . import f\n",
        "core/sub/f.py": "from .. import d\n",
    })
    graph = import_graph(tmp_path, ("core",))
    assert graph["core.sub"] == {"core.sub.f"} and graph["core.sub.f"] == {"core.d"}
    assert circles(graph) == [["core.a", "core.b", "core.c", "core.a"]]


@pytest.mark.parametrize(("package", "line"), [
    ("core", "import telegram"),
    ("core", "def f():\n    from bot.conversations import flow\n"),
    ("core", "from apscheduler.schedulers.asyncio import AsyncIOScheduler"),
    ("core", "from bot.intake.store import record_update"),
    ("core", "from bot.conversations.models import ConversationState"),
    ("scheduler", "from bot.app import App"),
    ("bot/conversations", "from bot.handlers.slack import SlackDoor"),
    ("bot/conversations", "from bot import handlers"),
    ("bot/handlers", "from sqlalchemy import select"),
    ("search_index", "import scheduler.outbox"),
])
def test_a_wrong_arrow_is_found(tmp_path: Path, package: str, line: str) -> None:
    _tree(tmp_path, {f"{p}/__init__.py": "" for p in ("core", "bot", "bot/conversations",
                                                        "scheduler", "search_index")})
    _tree(tmp_path, {f"{package}/x.py": line + "\n"})
    assert len(wrong_arrows(tmp_path)) == 1
