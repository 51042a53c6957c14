"""The inbox of updates a door acknowledged to its platform but has not finished (Slack
HTTP): a worker records each one before the ack, claimed by itself, renews its claims while
alive and forgets an update once its answer went out; a worker that stops renewing (killed)
has its updates claimed by another one after a lease, which works them again. The engine's
update records make that second run a no-op or a replay of the kept answer, never a second
step. Many workers on PostgreSQL claim with `FOR UPDATE SKIP LOCKED`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, delete, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.intake.models import InboundUpdate

MAX_ATTEMPTS = 5  # claims of one update before it is given up


@dataclass(frozen=True)
class ClaimedUpdate:
    """An update taken over from a worker that stopped renewing its claim."""

    update_id: str
    body: bytes
    attempts: int


@dataclass(frozen=True)
class Takeover:
    """What one recovery pass found: updates to work again, and updates given up."""

    claimed: list[ClaimedUpdate]
    given_up: list[ClaimedUpdate]


def _record_statement(dialect: str) -> Any:
    # RETURNING tells a conflict apart (psycopg 3 reported rowcount 1 for one).
    if dialect == "postgresql":
        return pg_insert(InboundUpdate).on_conflict_do_nothing(
            index_elements=["platform", "update_id"]).returning(InboundUpdate.update_id)
    if dialect == "sqlite":
        return sqlite_insert(InboundUpdate).on_conflict_do_nothing(
            index_elements=["platform", "update_id"]).returning(InboundUpdate.update_id)
    return insert(InboundUpdate).returning(InboundUpdate.update_id)


# The insert of an arriving update for each dialect, built once at import and never changed
# (SQLAlchemy caches the compiled form itself); another dialect gets the plain insert.
_RECORD: Mapping[str, Any] = MappingProxyType(
    {dialect: _record_statement(dialect) for dialect in ("postgresql", "sqlite")})
_RECORD_PLAIN = _record_statement("")


def record_update(conn: Connection, platform: str, update_id: str, body: bytes, *,
                  worker: str, now: datetime) -> bool:
    """Record an acknowledged update claimed by `worker`, in the caller's transaction.

    Returns:
        False when it was recorded before (a platform retry of an update still in flight).
    """
    stmt = _RECORD.get(conn.dialect.name, _RECORD_PLAIN)
    result = conn.execute(stmt, {"platform": platform, "update_id": update_id, "body": body,
                                 "received_at": now, "claimed_by": worker, "claimed_at": now,
                                 "attempts": 1})
    return result.first() is not None


def take_over_updates(session: Session, platform: str, *, worker: str, now: datetime,
                      lease: timedelta, limit: int = 100,
                      max_attempts: int = MAX_ATTEMPTS) -> Takeover:
    """Renew `worker`'s own claims, then claim updates whose claim lapsed (older than `lease`)
    or that were released; those claimed `max_attempts` times already are deleted instead.

    Args:
        lease: how long a claim holds without renewal; a live worker renews far more often.
        limit: at most this many updates per pass (the rest wait for the next one).
    """
    session.execute(update(InboundUpdate).where(
        InboundUpdate.platform == platform, InboundUpdate.claimed_by == worker,
    ).values(claimed_at=now))
    rows = session.execute(
        select(InboundUpdate.update_id, InboundUpdate.body, InboundUpdate.attempts)
        .where(InboundUpdate.platform == platform,
               or_(InboundUpdate.claimed_by.is_(None),
                   InboundUpdate.claimed_at < now - lease))
        .order_by(InboundUpdate.received_at).limit(limit)
        .with_for_update(skip_locked=True)).all()
    claimed = [ClaimedUpdate(r.update_id, r.body, r.attempts + 1) for r in rows
               if r.attempts < max_attempts]
    given_up = [ClaimedUpdate(r.update_id, r.body, r.attempts) for r in rows
                if r.attempts >= max_attempts]
    if claimed:
        session.execute(update(InboundUpdate).where(
            InboundUpdate.platform == platform,
            InboundUpdate.update_id.in_([c.update_id for c in claimed]),
        ).values(claimed_by=worker, claimed_at=now, attempts=InboundUpdate.attempts + 1))
    if given_up:
        session.execute(delete(InboundUpdate).where(
            InboundUpdate.platform == platform,
            InboundUpdate.update_id.in_([g.update_id for g in given_up])))
    return Takeover(claimed, given_up)


def forget_updates(session: Session, platform: str, update_ids: Sequence[str]) -> None:
    """These updates are done and their answers sent: delete them from the inbox (their kept
    answers are forgotten by the engine, see Outcome.acknowledge)."""
    if session.get_bind().dialect.name == "postgresql":
        # No wait for the disk: a delete lost in a database crash costs at most a takeover
        # that the engine's update record answers with nothing, never a lost or doubled step.
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    for start in range(0, len(update_ids), 1_000):
        ids = list(update_ids[start:start + 1_000])
        session.execute(delete(InboundUpdate).where(
            InboundUpdate.platform == platform, InboundUpdate.update_id.in_(ids)))


def release_updates(session: Session, platform: str, *, worker: str,
                    update_ids: Sequence[str] | None = None) -> int:
    """Give `worker`'s claims back (all of them, or these updates) for any worker to take at
    its next pass; return how many."""
    stmt = update(InboundUpdate).where(InboundUpdate.platform == platform,
                                       InboundUpdate.claimed_by == worker)
    if update_ids is not None:
        stmt = stmt.where(InboundUpdate.update_id.in_(list(update_ids)))
    result = session.execute(stmt.values(claimed_by=None, claimed_at=None))
    return cast("CursorResult[Any]", result).rowcount
