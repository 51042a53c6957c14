"""`sfa backup` / `sfa restore` find every record again; `sfa users deactivate` takes effect
at once and hands open deals and follow-ups to the manager."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import main
from core.clock import ManualClock
from core.db import Database
from core.models import Deal, FollowUp, Stage, Team, User
from core.users import deactivate_user, get_user_by_login
from tests.support.chat import CollectingChat, texts


def test_backup_then_restore_into_a_fresh_database(tmp_path: Path) -> None:
    env = {"SFA_DATABASE_URL": f"sqlite:///{tmp_path / 'live.db'}", "SFA_LOG_LEVEL": "ERROR"}
    runner = CliRunner()
    assert runner.invoke(main, ["seed"], env=env).exit_code == 0
    dest = tmp_path / "b" / "copy.backup"
    result = runner.invoke(main, ["backup", str(dest)], env=env)
    assert result.exit_code == 0, result.output
    fresh = {"SFA_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}", "SFA_LOG_LEVEL": "ERROR"}
    result = runner.invoke(main, ["restore", str(dest), "--yes"], env=fresh)
    assert result.exit_code == 0, result.output

    def counts(path: Path) -> dict[str, int]:
        with sqlite3.connect(path) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")]
            return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                    for t in tables}

    live, restored = counts(tmp_path / "live.db"), counts(tmp_path / "fresh.db")
    assert live == restored and live["contacts"] > 0 and live["users"] > 0
    assert runner.invoke(main, ["users", "list"], env=fresh).output.count("budi") == 1
    bad = runner.invoke(main, ["restore", str(tmp_path / "nope"), "--yes"], env=fresh)
    assert bad.exit_code == 2


async def test_deactivation_hands_over_and_blocks_at_once(
        chat: CollectingChat, database: Database, clock: ManualClock) -> None:
    budi = chat.as_user("budi")
    assert "Budi" in texts(await budi.say("/whoami"))
    with database.session() as s:
        user = get_user_by_login(s, "budi")
        manager_id = s.scalar(select(Team.manager_id).where(Team.id == user.team_id))
        company_id = 1
        s.add(Deal(title="open", company_id=company_id, owner_id=user.id, stage=Stage.CONTACTED,
                   facts={}, created_at=clock.now(), updated_at=clock.now()))
        s.add(FollowUp(user_id=user.id, company_id=company_id, kind="follow_up",
                       due_at=clock.now() + timedelta(days=1), status="open",
                       created_at=clock.now()))
        s.flush()
        open_before = s.scalar(select(func.count()).select_from(Deal).where(
            Deal.owner_id == user.id, Deal.stage.notin_(["order_placed", "lost"])))
        moved = deactivate_user(s, user, now=clock.now())
    assert moved["deals"] == open_before and moved["follow_ups"] >= 1
    assert "deactivated" in texts(await budi.say("/whoami"))
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Deal).where(
            Deal.owner_id == get_user_by_login(s, "budi").id,
            Deal.stage == Stage.CONTACTED)) == 0
        assert s.scalar(select(func.count()).select_from(FollowUp).where(
            FollowUp.user_id == manager_id, FollowUp.status == "open")) >= 1
        assert s.scalar(select(User.active).where(User.login == "budi")) is False
