"""Wiring is explicit: the composition root names the sweep and flow modules, and a name that
is unknown, fails to import or declares nothing stops start-up with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import bot.app
from bot.app import SWEEP_MODULES, build_sweeps
from bot.cli import main
from bot.conversations.registry import build_registry
from core.sweeps import gather
from core.wiring import WiringError

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
