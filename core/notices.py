"""Enqueue notices (pushed messages) in the caller's transaction: durable and idempotent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.models import NoticeRow, NoticeStatus


def notice_key(reason: str, *, user_id: int | None = None, channel: str | None = None) -> str:
    """Return the idempotency key of a notice: the recipient plus the reason."""
    target = f"u{user_id}" if user_id is not None else f"c{channel}"
    return f"{target}|{reason}"


def enqueue_notice(
    session: Session,
    *,
    kind: str,
    reason: str,
    due_at: datetime,
    now: datetime,
    recipient_user_id: int | None = None,
    channel: tuple[str, str] | None = None,
    params: dict[str, Any] | None = None,
    urgent: bool = False,
) -> NoticeRow | None:
    """Record that message `kind` is due to a user (or a team channel) at `due_at`.

    Args:
        kind: what to render (the bot's renderer for this kind writes the words).
        reason: why, unique per recipient (e.g. ``"followup:12:due"``); the same reason for
            the same recipient is enqueued once: a second call returns None.
        channel: (platform, chat id) of a team channel, instead of `recipient_user_id`.
        params: JSON-safe values the renderer needs (ids, amounts as strings).
        urgent: urgent notices ignore the recipient's quiet hours.
    """
    if (recipient_user_id is None) == (channel is None):
        raise ValueError("a notice goes to exactly one user or one channel")
    key = notice_key(
        reason, user_id=recipient_user_id, channel=":".join(channel) if channel else None
    )
    if session.scalar(select(NoticeRow.id).where(NoticeRow.key == key)) is not None:
        return None
    row = NoticeRow(
        recipient_user_id=recipient_user_id,
        channel_platform=channel[0] if channel else None,
        channel_id=channel[1] if channel else None,
        kind=kind,
        key=key,
        params=dict(params or {}),
        urgent=urgent,
        due_at=due_at,
        status=NoticeStatus.PENDING.value,
        attempts=0,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a concurrent transaction enqueued the same key first
        return None
    return row


def cancel_notices(session: Session, *, reason_prefix: str) -> int:
    """Cancel pending notices whose reason starts with `reason_prefix` (any recipient)."""
    rows = session.scalars(
        select(NoticeRow).where(
            NoticeRow.key.contains("|" + reason_prefix, autoescape=True),
            NoticeRow.status == NoticeStatus.PENDING.value,
        )
    ).all()
    count = 0
    for row in rows:
        if row.key.split("|", 1)[1].startswith(reason_prefix):
            row.status = NoticeStatus.CANCELLED.value
            count += 1
    return count


def existing_keys(session: Session, keys: list[str]) -> set[str]:
    """The keys among `keys` that some notice already has."""
    found: set[str] = set()
    for i in range(0, len(keys), 500):
        found.update(session.scalars(select(NoticeRow.key).where(
            NoticeRow.key.in_(keys[i:i + 500]))))
    return found


def enqueue_notices(session: Session, items: list[dict], now: datetime) -> int:
    """Enqueue user notices whose key is not there yet: what enqueue_notice does, as batched
    INSERT ... ON CONFLICT (key) DO NOTHING RETURNING (a sweep may find 10k); returns how
    many were new."""
    if not items:
        return 0
    rows = [dict(recipient_user_id=item["recipient_user_id"], channel_platform=None,
                 channel_id=None, kind=item["kind"],
                 key=notice_key(item["reason"], user_id=item["recipient_user_id"]),
                 params=dict(item.get("params") or {}), urgent=bool(item.get("urgent")),
                 due_at=item["due_at"], status=NoticeStatus.PENDING.value, attempts=0,
                 claimed_by=None, claimed_until=None, last_error=None, sent_at=None,
                 created_at=now)
            for item in items]
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table: Any = NoticeRow.__table__
    # Core, not the ORM's bulk insert: a third of the cost for 10k rows.
    done = session.connection().execute(
        insert(table).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.id),
        rows)
    return len(done.all())
