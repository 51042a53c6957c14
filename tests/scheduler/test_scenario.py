"""`sfa chat --script` with a manual clock: pushes appear in the transcript as the clock
moves (`@advance`), addressed to the console identities they are for."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from bot.cli import main

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def test_reminders_scenario_through_the_cli(tmp_path: Path) -> None:
    env = {"SFA_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
           "SFA_DATA_DIR": str(tmp_path / "data"), "SFA_LOG_LEVEL": "WARNING"}
    runner = CliRunner()
    seeded = runner.invoke(main, ["seed", "--base-only", "--companies", "30",
                                  "--contacts", "60"], env=env)
    assert seeded.exit_code == 0, seeded.output
    result = runner.invoke(main, ["chat", "--as", "budi", "--now", "2026-03-02T02:00:00+00:00",
                                  "--script", str(SCENARIOS / "reminders.txt")], env=env)
    out = result.stdout
    assert result.exit_code == 0, out
    assert "Delivery scheduled for Tue 3 Mar 2026 10:00" in out
    assert "Recorded: the message went to the customer." in out
    assert "Complaint #1 registered." in out
    assert "--- clock: 2026-03-02T07:00:00+00:00 ---" in out
    pushed = out[out.index("--- clock:"):]
    assert "bot → budi: ⏰ Complaint follow-up due: Invoice sent to the wrong office" in pushed
    assert "bot → budi: 🚚 Delivery on Tue 3 Mar 2026 10:00" in pushed
    assert "The customer was told on Mon 2 Mar 2026 09:00." in pushed
    assert "bot → maya: ⚠️ A complaint is still open past its deadline." in pushed
    assert "Complaint #1 resolved." in pushed
    assert out.count("bot → maya: ⚠️") == 1
