"""Enqueue notices (pushed messages) in the caller's transaction: durable and idempotent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
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
