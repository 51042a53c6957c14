"""The consistency checks (tests/support/consistency.py) hold on the demo world and after
real conversations, and they do catch an orphan row and a state pointing at a missing record."""

from __future__ import annotations

import json
import sqlite3

from sqlalchemy import make_url, text

from bot.app import App
from core.db import Database
from tests.support.chat import CollectingChat, texts
from tests.support.consistency import assert_consistent, dangling_states, orphan_rows


def test_demo_world_is_consistent(app: App) -> None:
    assert_consistent(app.db, set(app.registry.flows))


async def test_conversations_leave_the_database_consistent(app: App,
                                                           chat: CollectingChat) -> None:
    budi = chat.as_user("budi")
    maya = chat.as_user("maya")
    for user, line in ((budi, "/help"), (budi, "/visit"), (budi, "Sinar Jaya"),
                       (maya, "/report"), (budi, "/cancel"), (maya, "/cancel"),
                       (budi, "who handles Sinar Jaya?")):
        replies = await user.say(line)
        assert texts(replies), f"no reply to {line!r}"
    assert_consistent(app.db, set(app.registry.flows))


def _plant_state(db: Database, data: dict[str, object], flow: str = "log_visit") -> None:
    with db.engine.begin() as conn:
        user_id = conn.execute(text("SELECT id FROM users WHERE login = 'budi'")).scalar()
        conn.execute(text(
            "INSERT INTO conversation_states (platform, chat_id, external_user_id, user_id, "
            "flow, state, data, token, updated_at) VALUES ('telegram', 'c1', 'e1', :u, :f, "
            "'kind', :d, 1, CURRENT_TIMESTAMP)"), {"u": user_id, "f": flow,
                                                   "d": json.dumps(data)})


def test_a_state_pointing_at_a_missing_record_is_caught(app: App) -> None:
    _plant_state(app.db, {"deal_id": 987654321, "note": "x"}, flow="no_such_flow")
    problems = dangling_states(app.db, set(app.registry.flows))
    assert any("deal_id=987654321 missing in deals" in p for p in problems), problems
    assert any("unknown flow 'no_such_flow'" in p for p in problems), problems


def test_an_orphan_row_is_caught(app: App) -> None:
    sql = ("UPDATE contacts SET company_id = 987654321 WHERE id = "
           "(SELECT min(id) FROM contacts)")
    if app.db.dialect == "sqlite":
        raw = sqlite3.connect(make_url(app.db.url).database or "")
        try:
            raw.execute("PRAGMA foreign_keys=OFF")
            raw.execute(sql)
            raw.commit()
        finally:
            raw.close()
    else:
        with app.db.engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(sql))
    problems = orphan_rows(app.db)
    assert any(p.startswith("contacts.company_id -> companies: 1") for p in problems), problems
