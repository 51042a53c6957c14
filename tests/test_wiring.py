"""Wiring is explicit: the composition root names the sweep and flow modules, and a name that
is unknown, fails to import or declares nothing stops start-up with one clear line."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import bot.app
import bot.conversations.registry
from bot.app import SWEEP_MODULES, build_sweeps
from bot.cli import main
from bot.cli.import_errors import IMPORT_ERRORS
from bot.conversations.registry import build_registry
from bot.conversations.understanding.understander import Understanders
from bot.i18n import Translator, load_catalogue
from core.sweeps import gather
from core.wiring import WiringError

ROOT = Path(__file__).resolve().parent.parent
DOMAIN_ERRORS = {"DomainError", "NotFound", "Forbidden", "Conflict"}
# Codes shown as the code on purpose: `sfa backup` / `sfa restore` run without building the
# app (no registry, maybe no database) and print "backup failed: CODE {params}".
CODES_SHOWN_AS_CODES = {"backup.no_database", "backup.no_file", "backup.pg_dump_missing"}

# Every periodic due-work of the areas: one gone from this list is a reminder nobody gets.
EXPECTED_SWEEPS = {
    "lead.allocation", "lead.escalation", "followups.due", "followups.meeting_brief",
    "followups.morning_plan", "followups.thanks", "complaints.escalation",
    "deliveries.reminders", "fieldservice.offers", "fieldservice.late_jobs",
    "knowledge.locks", "reports.weekly_digest", "fieldday.plan_briefs", "updates.forget",
}


def test_the_composition_root_gathers_every_areas_sweeps_once() -> None:
    sweeps = build_sweeps()
    assert set(sweeps.names) == EXPECTED_SWEEPS
    assert len(sweeps) == len(EXPECTED_SWEEPS)
    assert all(item.every.total_seconds() > 0 for item in sweeps)


def test_a_misspelt_failing_or_empty_sweep_module_is_one_line_not_a_skip(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sfa_wiring_boom.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cases = {
        "core.leds": "sweeps: there is no module core.leds",
        "sfa_wiring_boom": "sweeps: module sfa_wiring_boom failed to import: "
                           "RuntimeError: boom",
        "core.errors": "sweeps: module core.errors marks no sweep",
    }
    for name, line in cases.items():
        with pytest.raises(WiringError) as caught:
            gather(["core.leads", name])
        assert str(caught.value) == line


def test_the_same_sweep_gathered_twice_is_refused() -> None:
    with pytest.raises(WiringError, match=r"lead\.allocation is declared twice"):
        gather(["core.leads", "core.leads"])


def test_an_unknown_flow_module_is_one_line() -> None:
    with pytest.raises(WiringError) as caught:
        build_registry(("bot.conversations.lookup", "bot.conversations.lokup"))
    assert str(caught.value) == "flows: there is no module bot.conversations.lokup"
    with pytest.raises(WiringError, match=r"flows: module core\.errors has no register"):
        build_registry(("core.errors",))


def test_start_up_stops_with_one_clear_line_on_an_unknown_sweep_module(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bot.app, "SWEEP_MODULES", (*SWEEP_MODULES, "core.remindres"))
    db_file = tmp_path / "cli.db"
    env = {"SFA_DATABASE_URL": f"sqlite:///{db_file}", "SFA_DATA_DIR": str(tmp_path / "data"),
           "SFA_LOG_LEVEL": "WARNING"}
    result = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert result.exit_code == 2
    assert result.stderr == "error: sweeps: there is no module core.remindres\n"
    assert "database is up to date" not in result.stdout
    assert not db_file.exists()  # stopped before touching the database


def raised_codes() -> dict[str, str]:
    """code -> where: every DomainError (or subclass) raised with a literal code."""
    found: dict[str, str] = {}
    for top in ("core", "bot", "scheduler", "search_index"):
        for path in sorted((ROOT / top).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Call) and node.args
                        and isinstance(node.args[0], ast.Constant)
                        and isinstance(node.args[0].value, str)):
                    continue
                func = node.func
                name = (func.id if isinstance(func, ast.Name)
                        else func.attr if isinstance(func, ast.Attribute) else None)
                if name in DOMAIN_ERRORS:
                    found.setdefault(node.args[0].value,
                                     f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_error_code_raised_has_wired_words_in_both_languages() -> None:
    texts = build_registry().errors.joined(IMPORT_ERRORS)  # the chat's and sfa's
    codes = raised_codes()
    assert len(codes) > 200  # the scan sees the code base
    missing = [f"{where}: {code}" for code, where in sorted(codes.items())
               if texts.message(code) is None and code not in CODES_SHOWN_AS_CODES]
    assert not missing, "give these codes words (ERRORS of a wired module):\n" + \
        "\n".join(missing)
    indonesian = load_catalogue("id")
    untranslated = [code for code in texts.codes if texts.message(code) not in indonesian]
    assert not untranslated


def test_error_texts_come_from_wired_modules_only() -> None:
    import bot.conversations.deal  # noqa: F401  (imported, not wired: contributes nothing)

    registry = build_registry(("bot.conversations.lookup",))
    assert registry.errors.message("deal.bad_stage") is None
    assert registry.errors.message("link.bad_code") is not None  # the engine's own
    t = Translator("id", errors=registry.errors)
    assert t.error("deal.bad_stage", {"stage": "x"}) == \
        t("That did not work ({code}). Try again, or /cancel.", code="deal.bad_stage")
    wired = Translator("id", errors=build_registry().errors)
    assert wired.error("deal.bad_stage", {"stage": "x"}) == \
        wired("There is no stage called {stage}.", stage="x") != "There is no stage called x."
    # A stage key in a parameter is shown as its label (deal's ERROR_WORDS), in Indonesian.
    shown = wired.error("deal.closed", {"stage": "order_placed"})
    assert "order_placed" not in shown and wired("Order placed") in shown
    # A translator for another language keeps the texts it was given.
    assert wired.in_language("en").error("deal.bad_stage", {"stage": "x"}) == \
        "There is no stage called x."


def test_a_failing_registration_is_one_line(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sfa_wiring_clash.py").write_text(
        "def register(registry):\n"
        "    registry.add_errors({'deal.bad_stage': 'Some other words.'})\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(WiringError) as caught:
        build_registry(("bot.conversations.deal", "sfa_wiring_clash"))
    assert str(caught.value) == ("flows: module sfa_wiring_clash failed to register: "
                                 "ValueError: error code 'deal.bad_stage' given two "
                                 "different texts")


def test_start_up_stops_with_one_clear_line_on_a_failing_registration(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sfa_wiring_clash.py").write_text(
        "def register(registry):\n"
        "    registry.add_errors({'deal.bad_stage': 'Some other words.'})\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(bot.conversations.registry, "FLOW_MODULES",
                        (*bot.conversations.registry.FLOW_MODULES, "sfa_wiring_clash"))
    db_file = tmp_path / "cli.db"
    env = {"SFA_DATABASE_URL": f"sqlite:///{db_file}", "SFA_DATA_DIR": str(tmp_path / "data"),
           "SFA_LOG_LEVEL": "WARNING"}
    result = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert result.exit_code == 2
    assert result.stderr == ("error: flows: module sfa_wiring_clash failed to register: "
                             "ValueError: error code 'deal.bad_stage' given two different "
                             "texts\n")
    assert not db_file.exists()  # stopped before touching the database

def test_understanders_train_each_set_of_intents_once_per_owner() -> None:
    phrasings = build_registry(("bot.conversations.lookup",)).phrasings
    owner = Understanders()
    trained = owner.for_phrasings(phrasings)
    assert owner.for_phrasings(dict(phrasings)) is trained  # same intents: kept
    assert Understanders().for_phrasings(phrasings) is not trained  # nothing process-wide
    assert owner.for_phrasings({}) is not trained


# -- no module-level mutable registries ------------------------------------------------------
# A module-level dict/list/set (or dict(), set(), defaultdict(), WeakValueDictionary() ...)
# that a function changes (item assignment or del, .append/.update/.add/.setdefault/...; in
# its own module or through an import), or a name a function rebinds with `global`, is state
# the whole process shares: wiring by import, caches no one owns. The registry object, the
# app's Services or an owner the composition root makes hold such state instead. A table
# built at import and only read afterwards is not flagged (only changes inside a function
# count), so constants need no entry here.
REGISTRY_SCAN = ("bot", "core", "scheduler", "search_index")
_MUTATORS = {"append", "extend", "insert", "update", "setdefault", "add", "pop", "popitem",
             "clear", "remove", "discard", "appendleft", "move_to_end", "__setitem__",
             "__delitem__"}
_MUTABLE_CALLS = {"dict", "list", "set", "defaultdict", "OrderedDict", "deque", "Counter",
                  "WeakValueDictionary", "WeakKeyDictionary", "WeakSet"}
# State that mirrors a facility Python or a library keeps once per process: owning it in an
# object would not make it per-app. module:name -> why.
PROCESS_WIDE = {
    # gc.freeze() acts on the interpreter's heap: done once per process.
    "bot.handlers.telegram_api:_heap_frozen": "gc.freeze() is process-wide",
    # logging's record factory is process-wide: one redacting factory, told every secret.
    "bot.logs:_SECRETS": "logging.setLogRecordFactory is process-wide",
    "bot.logs:_factory_installed": "logging.setLogRecordFactory is process-wide",
    # prometheus_client's REGISTRY is process-wide: the outbox collector registered once.
    "bot.observability:_collector_registered": "prometheus_client.REGISTRY is process-wide",
}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_mutable(value: ast.expr) -> bool:
    if isinstance(value, ast.Dict | ast.List | ast.Set | ast.DictComp | ast.ListComp
                  | ast.SetComp):
        return True
    if isinstance(value, ast.Call):
        func = value.func
        name = (func.id if isinstance(func, ast.Name)
                else func.attr if isinstance(func, ast.Attribute) else None)
        return name in _MUTABLE_CALLS
    return False


def module_registries(root: Path, tops: tuple[str, ...] = REGISTRY_SCAN) -> dict[str, str]:
    """"module:name" -> where a function changes it, for every module-level mutable value
    changed inside a function (and every name rebound through `global`)."""
    trees = {_module_name(path, root): ast.parse(path.read_text(encoding="utf-8"))
             for top in tops for path in sorted((root / top).rglob("*.py"))}
    defined: set[tuple[str, str]] = set()
    for module, tree in trees.items():
        for node in tree.body:
            pairs = ([(t, node.value) for t in node.targets] if isinstance(node, ast.Assign)
                     else [(node.target, node.value)]
                     if isinstance(node, ast.AnnAssign) and node.value is not None else [])
            defined.update((module, target.id) for target, value in pairs
                           if isinstance(target, ast.Name) and _is_mutable(value))
    found: dict[str, str] = {}
    for module, tree in trees.items():
        aliases: dict[str, str | tuple[str, str]] = {}
        for found_import in ast.walk(tree):
            if isinstance(found_import, ast.Import):
                for alias in found_import.names:
                    aliases[alias.asname or alias.name.split(".")[0]] = (
                        alias.name if alias.asname else alias.name.split(".")[0])
            elif (isinstance(found_import, ast.ImportFrom) and found_import.module
                  and not found_import.level):
                for alias in found_import.names:
                    full = f"{found_import.module}.{alias.name}"
                    aliases[alias.asname or alias.name] = (
                        full if full in trees else (found_import.module, alias.name))

        def resolve(expr: ast.expr, module: str = module,
                    aliases: dict[str, str | tuple[str, str]] = aliases
                    ) -> tuple[str, str] | None:
            while isinstance(expr, ast.Subscript):  # REG[key].append(...) changes REG too
                expr = expr.value
            if isinstance(expr, ast.Name):
                if (module, expr.id) in defined:
                    return module, expr.id
                imported = aliases.get(expr.id)
                return imported if isinstance(imported, tuple) and imported in defined else None
            if isinstance(expr, ast.Attribute):
                base, names = expr.value, []
                while isinstance(base, ast.Attribute):
                    names.append(base.attr)
                    base = base.value
                owner = aliases.get(base.id) if isinstance(base, ast.Name) else None
                if isinstance(owner, str):
                    key = (".".join([owner, *reversed(names)]), expr.attr)
                    return key if key in defined else None
            return None

        def visit(node: ast.AST, inside: bool, module: str = module,
                  resolve: Any = resolve) -> None:
            inside = inside or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef
                                          | ast.Lambda)
            if inside:
                hits: list[tuple[str, str] | None] = []
                if isinstance(node, ast.Assign | ast.Delete):
                    hits += [resolve(t.value) for t in node.targets
                             if isinstance(t, ast.Subscript)]
                elif isinstance(node, ast.AugAssign | ast.AnnAssign) and isinstance(
                        node.target, ast.Subscript):
                    hits.append(resolve(node.target.value))
                elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                      and node.func.attr in _MUTATORS):
                    hits.append(resolve(node.func.value))
                elif isinstance(node, ast.Global):
                    hits += [(module, name) for name in node.names]
                for hit in hits:
                    if hit is not None:
                        found.setdefault(f"{hit[0]}:{hit[1]}",
                                         f"{module.replace('.', '/')}.py:"
                                         f"{getattr(node, 'lineno', 0)}")
            for child in ast.iter_child_nodes(node):
                visit(child, inside)

        visit(tree, False)
    return found


def test_no_module_level_mutable_registries() -> None:
    found = module_registries(ROOT)
    unexplained = {name: where for name, where in found.items() if name not in PROCESS_WIDE}
    assert not unexplained, (
        "module-level state changed at run time (give it an owner the composition root "
        "makes, or a registry field):\n" + "\n".join(f"{name} changed at {where}"
                                                     for name, where in unexplained.items()))
    assert set(PROCESS_WIDE) <= set(found), "an allow-list entry no longer needed"


def test_the_registry_check_finds_planted_registries(tmp_path: Path) -> None:
    (tmp_path / "core").mkdir()
    (tmp_path / "bot").mkdir()
    (tmp_path / "core" / "__init__.py").write_text("")
    (tmp_path / "core" / "hooks.py").write_text(
        "from collections import defaultdict\n"
        "_HOOKS: dict[str, object] = {}\n"
        "_BY_KIND = defaultdict(list)\n"
        "LABELS = {'a': 'A'}\n"  # a table, only read: fine
        "ORDER = []\n"
        "for key in LABELS:\n"
        "    ORDER.append(key)\n"  # built at import: fine
        "_SEEN = set()\n"
        "_ready = False\n"
        "def hook(name):\n"
        "    def mark(fn):\n"
        "        _HOOKS[name] = fn\n"
        "        return fn\n"
        "    return mark\n"
        "def ready():\n"
        "    global _ready\n"
        "    _ready = True\n"
        "def label(key):\n"
        "    return LABELS.get(key, key)\n")
    (tmp_path / "bot" / "wiring.py").write_text(
        "import core.hooks as hooks\n"
        "from core.hooks import _BY_KIND\n"
        "def wire(kind, fn):\n"
        "    _BY_KIND[kind].append(fn)\n"  # through an import, inside an item
        "    hooks._SEEN.add(kind)\n"  # through the module
        "    return sorted(hooks.LABELS)\n")
    found = module_registries(tmp_path, ("core", "bot"))
    assert found == {"core.hooks:_HOOKS": "core/hooks.py:12",
                     "core.hooks:_ready": "core/hooks.py:16",
                     "core.hooks:_BY_KIND": "bot/wiring.py:4",
                     "core.hooks:_SEEN": "bot/wiring.py:5"}
