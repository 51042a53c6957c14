"""The platform update records the conversation engine keeps (models.ProcessedUpdate): they
make a redelivered update a no-op; after a week no platform redelivers, so they go."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.conversations.models import ProcessedUpdate
from core.sweeps import sweep

KEEP_FOR = timedelta(days=7)  # Telegram redelivers for 24 hours at most, Slack for minutes
BATCH = 20_000


@sweep("updates.forget", every=timedelta(hours=1))
def forget_old_updates(session: Session, now: datetime) -> int:
    """Delete update records older than KEEP_FOR (a batch per run); return how many."""
    old = (select(ProcessedUpdate.platform, ProcessedUpdate.update_id)
           .where(ProcessedUpdate.processed_at < now - KEEP_FOR).limit(BATCH))
    rows = session.execute(old).all()
    for platform in {r.platform for r in rows}:
        ids = [r.update_id for r in rows if r.platform == platform]
        for start in range(0, len(ids), 1_000):
            session.execute(delete(ProcessedUpdate).where(
                ProcessedUpdate.platform == platform,
                ProcessedUpdate.update_id.in_(ids[start:start + 1_000])))
    return len(rows)
