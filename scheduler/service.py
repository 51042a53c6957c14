"""The scheduler process part: APScheduler triggers the sweeps and the notice claims; a
drain loop sends the outbox through the doors' senders at the platforms' pace.

No business rules here: sweeps (core.sweeps) decide what is due, core.notices who gets a
notice where and when, the injected renderer writes the words, the senders talk to the
platforms. Database work runs in a worker
thread so the event loop (shared with the doors in `sfa run`) never blocks on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, PendingRollbackError

from core.db import Database
from core.health import Components
from core.models import NoticeRow, NoticeStatus
from core.ports import (
    Clock,
    DeliveryError,
    MessageSender,
    PermanentFailure,
    RateLimited,
    SentMessageFinder,
)
from core.sweeps import Sweep
from scheduler.outbox import (
    NoticeRenderer,
    OutboxItem,
    Outcome,
    RenderStats,
    claim_notices,
    claim_outbox,
    push_key,
    record_and_start,
    release_claims,
    render_claimed,
)
from scheduler.pacing import Pacer, PlatformLimits
from scheduler.roster import SchedulerRoster

log = logging.getLogger(__name__)


class _SkippedRunFilter(logging.Filter):
    """Drop APScheduler's warning for a run skipped because the previous one is still going
    (max_instances=1, coalesce: skipping is the design). While the database is down a run
    waits for its connection timeout, and these warnings were a line per job every 2 s;
    the components' own backoff lines (core.health) say what is going on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


logging.getLogger("apscheduler.scheduler").addFilter(_SkippedRunFilter())


def _is_outage(exc: BaseException, db: Database) -> bool:
    """True for an error of an unreachable database (not a bug in a sweep)."""
    if isinstance(exc, OperationalError | InterfaceError | PendingRollbackError):
        return True
    return isinstance(exc, DBAPIError) and (exc.connection_invalidated
                                            or db.availability.down)


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class SchedulerConfig:
    notice_lease: timedelta = timedelta(minutes=2)
    outbox_lease: timedelta = timedelta(minutes=2)
    notice_batch: int = 1000
    outbox_batch: int = 120
    max_in_flight: int = 8
    claim_every: float = 2.0  # seconds between notice claims (APScheduler job)
    roster_every: float = 2.0  # seconds between counts of the live schedulers (PostgreSQL)
    idle_poll: float = 0.5  # seconds the drain loop waits when the outbox is empty
    limits: dict[str, PlatformLimits] | None = None


@dataclass
class TickReport:
    swept: int = 0
    rendered: RenderStats = field(default_factory=RenderStats)
    sent: int = 0
    retried: int = 0
    failed: int = 0


class Scheduler:
    """Sweeps, notice claims and the outbox drain of one process."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        notices: NoticeRenderer,
        senders: dict[str, MessageSender],
        *,
        config: SchedulerConfig | None = None,
        sweeps: Iterable[Sweep],
        worker: str | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        in_thread: bool = True,
        components: Components | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.notices = notices
        self.senders = dict(senders)
        self.config = config or SchedulerConfig()
        # The sweeps to run: the composition root gathers them (core.sweeps.gather).
        self.sweeps = list(sweeps)
        self.worker = worker or worker_name()
        self.pacer = Pacer(self.config.limits, monotonic=monotonic)
        self.monotonic = monotonic
        self.sleep = sleep
        self.in_thread = in_thread
        self._last_run: dict[str, datetime] = {}
        self._aps: Any = None
        self._roster: SchedulerRoster | None = None
        self._drain_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        # The send ledger: results to write and rows to mark "sending", written together by
        # whichever send gets the lock (see _write_ledger).
        self._unrecorded: list[Outcome] = []
        self._to_start: dict[int, asyncio.Future[bool]] = {}
        self._ledger_lock = asyncio.Lock()
        self.delivered = 0
        # States for /healthz and outage logging: the app's (App.components), or its own.
        self.components = components if components is not None else Components()
        for name in ("sweeps", "notices", "outbox"):
            self.components.register(name)

    async def _db(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        if self.in_thread:
            return await asyncio.to_thread(fn, *args, **kw)
        return fn(*args, **kw)

    # -- sweeps ------------------------------------------------------------------------------
    def _run_sweep_sync(self, item: Sweep, now: datetime) -> int:
        with self.db.session() as session:
            if self.db.is_postgres:
                # One process runs a given sweep at a time; the others skip this round.
                lock_id = zlib.crc32(item.name.encode()) & 0x7FFFFFFF
                got = session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                     {"k": lock_id})
                if not got:
                    return 0
            return int(item.fn(session, now) or 0)

    def _failed(self, component: str, exc: Exception, what: str) -> None:
        """A database outage: one line per backoff step for the component (core.health);
        anything else: the traceback, as a bug deserves."""
        if _is_outage(exc, self.db):
            self.components.failed(component, exc)
        else:
            log.exception("%s failed", what)

    async def run_sweep(self, item: Sweep) -> int:
        now = self.clock.now()
        if self.components.waiting("sweeps"):  # the database is down: wait out the backoff
            return 0
        try:
            count = await self._db(self._run_sweep_sync, item, now)
        except Exception as exc:
            self._failed("sweeps", exc, f"sweep {item.name}")
            return 0
        self.components.ok("sweeps")
        self._last_run[item.name] = now
        if count:
            log.info("sweep %s: %d due", item.name, count)
        return count

    async def run_due_sweeps(self, *, force: bool = False) -> int:
        """Run every sweep whose interval has passed on the injected clock."""
        now = self.clock.now()
        total = 0
        for item in self.sweeps:
            last = self._last_run.get(item.name)
            if force or last is None or now - last >= item.every or now < last:
                total += await self.run_sweep(item)
        return total

    # -- notices -> outbox -------------------------------------------------------------------
    def _fill_sync(self, now: datetime) -> RenderStats:
        total = RenderStats()
        while True:
            ids = claim_notices(self.db, worker=self.worker, now=now,
                                lease=self.config.notice_lease,
                                limit=self.config.notice_batch)
            if not ids:
                return total
            stats = render_claimed(self.db, worker=self.worker, ids=ids, now=now,
                                   render=self.notices, platforms=set(self.senders))
            for name in ("queued", "deferred", "cancelled", "failed"):
                setattr(total, name, getattr(total, name) + getattr(stats, name))
            if len(ids) < self.config.notice_batch:
                return total

    async def fill_outbox(self) -> RenderStats:
        """Claim due notices and render them into the outbox."""
        if self.components.waiting("notices"):
            return RenderStats()
        try:
            stats = await self._db(self._fill_sync, self.clock.now())
        except Exception as exc:
            self._failed("notices", exc, "claiming notices")
            return RenderStats()
        self.components.ok("notices")
        return stats

    # -- outbox -> doors ---------------------------------------------------------------------
    async def drain_once(self) -> tuple[int, int, int]:
        """Claim one batch of ready outbox rows and send it at the platforms' pace.

        Returns (sent, retried, failed)."""
        if not self.senders:
            return (0, 0, 0)
        items: list[OutboxItem] = await self._db(
            claim_outbox, self.db, worker=self.worker, now=self.clock.now(),
            lease=self.config.outbox_lease, platforms=set(self.senders),
            decode=self.notices.decode, limit=self.config.outbox_batch)
        if not items:
            return (0, 0, 0)
        outcomes = await self._dispatch(items)
        sent = sum(1 for o in outcomes if o.status == "sent")
        retried = sum(1 for o in outcomes if o.status == "retry")
        return (sent, retried, len(outcomes) - sent - retried)

    async def _dispatch(self, items: list[OutboxItem]) -> list[Outcome]:
        pending = list(items)
        outcomes: list[Outcome] = []
        in_flight: set[asyncio.Task[None]] = set()
        gate = asyncio.Semaphore(self.config.max_in_flight)

        async def send(item: OutboxItem, task: asyncio.Task[Outcome | None]) -> None:
            outcome = await task
            if outcome is not None:
                outcomes.append(outcome)

        while pending:
            now = self.monotonic()
            best = min(pending, key=lambda it: self.pacer.ready_at(it.platform, it.chat_id))
            ready = self.pacer.ready_at(best.platform, best.chat_id)
            if ready > now:
                await self.sleep(min(ready - now, 1.0))
                continue
            await gate.acquire()
            now = self.monotonic()
            if self.pacer.ready_at(best.platform, best.chat_id) > now:
                gate.release()
                continue
            pending.remove(best)
            self.pacer.take(best.platform, best.chat_id, now)
            task = asyncio.create_task(send(best, self._start(best, gate)))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.gather(*in_flight)
        return outcomes

    def _start(self, item: OutboxItem, gate: asyncio.Semaphore) -> asyncio.Task[Outcome | None]:
        """Send `item` (the caller holds a `gate` slot): its "sending" mark is queued for the
        next ledger write at once, so it shares that write with the result that freed the
        slot."""
        started = asyncio.get_running_loop().create_future()
        self._to_start[item.id] = started
        return asyncio.create_task(self._send_one(item, gate, started))

    async def _send_one(self, item: OutboxItem, gate: asyncio.Semaphore,
                        started: asyncio.Future[bool]) -> Outcome | None:
        """Wait for the row's "sending" mark to be committed, send it, commit the result.

        The gate slot is given back when the platform has answered, before the result is
        written: the next row's mark is queued after this result, and a ledger write takes
        all queued results and marks together (results first), so the rows this process
        has committed as "sending" never outnumber max_in_flight. None when the row could
        not be marked (its claim was lost, or the database failed: it stays claimed and is
        taken again when the lease runs out)."""
        released = False
        try:
            try:
                await self._write_ledger()
            except Exception:
                log.exception("marking outbox %s as sending failed", item.id)
            if not started.done() or not started.result():
                self._to_start.pop(item.id, None)
                return None
            wait = self.pacer.sending(item.platform, item.chat_id, self.monotonic())
            if wait > 0:
                await self.sleep(wait)
            outcome = await self._send(item)
            self._unrecorded.append(outcome)
            gate.release()
            released = True
            await asyncio.sleep(0)  # let the loop queue the next row's mark: one write for both
            try:
                await self._write_ledger()
            except Exception:
                log.exception("recording sends failed (kept to write with the next ones)")
            return outcome
        finally:
            if not released:
                gate.release()

    async def _send(self, item: OutboxItem) -> Outcome:
        sender = self.senders[item.platform]
        key = push_key(item.id)
        if item.uncertain_since is not None and isinstance(sender, SentMessageFinder):
            try:
                found = await sender.find_sent(item.chat_id, key, item.uncertain_since)
            except Exception as exc:  # cannot tell: sending again is the safe side
                log.info("outbox %s: could not look up an earlier send (%s)", item.id,
                         exc.__class__.__name__)
                found = None
            if found is not None:
                log.info("outbox %s: the platform has it from the earlier send", item.id)
                return Outcome(item, "sent", external_id=found)
        try:
            external = await sender.deliver(item.chat_id, item.message, key=key)
        except RateLimited as exc:
            self.pacer.hold(item.platform, item.chat_id, exc.retry_after)
            log.info("429 from %s for chat %s: retry after %.1fs", item.platform,
                     item.chat_id, exc.retry_after)
            return Outcome(item, "retry", retry_after=exc.retry_after, error=str(exc))
        except PermanentFailure as exc:
            return Outcome(item, "failed", error=f"permanent: {exc}"[:500], permanent=True)
        except DeliveryError as exc:
            return Outcome(item, "retry", error=str(exc)[:500] or exc.__class__.__name__)
        except Exception as exc:  # a door bug must not stop the loop
            log.exception("sender %s crashed", item.platform)
            return Outcome(item, "retry", error=exc.__class__.__name__)
        self.delivered += 1
        return Outcome(item, "sent", external_id=external)

    # -- one pass (tests, the console's @advance) --------------------------------------------
    async def tick(self, *, max_batches: int = 100) -> TickReport:
        """Run due sweeps, render due notices, send what is ready now."""
        report = TickReport()
        report.swept = await self.run_due_sweeps()
        report.rendered = await self.fill_outbox()
        for _ in range(max_batches):
            sent, retried, failed = await self.drain_once()
            report.sent += sent
            report.retried += retried
            report.failed += failed
            if sent + retried + failed == 0 or retried:
                break
        return report

    # -- running in a process ----------------------------------------------------------------
    def unrendered_kinds(self) -> dict[str, int]:
        """Kinds of waiting notices no renderer is registered for, with their counts: they
        would fail when due (a renderer's module not registered, a kind misspelt)."""
        known = set(self.notices.kinds)
        waiting = [NoticeStatus.PENDING.value, NoticeStatus.CLAIMED.value]
        with self.db.session() as session:
            return {kind: int(count) for kind, count in session.execute(
                select(NoticeRow.kind, func.count()).where(
                    NoticeRow.status.in_(waiting), NoticeRow.kind.not_in(known))
                .group_by(NoticeRow.kind))}

    async def start(self) -> None:
        """Start APScheduler (sweeps and notice claims) and the drain loop."""
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        self._stopping.clear()
        try:
            unknown = await self._db(self.unrendered_kinds)
        except Exception as exc:  # the database may be down: the jobs wait it out
            self._failed("notices", exc, "checking the notice kinds")
            unknown = {}
        if unknown:
            log.error("notices with no renderer are waiting (they fail when due; register "
                      "their kind with registry.add_notice): %s",
                      ", ".join(f"{k} ({n})" for k, n in sorted(unknown.items())))
        aps = AsyncIOScheduler(timezone="UTC")
        for item in self.sweeps:
            aps.add_job(self.run_sweep, "interval", args=[item], id=f"sweep:{item.name}",
                        seconds=item.every.total_seconds(), max_instances=1, coalesce=True,
                        next_run_time=self.clock.now())
        aps.add_job(self.fill_outbox, "interval", id="notices", seconds=self.config.claim_every,
                    max_instances=1, coalesce=True, next_run_time=self.clock.now())
        if self.db.is_postgres and any(self.pacer.limits.get(p, PlatformLimits()).overall
                                       for p in self.senders):
            # Share the platforms' overall limits with the other live schedulers.
            roster = SchedulerRoster(self.db)
            self._roster = roster
            self.components.register("roster")
            await self.count_schedulers()  # joins; retried by the job below if that failed
            aps.add_job(self.count_schedulers, "interval", id="roster",
                        seconds=self.config.roster_every, max_instances=1, coalesce=True)
        aps.start()
        self._aps = aps
        self._drain_task = asyncio.create_task(self._drain_loop())
        log.info("scheduler %s started: %d sweeps, platforms %s", self.worker,
                 len(self.sweeps), ", ".join(sorted(self.senders)) or "none")

    async def count_schedulers(self) -> int:
        """Count the live schedulers and keep 1/N of each platform's overall limit."""
        if self._roster is None or self.components.waiting("roster"):
            return self.pacer.share
        try:
            live = int(await self._db(self._roster.live))  # joins again after an outage
        except Exception as exc:
            self._failed("roster", exc, "counting the live schedulers")
            return self.pacer.share
        self.components.ok("roster")
        if live != self.pacer.share:
            log.info("scheduler %s: %d schedulers live, each sends 1/%d of the platform "
                     "limits", self.worker, live, live)
            self.pacer.share = live
        return live

    async def _drain_loop(self) -> None:
        """Send continuously: keep a small queue of claimed rows topped up (so a batch
        boundary never idles the platform's pace), send whichever row's chat is free."""
        queue: list[tuple[float, OutboxItem]] = []  # (monotonic claim time, row)
        in_flight: set[asyncio.Task[Outcome | None]] = set()
        gate = asyncio.Semaphore(self.config.max_in_flight)
        lease = self.config.outbox_lease.total_seconds()
        batch = self.config.outbox_batch
        next_claim = 0.0
        while not self._stopping.is_set():
            try:
                now = self.monotonic()
                if len(queue) < batch // 2 and now >= next_claim and self.senders:
                    wanted = batch - len(queue)
                    items = await self._db(
                        claim_outbox, self.db, worker=self.worker, now=self.clock.now(),
                        lease=self.config.outbox_lease, platforms=set(self.senders),
                        decode=self.notices.decode, limit=wanted)
                    self.components.ok("outbox")
                    now = self.monotonic()
                    queue.extend((now, item) for item in items)
                    # A short claim: the outbox is drained for now, look again a bit later.
                    next_claim = now if len(items) == wanted else now + self.config.idle_poll
                # A row held longer than most of its lease is left to expire and be taken
                # again (never sent by two processes).
                queue = [(t, it) for t, it in queue if now - t < lease * 0.8]
                if self._unrecorded and not in_flight:  # a result a failed write left
                    await self._write_ledger()
                if not queue:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), self.config.idle_poll)
                    continue
                entry = min(queue, key=lambda e: self.pacer.ready_at(e[1].platform,
                                                                      e[1].chat_id))
                item = entry[1]
                ready = self.pacer.ready_at(item.platform, item.chat_id)
                if ready > now:
                    await self.sleep(min(ready - now, 0.25))
                    continue
                await gate.acquire()
                now = self.monotonic()
                if self.pacer.ready_at(item.platform, item.chat_id) > now:
                    gate.release()
                    continue
                queue.remove(entry)
                self.pacer.take(item.platform, item.chat_id, now)
                task = self._start(item, gate)
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            except Exception as exc:
                self._failed("outbox", exc, "outbox drain")
                with contextlib.suppress(TimeoutError):  # the backoff, or a stop
                    await asyncio.wait_for(self._stopping.wait(), self.components.delay(
                        "outbox", self.config.idle_poll))
        if in_flight:
            await asyncio.gather(*in_flight, return_exceptions=True)

    async def _write_ledger(self) -> None:
        """Group commit: whoever gets the lock writes every result waiting so far and marks
        every row about to be sent, in one transaction; under load one commit serves many
        sends, when idle each is written at once. A send starts only after its mark is
        committed and its result is written right after the platform answered, so a crash
        can repeat only a row the database shows as "sending"."""
        async with self._ledger_lock:
            if not self._unrecorded and not self._to_start:
                return
            results, self._unrecorded = self._unrecorded, []
            marks, self._to_start = self._to_start, {}
            try:
                started: set[int] = await self._db(
                    record_and_start, self.db, results, list(marks), worker=self.worker,
                    now=self.clock.now(), lease=self.config.outbox_lease)
            except Exception:
                self._unrecorded = results + self._unrecorded
                for future in marks.values():
                    future.set_result(False)
                raise
            for oid, future in marks.items():
                future.set_result(oid in started)

    async def stop(self) -> None:
        """Stop triggering, finish the current batch, hand unsent claims back."""
        self._stopping.set()
        if self._aps is not None:
            self._aps.shutdown(wait=False)
            self._aps = None
        if self._drain_task is not None:
            try:
                await asyncio.wait_for(self._drain_task, 30)
            except (TimeoutError, asyncio.CancelledError):
                self._drain_task.cancel()
            self._drain_task = None
        try:
            await self._write_ledger()
        except Exception:
            log.exception("recording the last sends failed")
        try:
            await self._db(release_claims, self.db, worker=self.worker)
        except Exception:
            log.exception("releasing claims failed")
        if self._roster is not None:
            roster, self._roster = self._roster, None
            try:
                await self._db(roster.leave)
            except Exception:
                log.exception("leaving the scheduler roster failed")
        log.info("scheduler %s stopped", self.worker)
