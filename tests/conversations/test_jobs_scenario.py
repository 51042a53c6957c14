"""`sfa chat --script` with three users (manager maya, technicians tono and agus) and the
scheduler's pushes: a P1 job declined by the nearer technician, taken and completed by
the second; a P1 job nobody answers, escalated and assigned by hand."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
MONDAY_0900_JAKARTA = "2026-03-02T02:00:00+00:00"


@pytest.fixture
def seeded(tmp_path: Path) -> dict[str, str]:
    env = {"SFA_DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.db'}",
           "SFA_DATA_DIR": str(tmp_path / "data"), "SFA_LOG_LEVEL": "CRITICAL"}
    result = CliRunner().invoke(main, ["seed", "--companies", "30", "--contacts", "60"],
                                env=env)
    assert result.exit_code == 0, result.output
    return env


def play(env: dict[str, str], script: str) -> str:
    result = CliRunner().invoke(main, ["chat", "--as", "maya", "--now", MONDAY_0900_JAKARTA,
                                       "--script", str(SCENARIOS / script)], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def job_row(env: dict[str, str], job_id: int) -> tuple[str, str | None, str | None]:
    path = env["SFA_DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "select j.status, u.login, j.parts from service_jobs j "
            "left join users u on u.id = j.technician_id where j.id = ?", (job_id,)).fetchone()
    assert row is not None
    return row


def test_p1_declined_then_accepted_and_completed(seeded: dict[str, str]) -> None:
    out = play(seeded, "jobs_p1.txt")
    created = out.split("bot: Job #")[1]
    job_id = int(created.split(" ")[0])
    assert created.split(" created and offered to ")[1].startswith("Tono Sugiarto (0.6 km away)")
    # the offer is pushed to tono in Indonesian; he declines; agus gets it and accepts.
    assert f"bot → tono: 🔧 Tawaran pekerjaan baru\n     Pekerjaan #{job_id} · P1 mendesak" in out
    assert f"bot: Pekerjaan #{job_id} ditolak; dialihkan ke teknisi berikutnya." in out
    assert f"bot → agus: 🔧 New job offer\n     Job #{job_id} · P1 urgent · Repair" in out
    assert f"bot: Job #{job_id} is yours. Expected on site at 09:32." in out
    assert f"bot → maya: 👍 Agus Salim took job #{job_id} at PT Sinar Jaya Abadi." in out
    assert "bot: You are 3.4 km from the site; on site means within 500 m." in out
    assert f"bot: On site at job #{job_id} since 09:02." in out
    assert (f"bot: Job #{job_id} is done. Parts: 2× fuse 5A, 1× thermal paste. The rep and "
            "the manager are told.") in out
    assert (f"bot → maya: ✅ Job #{job_id} at PT Sinar Jaya Abadi was completed by Agus Salim"
            in out)
    status, login, parts = job_row(seeded, job_id)
    assert (status, login) == ("done", "agus") and "fuse 5A" in (parts or "")


def test_p1_times_out_escalates_and_is_assigned_by_hand(seeded: dict[str, str]) -> None:
    out = play(seeded, "jobs_timeout.txt")
    job_id = int(out.split("bot: Job #")[1].split(" ")[0])
    assert f"bot → tono: 🔧 Tawaran pekerjaan baru\n     Pekerjaan #{job_id}" in out
    assert (f"bot → maya: ⚠ No technician took job #{job_id}: please assign it by hand.\n"
            "     Asked: Tono Sugiarto (no answer)") in out
    assert f"bot: Job #{job_id} assigned to Tono Sugiarto; they have been told." in out
    assert "bot → tono: 📋 Anda mendapat tugas pekerjaan." in out
    assert f"bot: Dalam perjalanan ke pekerjaan #{job_id}." in out
    assert job_row(seeded, job_id)[:2] == ("en_route", "tono")
