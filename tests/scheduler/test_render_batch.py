"""Rendering claimed notices into the outbox in batches (issue 23): a batch reads what it
renders in a few queries, whatever its size, and a renderer that fails (on PostgreSQL: with
a statement that poisons the transaction) fails alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from bot.conversations.messages import Reply
from bot.conversations.notices import NoticeRendering, decode_reply, encode_reply
from bot.conversations.registry import build_registry
from core import followups
from core import users as user_service
from core.db import Database
from core.models import FollowUp, NoticeRow, User
from core.models.scheduling import OutboxRow
from core.notices import enqueue_notice
from scheduler.outbox import claim_notices, render_claimed

NOW = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)  # 12:00 in Jakarta: no quiet hours


def _rep(database: Database) -> int:
    with database.session() as s:
        user = user_service.add_user(s, login="budi", name="Budi", role="rep", now=NOW)
        user_service.link_identity(s, user, platform="console", external_id="ext-budi",
                                   chat_id="ext-budi", now=NOW)
        return user.id


def test_a_batch_reads_what_it_renders_in_a_few_queries(database: Database) -> None:
    uid = _rep(database)
    with database.session() as s:
        s.add_all(FollowUp(user_id=uid, kind="follow_up", note=f"Call #{i}",
                           due_at=NOW - timedelta(seconds=i), status="open", created_at=NOW)
                  for i in range(60))
    with database.session() as s:
        assert followups.followups_due(s, NOW) == 60
    ids = claim_notices(database, worker="w", now=NOW, lease=timedelta(minutes=5))
    selects: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        stats = render_claimed(database, worker="w", ids=ids, now=NOW,
                               render=NoticeRendering(build_registry()),
                               platforms={"console"})
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    assert stats.queued == 60
    # notices, users, chats, follow-ups (+ their companies and contacts): not one a notice
    assert len(selects) <= 8, selects
    with database.session() as s:
        texts = [row.message["text"] for row in s.scalars(select(OutboxRow))]
    assert len(texts) == 60 and all("Call #" in t for t in texts)


def test_a_failing_renderer_fails_alone(database: Database) -> None:
    uid = _rep(database)
    with database.session() as s:
        for i, kind in enumerate(("test.ok", "test.broken", "test.ok")):
            enqueue_notice(s, kind=kind, reason=f"test:{i}", due_at=NOW, now=NOW,
                           recipient_user_id=uid)
    ids = claim_notices(database, worker="w", now=NOW, lease=timedelta(minutes=5))

    class Rendering:
        kinds = frozenset({"test.ok", "test.broken"})
        encode = staticmethod(encode_reply)
        decode = staticmethod(decode_reply)

        def prefetch(self, session: Session, notices: object) -> None:
            return None

        def render(self, session: Session, notice: NoticeRow, user: User | None) -> Reply:
            if notice.kind == "test.broken":
                session.execute(text("SELECT no_such_column FROM no_such_table"))
            # The transaction is still usable for the notices after the broken one.
            name = session.scalar(select(User.name).where(User.id == uid))
            return Reply(text=f"{notice.key} for {name}")

    stats = render_claimed(database, worker="w", ids=ids, now=NOW, render=Rendering(),
                           platforms={"console"})
    assert (stats.queued, stats.failed) == (2, 1)
    with database.session() as s:
        status = {n.key: (n.status, n.last_error) for n in s.scalars(select(NoticeRow))}
        sent = sorted(row.message["text"] for row in s.scalars(select(OutboxRow)))
    assert status[f"u{uid}|test:1"][0] == "failed"
    assert "render failed" in (status[f"u{uid}|test:1"][1] or "")
    assert status[f"u{uid}|test:0"][0] == status[f"u{uid}|test:2"][0] == "queued"
    assert sent == [f"u{uid}|test:0 for Budi", f"u{uid}|test:2 for Budi"]
