"""`sfa chat --script` on the terminal door: near me from `@location`, plan my day, a dropped
stop, a verified check-in, and a live location (`@live`) that brings the arrival brief
through the scheduler's push."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "field_day.txt"
MONDAY_0800_JAKARTA = "2026-03-02T01:00:00+00:00"


def test_the_field_day_in_the_terminal(tmp_path: Path) -> None:
    env = {"SFA_DATABASE_URL": f"sqlite:///{tmp_path / 'field.db'}",
           "SFA_DATA_DIR": str(tmp_path / "data"), "SFA_LOG_LEVEL": "CRITICAL"}
    result = CliRunner().invoke(main, ["seed", "--companies", "30", "--contacts", "60"],
                                env=env)
    assert result.exit_code == 0, result.output
    with sqlite3.connect(tmp_path / "field.db") as conn:
        lat, lon = conn.execute("select s.lat, s.lon from company_sites s join companies c on "
                                "c.id = s.company_id where c.name = 'Sinar Jaya Abadi' and "
                                "s.kind = 'head_office'").fetchone()
    script = tmp_path / "field_day.txt"
    script.write_text(SCENARIO.read_text().format(lat=lat, lon=lon, near_lat=lat + 0.0009,
                                                  far_lat=lat + 0.05))
    result = CliRunner().invoke(main, ["chat", "--as", "budi", "--now", MONDAY_0800_JAKARTA,
                                       "--script", str(script)], env=env)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "(📍 Share location: type @location LAT,LON)" in out
    assert "bot: Customers near you:\n     1. PT Sinar Jaya Abadi — 100 m" in out
    assert "bot: 🗺 Your day, Mon 2 Mar 2026:" in out
    assert "🧭 Route: https://www.google.com/maps/dir/?api=1" in out
    assert "📎 day-2026-03-02.ics" in out
    assert "bot: Dropped; planned again." in out
    assert "bot: ✅ Checked in at your visit to PT Sinar Jaya Abadi: verified, 0 m from its " \
        "site." in out
    assert "budi: 📡 " in out
    pushed = out.split("--- clock:")[1]
    assert "bot → budi: You are at PT Sinar Jaya Abadi." in pushed
    assert "📋 Brief: PT Sinar Jaya Abadi" in pushed and "⏰ Follow-up due" in pushed
    assert pushed.count("📋 Brief:") == 1
