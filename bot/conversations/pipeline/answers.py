"""Kept answers: the replies of an update whose platform redelivers an unanswered one
(a Telegram webhook, the Slack intake), kept with its update record until the door has
sent them, so that a redelivery after a crash between commit and send replays them once.

All of the bookkeeping is here: keeping an answer in the update's own transaction,
forgetting it once the door acknowledged the `Outcome`, and replaying it to a redelivery.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from bot.conversations.messages import Incoming, Reply, pack_replies, unpack_replies
from bot.conversations.models import ProcessedUpdate
from bot.observability import REPLAYED
from core.db import Database
from core.ports import Clock
from core.settings import Settings

log = logging.getLogger("bot.conversations.engine")

# Built once: constructing the statement per update cost more than running it.
_KEEP_ANSWER = (update(ProcessedUpdate)
                .where(ProcessedUpdate.platform == bindparam("p"),
                       ProcessedUpdate.update_id == bindparam("u"))
                .values(answer=bindparam("a")))
_FORGET_ANSWERS = (update(ProcessedUpdate)
                   .where(ProcessedUpdate.platform == bindparam("p"),
                          ProcessedUpdate.update_id.in_(bindparam("ids", expanding=True)),
                          ProcessedUpdate.answer.is_not(None))
                   .values(answer=None))


class Outcome(list[Reply]):
    """The replies to one update. The door sends them, then calls `acknowledge()`: a kept
    answer is then forgotten (a redelivery gets nothing)."""

    __slots__ = ("_kept", "_key")

    def __init__(self, replies: list[Reply] | tuple[Reply, ...] = (),
                 kept: KeptAnswers | None = None, key: tuple[str, str] | None = None) -> None:
        super().__init__(replies)
        self._kept = kept
        self._key = key

    @property
    def replies(self) -> list[Reply]:
        return list(self)

    def acknowledge(self) -> None:
        """The replies were sent (or there were none to send)."""
        if self._kept is not None and self._key is not None and self:
            self._kept.answer_sent(*self._key)
            self._kept = None


class KeptAnswers:
    """Keeps, forgets and replays kept answers; `lock` is the engine's writer lock."""

    def __init__(self, db: Database, lock: asyncio.Lock, clock: Clock,
                 settings: Settings) -> None:
        self.db = db
        self.lock = lock
        self.clock = clock
        self.settings = settings
        # Kept answers the doors sent, to forget in the next transaction (platform -> ids).
        self._sent: dict[str, set[str]] = {}
        self._flusher: asyncio.Task[None] | None = None

    def outcome(self, inc: Incoming, replies: list[Reply]) -> Outcome:
        key = ((inc.platform, str(inc.update_id))
               if inc.keep_answer and inc.update_id is not None else None)
        return Outcome(replies, self if key is not None else None, key)

    def keep(self, session: Session, inc: Incoming, replies: list[Reply]) -> None:
        """Store the replies with the update record, in the step's own transaction."""
        if inc.keep_answer and inc.update_id is not None and replies:
            session.connection().execute(_KEEP_ANSWER, {
                "p": inc.platform, "u": str(inc.update_id), "a": pack_replies(replies)})

    async def replay(self, inc: Incoming) -> list[Reply]:
        """Answer a redelivered update: nothing when its answer was sent (or another worker
        is sending it right now), else, once the handling worker is taken for dead, the kept
        replies, taken from the record so that exactly one redelivery sends them."""
        grace = self.settings.replay_after_seconds
        waited_from = time.monotonic()
        while True:
            await self.flush()  # this process's own sends first
            async with self.lock:
                with self.db.sessionmaker() as session, session.begin():
                    where = (ProcessedUpdate.platform == inc.platform,
                             ProcessedUpdate.update_id == str(inc.update_id))
                    row = session.execute(
                        select(ProcessedUpdate.answer, ProcessedUpdate.processed_at)
                        .where(*where).with_for_update()).first()
                    if row is None or row.answer is None:
                        log.debug("dropped a redelivered update (platform=%s)", inc.platform)
                        return []
                    age = (self.clock.now() - row.processed_at).total_seconds()
                    if age >= grace or time.monotonic() - waited_from >= grace:
                        session.execute(update(ProcessedUpdate).where(*where)
                                        .values(answer=None))
                        REPLAYED.labels(inc.platform).inc()
                        log.info("answered a redelivered update from its kept answer "
                                 "(platform=%s)", inc.platform)
                        return unpack_replies(row.answer)
            await asyncio.sleep(min(0.2, grace / 4))

    def answer_sent(self, platform: str, update_id: str) -> None:
        """The door sent this update's kept answer: forget it (a redelivery then gets
        nothing). On PostgreSQL at once, on a thread; on SQLite by the next transaction
        this process runs, or within 50 ms when none comes."""
        self._sent.setdefault(platform, set()).add(update_id)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())

    async def flush(self) -> None:
        """Forget the kept answers reported sent now (tests, shutdown, replays)."""
        while self._sent:
            if self.db.is_postgres:
                # On a thread, outside the writer lock (it touches only update records
                # whose answers were sent), so it never waits behind the steps.
                sent, self._sent = self._sent, {}
                try:
                    await asyncio.to_thread(self._forget, sent)
                except BaseException:
                    self.sent_again(sent)
                    raise
                continue
            async with self.lock:
                taken: dict[str, set[str]] = {}
                try:
                    with self.db.sessionmaker() as session, session.begin():
                        taken = self.forget_sent(session)
                except BaseException:
                    self.sent_again(taken)
                    raise

    async def _flush_soon(self) -> None:
        # On PostgreSQL at once: until the forget commits, a worker killed after sending
        # would have the answer sent again with a redelivery (several workers share the
        # webhook), so the window stays as short as one UPDATE; answers sent meanwhile share
        # the next one. On SQLite (one process) an update handled within 50 ms takes them
        # along for free.
        if not self.db.is_postgres:
            await asyncio.sleep(0.05)
        try:
            await self.flush()
        except Exception as exc:  # kept answers are purged with their records anyway
            log.warning("could not forget sent answers: %s", exc.__class__.__name__)

    def _forget(self, taken: dict[str, set[str]]) -> None:
        with self.db.sessionmaker() as session, session.begin():
            for platform, ids in taken.items():
                session.connection().execute(_FORGET_ANSWERS,
                                             {"p": platform, "ids": sorted(ids)})

    def forget_sent(self, session: Session) -> dict[str, set[str]]:
        """Clear the kept answers reported sent, in `session`'s transaction; returns what
        it took (to give back with `sent_again` if that transaction does not commit)."""
        if not self._sent:
            return {}
        taken, self._sent = self._sent, {}
        for platform, ids in taken.items():
            session.connection().execute(_FORGET_ANSWERS, {"p": platform, "ids": sorted(ids)})
        return taken

    def sent_again(self, taken: dict[str, Any]) -> None:
        for platform, ids in taken.items():
            self._sent.setdefault(platform, set()).update(ids)
