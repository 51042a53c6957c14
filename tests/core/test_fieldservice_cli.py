"""`sfa import jobs` and `sfa technicians` through the real CLI on a seeded SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main


def test_import_jobs_and_technician_profiles(tmp_path: Path) -> None:
    env = {"SFA_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
           "SFA_DATA_DIR": str(tmp_path / "data"), "SFA_LOG_LEVEL": "CRITICAL"}
    runner = CliRunner()
    assert runner.invoke(main, ["seed", "--companies", "30", "--contacts", "60"],
                         env=env).exit_code == 0
    csv_file = tmp_path / "jobs.csv"
    csv_file.write_text(
        "company,skill,priority,description,equipment,external_id\n"
        "Sinar Jaya Abadi,repair,P2,Printer jammed,HP M404,J-1\n"
        "Sinar Jaya Abadi,plumbing,3,Leak,,J-2\n", encoding="utf-8")

    dry = runner.invoke(main, ["import", "jobs", str(csv_file), "--dry-run"], env=env)
    assert dry.exit_code == 0 and "would import 1 jobs" in dry.stdout
    assert "line 3: Unknown skill plumbing" in dry.stderr
    done = runner.invoke(main, ["import", "jobs", str(csv_file), "--as", "maya"], env=env)
    assert done.exit_code == 0 and "imported 1 jobs" in done.stdout
    again = runner.invoke(main, ["import", "jobs", str(csv_file)], env=env)
    assert "imported 0 jobs, skipped 1 already imported" in again.stdout
    assert again.exit_code == 1
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        rows = conn.execute("select external_id, status from service_jobs "
                            "where external_id is not null").fetchall()
    # dispatched at once: offered, or escalated when nobody is on shift at this real hour
    assert rows in ([("J-1", "offered")], [("J-1", "escalated")])
    missing = tmp_path / "bad.csv"
    missing.write_text("company,skill\nx,y\n", encoding="utf-8")
    bad = runner.invoke(main, ["import", "jobs", str(missing)], env=env)
    assert bad.exit_code == 2 and "lacks the columns: priority, description" in bad.stderr

    saved = runner.invoke(main, ["technicians", "set", "agus", "--skills", "repair,hvac",
                                 "--shift", "06:00-14:00", "--days", "012345", "--cap", "2"],
                          env=env)
    assert saved.exit_code == 0, saved.output
    listed = runner.invoke(main, ["technicians", "list"], env=env).stdout
    assert "agus: skills hvac,repair; 06:00-14:00 on days 012345 (0=Mon); load cap 2" in listed
    wrong = runner.invoke(main, ["technicians", "set", "agus", "--skills", "juggling"], env=env)
    assert wrong.exit_code == 2 and "Unknown skill juggling" in wrong.stderr
    shift = runner.invoke(main, ["technicians", "set", "agus", "--skills", "repair",
                                 "--shift", "late"], env=env)
    assert shift.exit_code == 2 and "HH:MM-HH:MM" in shift.stderr
