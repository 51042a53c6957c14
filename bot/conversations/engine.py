"""The conversation engine: one update through an ordered list of small steps
(bot.conversations.pipeline), answered with an Outcome the door acknowledges once sent.

    throttle -> clean -> [(chat, user) lock, one transaction:
        deduplicate -> identify -> lock state -> understand -> route] -> keep the answer

Every update runs in one database transaction: the processed-update record, the step's own
writes and the new state commit together or not at all. A step that raises (a domain
error, or a bug) rolls back everything it wrote and is answered in words; the state stays
where it was, and the update id is still recorded so a redelivery is not run again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import weakref
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from bot.conversations.flow import Ctx, Step
from bot.conversations.messages import Incoming, Reply
from bot.conversations.pipeline.answers import KeptAnswers, Outcome
from bot.conversations.pipeline.clean import clean, clean_text
from bot.conversations.pipeline.commands import help_reply, visible_commands
from bot.conversations.pipeline.dedupe import AlreadyProcessed, Deduplicate
from bot.conversations.pipeline.identify import identify
from bot.conversations.pipeline.route import Route
from bot.conversations.pipeline.run import MAX_PAYLOAD_BYTES, Runner, StepRefused, encode_payload
from bot.conversations.pipeline.state import LockState
from bot.conversations.pipeline.state import save as save_state
from bot.conversations.pipeline.throttle import Throttle
from bot.conversations.pipeline.understand import LANGUAGE, Understand
from bot.conversations.pipeline.update import Update
from bot.conversations.registry import Registry
from bot.conversations.services import Services
from bot.conversations.understanding.understander import Understander
from bot.i18n import Translator
from bot.observability import LOCK_WAIT_SECONDS, UPDATE_SECONDS, UPDATES
from core.clock import SystemClock
from core.db import Database, KeptConnection
from core.models import Role
from core.ports import Clock
from core.settings import Settings

__all__ = ["LANGUAGE", "MAX_PAYLOAD_BYTES", "Engine", "Outcome", "clean_text",
           "encode_payload"]

log = logging.getLogger(__name__)


_CONFLICT_ATTEMPTS = 8


class Engine:
    """Platform-neutral conversation engine shared by every door."""

    def __init__(
        self,
        db: Database,
        registry: Registry,
        *,
        settings: Settings,
        clock: Clock | None = None,
        services: Services | None = None,
    ) -> None:
        self.db = db
        self.registry = registry
        self.settings = settings
        self.clock = clock or SystemClock()
        self.services = services or Services(settings=settings)
        if self.services.understanding is None:
            self.services.understanding = Understander(registry.phrasings)  # trained now
        self.understander: Understander = self.services.understanding
        self._locks: weakref.WeakValueDictionary[tuple[str, str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        # Database calls are synchronous and run on the event loop thread, so two open
        # transactions in one process could wait on each other (SQLite's single writer, a
        # PostgreSQL row lock) with the loop blocked. One transaction at a time per process;
        # worker processes still run concurrently (PostgreSQL row locks order them).
        self._transaction_lock = asyncio.Lock()
        # The writer's transactions on one connection kept open (no pool checkout, return
        # and, on PostgreSQL, pre-ping per update); on PostgreSQL one idle for 2 s goes back
        # and the next update checks a pre-pinged one out.
        self._writer = KeptConnection(db, max_idle=2.0 if db.is_postgres else None)
        self.answers = KeptAnswers(db, self._transaction_lock, self.clock, settings)
        self.runner = Runner(registry, settings, self.clock)
        # The steps, in order. Before the transaction:
        self.throttle = Throttle(settings, self.clock)
        # ... and in it (each returns None to go on, or the replies; route always answers):
        self.deduplicate = Deduplicate(db.is_postgres)
        self.steps = (self.deduplicate, identify, LockState(db.is_postgres),
                      Understand(registry, self.understander, self.services))
        self._children: dict[tuple[object, ...], Any] = {}  # metrics by label set
        self.route = Route(self.runner, self.understander, self.services, self.clock, self)

    def _metric(self, metric: Any, *labels: str) -> Any:
        """metric.labels(*labels), looked up once per label set (prometheus_client's own
        lookup costs more than the observation)."""
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    @property
    def writer_lock(self) -> asyncio.Lock:
        """This process's turn to write: a door running database work of its own on the
        event loop (SQLite's one writer) takes it, like every update does."""
        return self._transaction_lock

    # -- entry point -------------------------------------------------------------------------
    async def handle(self, incoming: Incoming) -> Outcome:
        """Handle one update; never raises. Updates of one (chat, user) run in order. The
        door sends the outcome's replies, then calls `outcome.acknowledge()`."""
        door = incoming.platform
        throttled = self.throttle(incoming)
        if throttled is not None:
            self._metric(UPDATES, door, "throttled").inc()
            return Outcome(throttled)
        started = time.perf_counter()
        lock = self._locks.get(incoming.key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[incoming.key] = lock
        async with lock:
            try:
                replies = await self._handle(incoming, started)
                self._metric(UPDATES, door, "ok" if replies else "silent").inc()
                return self.answers.outcome(incoming, replies)
            except Exception:
                self._metric(UPDATES, door, "error").inc()
                log.exception("update failed (platform=%s)", incoming.platform)
                t = Translator(self.settings.default_locale, self.settings.default_timezone)
                return Outcome([Reply(t("Sorry, something went wrong on our side. Nothing was "
                                        "saved; please try again, or send /cancel."))])
            finally:
                self._metric(UPDATE_SECONDS, door).observe(time.perf_counter() - started)

    async def _handle(self, inc: Incoming, started: float) -> list[Reply]:
        default_t = Translator(
            inc.language if inc.language in ("en", "id") else self.settings.default_locale,
            self.settings.default_timezone,
            errors=self.registry.errors,
        )
        cleaned = clean(inc, self.settings, default_t)
        if isinstance(cleaned, list):
            return cleaned
        inc = cleaned
        # The whole update under the writer lock, on SQLite (one writer) and PostgreSQL alike:
        # its statements are synchronous on the event loop. PostgreSQL's commit used to run
        # in a thread after the lock (commits of different chats overlapping), but on 2 cores
        # the hand-over to the thread and back cost more CPU than the overlap saved
        # (engine_throughput on PostgreSQL, runs interleaved: 0.75 against 1.1-1.4 ms CPU
        # per update, 660-840 against 510-660 updates/s). Worker processes run concurrently
        # and PostgreSQL's row locks order them.
        async with self._transaction_lock:
            self._metric(LOCK_WAIT_SECONDS, inc.platform).observe(time.perf_counter() - started)
            now = self.clock.now()
            for attempt in range(_CONFLICT_ATTEMPTS):
                # A concurrent write by another worker to the same versioned row (two reps
                # logging a visit on one contact at once): run the whole update again.
                try:
                    return await self._attempt(inc, now, default_t)
                except AlreadyProcessed:
                    break
                except StaleDataError:
                    if attempt == _CONFLICT_ATTEMPTS - 1:
                        raise
                    log.info("update conflicted with a concurrent one; retrying")
                    await asyncio.sleep(random.uniform(0, 0.02 * (attempt + 1)))
        if not inc.keep_answer:
            log.debug("dropped a redelivered update (platform=%s)", inc.platform)
            return []
        return await self.answers.replay(inc)

    async def _attempt(self, inc: Incoming, now: datetime, default_t: Translator
                       ) -> list[Reply]:
        with (self.db.sessionmaker() if self._writer is None else self._writer.session()
              ) as session:
            taken: dict[str, set[str]] = {}
            try:
                with session.begin():
                    taken = self.answers.forget_sent(session)
                    replies = await self._in_transaction(session, inc, now, default_t)
            except StepRefused as refused:
                self.answers.sent_again(taken)  # rolled back with the step
                return self._refused(session, inc, now, refused)
            except BaseException:
                self.answers.sent_again(taken)
                raise
        return replies

    async def _in_transaction(self, session: Session, inc: Incoming, now: datetime,
                              default_t: Translator) -> list[Reply]:
        u = Update(inc, now, default_t, session)
        replies = await self._run_steps(u)
        save_state(u)
        self.answers.keep(session, inc, replies)
        return replies

    def _refused(self, session: Session, inc: Incoming, now: datetime, refused: StepRefused
                 ) -> list[Reply]:
        # Everything the step wrote is rolled back; remember the update id so a redelivery
        # is answered by nothing rather than run again.
        if inc.update_id is not None:
            with session.begin():
                self.deduplicate.record(session, inc, now)
                self.answers.keep(session, inc, refused.replies)
        return refused.replies

    async def _run_steps(self, u: Update) -> list[Reply]:
        for step in self.steps:
            replies = step(u)
            if replies is not None:
                return replies
        return await self.route(u)

    # -- kept answers (the door-facing names until every door acknowledges an Outcome) -------
    def answer_sent(self, platform: str, update_id: str) -> None:
        """The door sent this update's kept answer (see Outcome.acknowledge)."""
        self.answers.answer_sent(platform, update_id)

    async def flush_sent(self) -> None:
        """Forget every kept answer the doors reported sent (also on a door's stop)."""
        await self.answers.flush()

    # -- what a step may ask of the engine (flow.EngineView) ---------------------------------
    async def start_flow(self, ctx: Ctx, name: str, args: dict[str, str]) -> Step:
        """Run `name`'s start step in `ctx` (used by Ctx.begin); returns a Step for it."""
        return await self.runner.start_flow(ctx, name, args)

    def help_reply(self, ctx: Ctx) -> Reply:
        """List what the user's role can do."""
        return help_reply(self.registry, ctx)

    def visible_commands(self, role: Role) -> list[tuple[str, str]]:
        """(command, help msgid) pairs a role may use (for platform command menus)."""
        return visible_commands(self.registry, role)
