"""The durable path of a pushed message: claim due notices, render them into the outbox,
claim outbox rows for sending and record what happened.

Every step is a short transaction. On PostgreSQL claims use ``FOR UPDATE SKIP LOCKED``, so
several scheduler processes share the work without waiting on each other; a claim carries
a lease (``claimed_by`` / ``claimed_until``) and a process that dies mid-batch loses
nothing: once the lease runs out any process takes the rows again.

An outbox row goes pending -> claimed (held in a process's queue, not tried yet) ->
sending (committed just before the request to the platform, with a fresh lease) -> sent /
pending (retry) / failed, the result committed as soon as the platform answered. Telegram
has no idempotency key, so the one send that can reach a chat twice is a row a process
died with in "sending": the platform may have accepted it before the result was written.
Such a row is taken again when its lease runs out, noted in `last_error`; a row merely
"claimed" by a dead process was never tried and is sent once.

Who receives a notice, on which platform, when (quiet hours) and when to give up are the
product's rules: core.notices (DeliveryPolicy, send_backoff, give_up_send, delivery_failed)
decides them; this module applies the decisions and moves the rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.db import Database
from core.models import NoticeRow, NoticeStatus, User
from core.models.scheduling import OutboxRow
from core.notices import DeliveryPolicy, delivery_failed, give_up_send, send_backoff

log = logging.getLogger(__name__)

class NoticeRenderer(Protocol):
    """The scheduler's port to the words of notices (the composition root passes the chat
    side's bot.conversations.notices.NoticeRendering).

    A rendered message is opaque here: rendered once, encoded once into its outbox row,
    decoded once when the row is claimed, and handed as it is to the platform's sender
    (core.ports.MessageSender)."""

    @property
    def kinds(self) -> Collection[str]:
        """The notice kinds there is a renderer for."""
        ...

    def prefetch(self, session: Session, notices: Sequence[NoticeRow]) -> object:
        """Load what a batch renders in a few queries; the result is kept referenced until
        the batch is written (the session's identity map is weak)."""
        ...

    def render(self, session: Session, notice: NoticeRow, user: User | None) -> Any:
        """The message for `notice` to `user` (None for a team channel); None when it no
        longer applies. LookupError when no renderer exists for its kind."""
        ...

    def encode(self, message: Any) -> dict[str, Any]:
        """The message as JSON-safe data for the outbox."""
        ...

    def decode(self, data: dict[str, Any]) -> Any:
        """The message `encode` stored."""
        ...


def _insert(db: Database) -> Any:
    return pg_insert if db.is_postgres else sqlite_insert


# -- notices -> outbox -----------------------------------------------------------------------
def claim_notices(db: Database, *, worker: str, now: datetime, lease: timedelta,
                  limit: int = 1000) -> list[int]:
    """Claim up to `limit` due notices (pending and due, or claimed with an expired lease)."""
    due = or_(
        and_(NoticeRow.status == NoticeStatus.PENDING.value, NoticeRow.due_at <= now),
        and_(NoticeRow.status == NoticeStatus.CLAIMED.value, NoticeRow.claimed_until < now),
    )
    query = select(NoticeRow.id).where(due).order_by(NoticeRow.due_at).limit(limit)
    if db.is_postgres:
        query = query.with_for_update(skip_locked=True)
    with db.session() as session:
        # One statement: UPDATE ... WHERE id IN (SELECT ... [FOR UPDATE SKIP LOCKED]) RETURNING
        claimed = session.execute(
            update(NoticeRow).where(NoticeRow.id.in_(query.scalar_subquery()))
            .values(status=NoticeStatus.CLAIMED.value, claimed_by=worker,
                    claimed_until=now + lease)
            .returning(NoticeRow.id, NoticeRow.due_at),
            execution_options={"synchronize_session": False}).all()
    return [row.id for row in sorted(claimed, key=lambda r: (r.due_at, r.id))]


@dataclass
class RenderStats:
    queued: int = 0
    deferred: int = 0
    cancelled: int = 0
    failed: int = 0


def render_claimed(db: Database, *, worker: str, ids: list[int], now: datetime,
                   render: NoticeRenderer, platforms: Collection[str],
                   batch: int = 2000) -> RenderStats:
    """Render this worker's claimed notices into outbox rows (one transaction per batch)."""
    stats = RenderStats()
    for start in range(0, len(ids), batch):
        chunk = ids[start:start + batch]
        try:
            with db.session() as session:
                part = _render_batch(session, db, worker, chunk, now, render, platforms,
                                     careful=False)
        except _RenderAgain:
            with db.session() as session:
                part = _render_batch(session, db, worker, chunk, now, render, platforms,
                                     careful=True)
        for name in ("queued", "deferred", "cancelled", "failed"):
            setattr(stats, name, getattr(stats, name) + getattr(part, name))
    return stats


class _RenderAgain(Exception):
    """A renderer raised on PostgreSQL outside a savepoint (a failed statement poisons the
    transaction): the batch is rolled back and rendered again, each notice in a savepoint."""


def _render_batch(session: Session, db: Database, worker: str, ids: list[int], now: datetime,
                  render: NoticeRenderer, platforms: Collection[str], *,
                  careful: bool) -> RenderStats:
    stats = RenderStats()
    # Renderers read; this batch's own changes are collected and written in bulk at the end
    # (so a renderer's savepoint has nothing to flush).
    notices = session.scalars(select(NoticeRow).where(
        NoticeRow.id.in_(ids), NoticeRow.status == NoticeStatus.CLAIMED.value,
        NoticeRow.claimed_by == worker)).all()
    policy = DeliveryPolicy.for_batch(session, notices, platforms=platforms, now=now)
    # The renderers load what the whole batch needs; what that returns is kept referenced
    # until the batch is done (the session's identity map is weak).
    loaded = render.prefetch(session, notices)
    changes: list[dict[str, Any]] = []
    queued: list[int] = []
    rows: list[dict[str, Any]] = []
    counts = {NoticeStatus.PENDING: "deferred", NoticeStatus.CANCELLED: "cancelled",
              NoticeStatus.FAILED: "failed"}

    def change(notice: NoticeRow, status: NoticeStatus, **values: Any) -> None:
        changes.append({"id": notice.id, "status": status.value, "claimed_by": None,
                        "claimed_until": None, **values})

    for notice in notices:
        delivery = policy.decide(notice)
        if not delivery.send:
            change(notice, delivery.status, **delivery.changes())
            name = counts[delivery.status]
            setattr(stats, name, getattr(stats, name) + 1)
            continue
        platform, chat_id = delivery.platform, delivery.chat_id
        user = policy.recipient(notice)
        try:
            # On PostgreSQL a failed statement poisons the transaction. Savepoints cost two
            # round trips a notice, so the batch first renders without them and is rendered
            # again with them if a renderer fails. SQLite carries on after an error.
            if careful and db.is_postgres:
                with session.begin_nested():
                    message = render.render(session, notice, user)
            else:
                message = render.render(session, notice, user)
        except Exception as exc:
            if db.is_postgres and not careful:
                raise _RenderAgain from exc
            if isinstance(exc, LookupError):
                log.error("no renderer for notice kind %s (notice %s)", notice.kind, notice.id)
                change(notice, NoticeStatus.FAILED, last_error=f"no renderer for {notice.kind}")
                stats.failed += 1
                continue
            log.exception("rendering notice %s (%s) failed", notice.id, notice.kind)
            change(notice, NoticeStatus.FAILED,
                   last_error=f"render failed: {exc.__class__.__name__}")
            stats.failed += 1
            continue
        if message is None:
            change(notice, NoticeStatus.CANCELLED, last_error="no longer applies")
            stats.cancelled += 1
            continue
        queued.append(notice.id)
        rows.append(dict(key=f"{notice.key}|{platform}", notice_id=notice.id, kind=notice.kind,
                         platform=platform, chat_id=chat_id, user_id=notice.recipient_user_id,
                         message=render.encode(message), status="pending", attempts=0,
                         next_attempt_at=now, created_at=now))
        stats.queued += 1
    del loaded
    session.expunge_all()  # the bulk writes below are the truth; nothing stale to flush
    # Core statements, executemany: the ORM's bulk paths cost more than the writes here.
    conn = session.connection()
    if rows:
        outbox: Any = OutboxRow.__table__
        conn.execute(_insert(db)(outbox).on_conflict_do_nothing(index_elements=["key"]), rows)
    table: Any = NoticeRow.__table__
    for start in range(0, len(queued), 1000):  # the common case: one statement for many
        conn.execute(update(table).where(table.c.id.in_(queued[start:start + 1000])).values(
            status=NoticeStatus.QUEUED.value, claimed_by=None, claimed_until=None))
    for group in _group_by_keys(changes):
        columns = [c for c in group[0] if c != "id"]
        conn.execute(update(table).where(table.c.id == bindparam("notice_id"))
                     .values({c: bindparam("v_" + c) for c in columns}),
                     [{"notice_id": g["id"], **{"v_" + c: g[c] for c in columns}}
                      for g in group])
    return stats


def _group_by_keys(changes: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Bulk UPDATE by primary key wants the same columns in each row: group by column set."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for item in changes:
        groups.setdefault(tuple(sorted(item)), []).append(item)
    return list(groups.values())


# -- outbox -> doors -------------------------------------------------------------------------
@dataclass(frozen=True)
class OutboxItem:
    id: int
    notice_id: int | None
    kind: str
    platform: str
    chat_id: str
    user_id: int | None
    message: Any  # as the renderer made it (NoticeRenderer.decode of the stored form)
    attempts: int
    # Set when the row was claimed from a process that died while sending it: the platform
    # may have it already (the time is when the row was made: look no further back).
    uncertain_since: datetime | None = None


def push_key(outbox_id: int) -> str:
    """The key a push is sent with (Slack metadata), to find it after a lost result."""
    return f"sfa-outbox-{outbox_id}"


def claim_outbox(db: Database, *, worker: str, now: datetime, lease: timedelta,
                 platforms: Collection[str], decode: Callable[[dict[str, Any]], Any],
                 limit: int = 60) -> list[OutboxItem]:
    """Claim up to `limit` outbox rows ready to send on `platforms`; `decode` reads each
    row's message back (NoticeRenderer.decode)."""
    ready = or_(
        and_(OutboxRow.status == "pending", OutboxRow.next_attempt_at <= now),
        and_(OutboxRow.status.in_(["claimed", "sending"]), OutboxRow.claimed_until < now),
    )
    with db.session() as session:
        query = (select(OutboxRow).where(ready, OutboxRow.platform.in_(list(platforms)))
                 .order_by(OutboxRow.next_attempt_at, OutboxRow.id).limit(limit))
        if db.is_postgres:
            query = query.with_for_update(skip_locked=True)
        rows = session.scalars(query).all()
        items = []
        for row in rows:
            uncertain = None
            if row.status == "sending":
                # Its process died (or stalled) between the request and the result: the
                # platform may have the message already. A sender that can look it up by its
                # key (Slack) does so first; others send again: the only duplicate.
                log.warning("outbox %s: the result of a send by %s is unknown; sending again "
                            "unless the platform shows it", row.id, row.claimed_by)
                row.last_error = f"resent: result of a send by {row.claimed_by} unknown"[:500]
                uncertain = row.created_at
            row.status = "claimed"
            row.claimed_by = worker
            row.claimed_until = now + lease
            items.append(OutboxItem(row.id, row.notice_id, row.kind, row.platform, row.chat_id,
                                    row.user_id, decode(row.message), row.attempts,
                                    uncertain))
    return items


@dataclass(frozen=True)
class Outcome:
    """What happened to one send: sent, retry (429 or transient) or failed (permanent)."""

    item: OutboxItem
    status: str  # sent, retry, failed
    external_id: str | None = None
    retry_after: float | None = None  # seconds named by a 429
    error: str | None = None
    permanent: bool = False


def start_sends(session: Session, ids: Collection[int], *, worker: str, now: datetime,
                lease: timedelta) -> set[int]:
    """Mark claimed rows "sending" (with a fresh lease) before their requests go out; the
    ids still this worker's (a row whose claim ran out and was taken over is not sent)."""
    if not ids:
        return set()
    started = session.execute(
        update(OutboxRow).where(OutboxRow.id.in_(list(ids)), OutboxRow.claimed_by == worker,
                                OutboxRow.status == "claimed")
        .values(status="sending", claimed_until=now + lease)
        .returning(OutboxRow.id), execution_options={"synchronize_session": False}).scalars()
    return set(started)


def record_and_start(db: Database, outcomes: list[Outcome], start: Collection[int], *,
                     worker: str, now: datetime, lease: timedelta) -> set[int]:
    """One transaction for the send loop: write the results that came back, then mark the
    next rows "sending" (see start_sends); returns the rows that may be sent now."""
    with db.session() as session:
        _record(session, outcomes, worker=worker, now=now)
        return start_sends(session, start, worker=worker, now=now, lease=lease)


def record_outcomes(db: Database, outcomes: list[Outcome], *, worker: str, now: datetime
                    ) -> None:
    """Write the results of sends; a permanent failure is reported to the admins."""
    if not outcomes:
        return
    with db.session() as session:
        _record(session, outcomes, worker=worker, now=now)


def _record(session: Session, outcomes: list[Outcome], *, worker: str, now: datetime) -> None:
    if not outcomes:
        return
    sent = [o for o in outcomes if o.status == "sent"]
    if sent:
        # The platform accepted these: they are sent, whoever holds the claim now.
        table: Any = OutboxRow.__table__
        session.connection().execute(
            update(table).where(table.c.id == bindparam("oid"), table.c.status != "sent")
            .values(status="sent", sent_at=now, external_id=bindparam("ext"),
                    claimed_by=None, claimed_until=None, attempts=table.c.attempts + 1),
            [{"oid": o.item.id, "ext": (str(o.external_id)[:64] if o.external_id else None)}
             for o in sent])
        notice_ids = [o.item.notice_id for o in sent if o.item.notice_id is not None]
        if notice_ids:
            session.execute(
                update(NoticeRow).where(NoticeRow.id.in_(notice_ids),
                                        NoticeRow.status != NoticeStatus.SENT.value)
                .values(status=NoticeStatus.SENT.value, sent_at=now,
                        attempts=NoticeRow.attempts + 1),
                execution_options={"synchronize_session": False})
    for outcome in outcomes:
        if outcome.status == "sent":
            continue
        row = session.get(OutboxRow, outcome.item.id, with_for_update=True)
        if row is None or row.status != "sending" or row.claimed_by != worker:
            # Our lease ran out and another process took the row; it decides now.
            log.warning("outbox %s was taken over before its result was recorded",
                        outcome.item.id)
            if row is not None and outcome.status == "sent" and row.status != "sent":
                _mark_sent(session, row, outcome, now)
            continue
        if outcome.status == "sent":
            _mark_sent(session, row, outcome, now)
            continue
        row.claimed_by = None
        row.claimed_until = None
        row.last_error = (outcome.error or "")[:500]
        if outcome.status == "retry" and outcome.retry_after is not None:
            # A 429 is the platform pacing us, not a failure of this message.
            row.status = "pending"
            row.next_attempt_at = now + timedelta(seconds=outcome.retry_after)
            continue
        row.attempts += 1
        if give_up_send(row.attempts, permanent=outcome.permanent):
            row.status = "failed"
            if row.notice_id is not None:
                session.execute(update(NoticeRow).where(NoticeRow.id == row.notice_id)
                                .values(status=NoticeStatus.FAILED.value,
                                        last_error=row.last_error))
            delivery_failed(session, outbox_id=row.id, kind=row.kind, platform=row.platform,
                            user_id=row.user_id, error=row.last_error, now=now)
        else:
            row.status = "pending"
            row.next_attempt_at = now + send_backoff(row.attempts)


def _mark_sent(session: Session, row: OutboxRow, outcome: Outcome, now: datetime) -> None:
    row.status = "sent"
    row.sent_at = now
    row.external_id = (outcome.external_id or None) and str(outcome.external_id)[:64]
    row.claimed_by = None
    row.claimed_until = None
    row.attempts += 1
    if row.notice_id is not None:
        session.execute(update(NoticeRow).where(NoticeRow.id == row.notice_id).values(
            status=NoticeStatus.SENT.value, sent_at=now, attempts=NoticeRow.attempts + 1))


def release_claims(db: Database, *, worker: str) -> None:
    """Hand this worker's claimed, untried rows back at once (a clean shutdown). A row left
    "sending" (its result could not be written) waits for its lease: it may have gone out."""
    with db.session() as session:
        session.execute(update(OutboxRow).where(
            OutboxRow.claimed_by == worker, OutboxRow.status == "claimed").values(
            status="pending", claimed_by=None, claimed_until=None))
        session.execute(update(NoticeRow).where(
            NoticeRow.claimed_by == worker, NoticeRow.status == NoticeStatus.CLAIMED.value
        ).values(status=NoticeStatus.PENDING.value, claimed_by=None, claimed_until=None))
