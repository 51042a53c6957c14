"""Processes started together on one empty data directory never race (the systemd template
units of docs/deploy.md do this on first boot): 4 `sfa scheduler --once` and 4 `sfa run`
(terminal door, stdin closed: migrate, seed when empty, open the search index, exit) start
at the same moment on a fresh directory with the default `sqlite:///var/sfa.db`; every one
exits 0 with no traceback, the database is seeded once and the index opens.

SFA_START_RACE_ROUNDS sets the number of fresh directories (default 1; the issue's proof is
10: `SFA_START_RACE_ROUNDS=10 pytest tests/process/test_start_race.py`). Before the lock,
1 start in 5 groups of 4 crashed with "NameError: File '_MAIN_0.toc' exists"."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.db import Database
from core.models import Company, User

pytestmark = pytest.mark.process
SFA = Path(sys.executable).parent / "sfa"
ROUNDS = int(os.environ.get("SFA_START_RACE_ROUNDS", "1"))
EACH = 4


def _env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SFA_", "TELEGRAM_",
                                                                     "SLACK_"))}
    env.update({"SFA_LOG_LEVEL": "WARNING", "HOME": str(workdir), "SFA_RATE_LIMIT_MESSAGES": "0"})
    return env


def _start_together(workdir: Path) -> list[tuple[str, int, str]]:
    """Start every process at once; (command, exit code, stderr) of each."""
    env = _env(workdir)
    commands = [[str(SFA), "scheduler", "--once", "--sink", "http://127.0.0.1:9/"]] * EACH + \
        [[str(SFA), "run"]] * EACH
    procs = [subprocess.Popen(cmd, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for cmd in commands]
    results = []
    for cmd, proc in zip(commands, procs, strict=True):
        try:
            _, err = proc.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        results.append((" ".join(cmd[1:3]), proc.returncode, err.decode(errors="replace")))
    return results


def test_processes_started_together_on_an_empty_directory(tmp_path: Path) -> None:
    failures: list[str] = []
    started = time.monotonic()
    for round_no in range(ROUNDS):
        workdir = tmp_path / f"round{round_no}"
        workdir.mkdir()
        for command, code, err in _start_together(workdir):
            if code != 0 or "Traceback" in err or "Error" in err:
                ours = [line.strip() for line in err.splitlines()
                        if ('File "' in line and "site-packages" not in line)
                        or "Error" in line or line.startswith("error:")]
                failures.append(f"round {round_no}: sfa {command} exited {code}: "
                                + " | ".join(ours[-12:]))
        assert (workdir / "var" / "index" / "knowledge" / "SCHEMA").is_file()
        db = Database(f"sqlite:///{workdir / 'var' / 'sfa.db'}")
        try:
            with db.session() as s:
                assert s.scalar(select(func.count(User.id)).where(User.login == "budi")) == 1
                companies = s.scalar(select(func.count(Company.id)))
        finally:
            db.dispose()
        assert companies == 120  # the default demo, seeded once
    assert not failures, "\n".join(failures)
    print(f"{ROUNDS} rounds of {2 * EACH} processes: {time.monotonic() - started:.1f} s, "
          f"load {os.getloadavg()[0]:.1f}")
