"""Database consistency checks reused by the hardening tests: no orphan rows (every foreign
key, whether or not the database enforces it), no conversation state pointing at a missing
user or record, no flow state left behind that the registry does not know."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

import bot.tables  # noqa: F401  (every table registered on the metadata)
from core.db import Database
from core.models import Base

# ids a flow keeps in ctx.data that name a record: key -> table.
STATE_REFERENCES = {
    "company_id": "companies", "contact_id": "contacts", "deal_id": "deals",
    "quote_id": "quotes", "job_id": "service_jobs", "follow_up_id": "follow_ups",
    "activity_id": "activities", "approval_id": "approval_requests",
}


def orphan_rows(db: Database) -> list[str]:
    """One line per foreign key column with values pointing at no row."""
    problems: list[str] = []
    with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for fk in table.foreign_keys:
                col, target = fk.parent, fk.column
                count = conn.execute(text(
                    f'SELECT count(*) FROM "{table.name}" c WHERE c."{col.name}" IS NOT NULL '
                    f'AND NOT EXISTS (SELECT 1 FROM "{target.table.name}" p '
                    f'WHERE p."{target.name}" = c."{col.name}")')).scalar()
                if count:
                    problems.append(f"{table.name}.{col.name} -> {target.table.name}: {count}")
    return problems


def dangling_states(db: Database, flows: set[str] | None = None) -> list[str]:
    """Conversation states whose user, flow or remembered record is gone."""
    problems: list[str] = []
    with db.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT s.platform, s.chat_id, s.external_user_id, s.user_id, s.flow, s.state, "
            "s.data, u.id FROM conversation_states s LEFT JOIN users u ON u.id = s.user_id"
        )).fetchall()
        for platform, chat_id, ext, user_id, flow, state, data, found in rows:
            where = f"{platform}:{chat_id}:{ext}"
            if user_id is not None and found is None:
                problems.append(f"{where}: user {user_id} missing")
            if (flow is None) != (state is None):
                problems.append(f"{where}: flow {flow!r} with state {state!r}")
            if flows is not None and flow is not None and flow not in flows:
                problems.append(f"{where}: unknown flow {flow!r}")
            if isinstance(data, str):
                data = json.loads(data)
            for key, value in _references(data or {}):
                table = STATE_REFERENCES[key]
                exists = conn.execute(text(f'SELECT 1 FROM "{table}" WHERE id = :i'),
                                      {"i": value}).first()
                if exists is None:
                    problems.append(f"{where}: {key}={value} missing in {table}")
    return problems


def _references(data: dict[str, Any]) -> list[tuple[str, int]]:
    return [(k, v) for k, v in data.items()
            if k in STATE_REFERENCES and isinstance(v, int) and not isinstance(v, bool)]


def assert_consistent(db: Database, flows: set[str] | None = None) -> None:
    """Fail with every problem found."""
    problems = orphan_rows(db) + dangling_states(db, flows)
    if db.dialect == "sqlite":
        with db.engine.connect() as conn:
            if conn.execute(text("PRAGMA integrity_check")).scalar() != "ok":
                problems.append("sqlite integrity_check failed")
    assert problems == [], "database inconsistent:\n" + "\n".join(problems)
