"""`sfa health` and the process-role options of `sfa run` / `sfa scheduler` (no processes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main


def test_health_reports_migrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFA_DATABASE_URL", f"sqlite:///{tmp_path / 'h.db'}")
    monkeypatch.setenv("SFA_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    behind = runner.invoke(main, ["health"])
    assert behind.exit_code == 1
    assert json.loads(behind.output)["migrations"] == "behind: run sfa db upgrade"
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    ok = runner.invoke(main, ["health"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output) == {"status": "ok", "database": "ok", "migrations": "ok"}


def test_role_options_are_offered() -> None:
    runner = CliRunner()
    run_help = runner.invoke(main, ["run", "--help"]).output
    assert "--no-scheduler" in run_help and "--ops-port" in run_help
    assert "--ops-port" in runner.invoke(main, ["scheduler", "--help"]).output
