"""Wiring is explicit: the composition root names the sweep and flow modules, and a name that
is unknown, fails to import or declares nothing stops start-up with one clear line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from click.testing import CliRunner

import bot.app
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


def test_understanders_train_each_set_of_intents_once_per_owner() -> None:
    phrasings = build_registry(("bot.conversations.lookup",)).phrasings
    owner = Understanders()
    trained = owner.for_phrasings(phrasings)
    assert owner.for_phrasings(dict(phrasings)) is trained  # same intents: kept
    assert Understanders().for_phrasings(phrasings) is not trained  # nothing process-wide
    assert owner.for_phrasings({}) is not trained

