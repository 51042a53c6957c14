"""The reliable intake a door uses when it acknowledges an update before working it (Slack
answers every request within 3 seconds; a webhook may too).

The door translates; this intake keeps the promise its ack made:
- record on arrival: `take_in(job)` writes the job to the database inbox (bot.intake.store),
  claimed by this worker, before the door acks (False: a platform retry of an update still
  in flight, to ack and drop);
- work in order: `submit(job)` queues it on one of `shards` queues chosen by the job's key
  (one user's updates stay in order); workers call the door's `work(job)` (translate, run
  the engine, send the replies);
- forget once sent: the door acknowledges the engine's outcome once its replies are sent
  (the kept answer goes), and a done job's inbox row is forgotten, batched off the
  answer's path; a failed job is released for another try;
- take over: every `takeover_every` seconds this worker renews its claims and claims jobs
  whose claim lapsed (a worker that died), which are worked again; the engine's update
  records make that a first run, a replay of the kept answer or nothing. After
  store.MAX_ATTEMPTS claims a job is given up.

All database work of the intake runs here, never in a door: on PostgreSQL on a thread (it
touches no row a step holds), on SQLite in this process's writer turn (Engine.writer_lock).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Generic, Protocol, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot.conversations.engine import Engine
from bot.intake import store

log = logging.getLogger(__name__)
_T = TypeVar("_T")


class IntakeJob(Protocol):
    """What the intake needs of a door's job: its update id (None: not recorded), the key
    that keeps one user's jobs in order, and its bytes for the inbox."""

    update_id: str | None
    enqueued: float

    @property
    def key(self) -> str: ...

    def pack(self) -> bytes: ...


J = TypeVar("J", bound=IntakeJob)


@dataclass
class IntakeStats:
    """What the benchmark and tests read: queue waits (seconds), jobs done, jobs failed."""

    queue_waits: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=200_000))
    work_seconds: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=200_000))
    received: int = 0
    done: int = 0
    failed: int = 0
    duplicates: int = 0
    taken_over: int = 0  # inbox jobs of a stopped worker this intake worked
    given_up: int = 0


def worker_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


class InboxUnavailable(RuntimeError):
    """The inbox could not record a job (the database is down): a door that can refuse
    the update (a webhook answering 503, which Telegram redelivers) refuses it."""


class Intake(Generic[J]):
    """One door's intake (see the module docstring). `start()` on the main loop; `take_in`
    and `submit` may be called from the door's own intake thread."""

    def __init__(
        self,
        engine: Engine,
        platform: str,
        *,
        work: Callable[[J], Awaitable[None]],
        unpack: Callable[[bytes], J],
        lease: timedelta,
        enabled: bool = True,
        shards: int = 64,
        takeover_every: float = 5.0,
        refuse_unrecorded: bool = False,
    ) -> None:
        self.engine = engine
        self.platform = platform
        self.work = work
        self.unpack = unpack
        self.lease = lease
        self.enabled = enabled
        # Renewals come well inside the lease, or a live worker's claims would lapse.
        self.takeover_every = min(takeover_every, lease.total_seconds() / 3)
        # True: a job the inbox cannot record raises InboxUnavailable (the door refuses the
        # update and the platform redelivers it); False: it is worked from memory only.
        self.refuse_unrecorded = refuse_unrecorded
        self.worker_name = worker_name()
        self.stats = IntakeStats()
        self._queues: list[asyncio.Queue[J]] = [asyncio.Queue() for _ in range(shards)]
        self._workers: list[asyncio.Task[None]] = []
        self._takeover: asyncio.Task[None] | None = None
        self._done_ids: list[str] = []  # jobs done, to forget in one transaction
        self._forgetting: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._other_loop: asyncio.AbstractEventLoop | None = None
        # Set once the takeover pass made at start has run (the jobs a dead worker left
        # are queued by then).
        self.first_pass = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, *, intake_loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start the workers (and the takeover pass) on the running loop; `intake_loop` is
        the door's own thread's loop when it takes jobs in there."""
        self._loop = asyncio.get_running_loop()
        self._other_loop = intake_loop
        self._workers = [asyncio.create_task(self._work(q), name=f"{self.platform}-worker-{i}")
                         for i, q in enumerate(self._queues)]
        if self.enabled:
            self._takeover = asyncio.create_task(self._take_over_loop(),
                                                 name=f"{self.platform}-takeover")

    def received_on(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """The door moved its intake to (or back from) a loop of its own thread."""
        self._other_loop = loop

    async def stop(self) -> None:
        """Stop the workers; forget what was done, give unfinished jobs to other workers."""
        if self._takeover is not None:
            self._takeover.cancel()
            await asyncio.gather(self._takeover, return_exceptions=True)
            self._takeover = None
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        if self.enabled:
            if self._forgetting is not None:
                await asyncio.gather(self._forgetting, return_exceptions=True)
            await self._forget_done(settle=0)
            with contextlib.suppress(SQLAlchemyError):  # else purged with their records
                await self.engine.flush_sent()
            await self._release_unfinished()

    @property
    def queued(self) -> int:
        return sum(q.qsize() for q in self._queues)

    @property
    def busy(self) -> bool:
        return self.stats.received > self.stats.done + self.stats.failed

    async def drain(self, timeout: float = 120.0) -> None:
        """Wait until every received job is done and its kept answer forgotten; a
        TimeoutError after `timeout` seconds says what is still open."""
        deadline = time.monotonic() + timeout
        while self.busy:
            if time.monotonic() > deadline:
                raise TimeoutError(self.describe())
            await asyncio.sleep(0.005)
        await asyncio.gather(*(q.join() for q in self._queues))
        if self._forgetting is not None:
            await asyncio.gather(self._forgetting, return_exceptions=True)
        await self.engine.flush_sent()

    def describe(self) -> str:
        """What the intake holds, for a drain that does not end."""
        workers = collections.Counter(
            "running" if not t.done() else "cancelled" if t.cancelled()
            else f"ended ({t.exception()!r})" for t in self._workers)
        return (f"{self.platform} intake: received {self.stats.received}, done "
                f"{self.stats.done}, failed {self.stats.failed}, queued {self.queued}; "
                f"workers {dict(workers)}")

    # -- in ----------------------------------------------------------------------------------
    async def take_in(self, job: J) -> bool:
        """Record a job before its ack (when on and the job has an update id); False for a
        platform retry of an update recorded before and not yet done. When the inbox cannot
        record it: InboxUnavailable with `refuse_unrecorded`, else True (worked from memory)."""
        if not self.enabled or job.update_id is None:
            return True
        try:
            on_intake = (self._other_loop is not None
                         and asyncio.get_running_loop() is self._other_loop)
            if on_intake:
                fresh = self._record(job)  # its own connection; no write lock to share
            elif self.engine.db.is_postgres:
                # On a thread: the loop goes on with other updates while PostgreSQL
                # waits for the disk on this commit.
                fresh = await asyncio.to_thread(self._record, job)
            else:
                async with self.engine.writer_lock:  # SQLite: one writer per process
                    fresh = self._record(job)
        except SQLAlchemyError as exc:
            if self.refuse_unrecorded:
                log.warning("%s: inbox unavailable (%s); an update refused for a redelivery",
                            self.platform, exc.__class__.__name__)
                raise InboxUnavailable(self.platform) from None
            log.warning("%s: inbox unavailable (%s); a job is kept in memory only",
                        self.platform, exc.__class__.__name__)
            return True
        if not fresh:
            self.stats.duplicates += 1
            log.info("%s: ignored a retry of an update still in the inbox", self.platform)
        return fresh

    def _record(self, job: J) -> bool:
        assert job.update_id is not None
        with self.engine.db.engine.begin() as conn:
            return store.record_update(conn, self.platform, job.update_id, job.pack(),
                                       worker=self.worker_name, now=self.engine.clock.now())

    def submit(self, job: J) -> None:
        """Queue a job for the workers (from the door's intake thread or the main loop)."""
        self.stats.received += 1
        job.enqueued = time.perf_counter()
        queue = self._queues[hash(job.key) % len(self._queues)]
        if self._loop is not None and self._other_loop is not None:
            self._loop.call_soon_threadsafe(queue.put_nowait, job)
        else:
            queue.put_nowait(job)

    # -- workers -----------------------------------------------------------------------------
    async def _work(self, queue: asyncio.Queue[J]) -> None:
        while True:
            job = await queue.get()
            taken = time.perf_counter()
            self.stats.queue_waits.append(taken - job.enqueued)
            try:
                await self.work(job)
                self.stats.done += 1
                self.stats.work_seconds.append(time.perf_counter() - taken)
                self._job_done(job)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # this worker is being stopped
                # A cancelled future the job awaited, not this worker: the job failed (a
                # worker that ended here would leave its queue unworked for good).
                log.warning("%s job failed: a wait inside it was cancelled", self.platform)
                await self._failed(job)
            except Exception:
                log.exception("%s job failed", self.platform)
                await self._failed(job)
            finally:
                queue.task_done()

    async def _failed(self, job: J) -> None:
        """Release a failed job for another try, then count it (a drain ends only once the
        release is written)."""
        try:
            await self._release(job)
        finally:
            self.stats.failed += 1

    def _job_done(self, job: J) -> None:
        """Forget a done job's inbox row (batched, off the answer's path); its kept answer
        the door let go when it acknowledged the engine's outcome after sending."""
        if not self.enabled or job.update_id is None:
            return
        self._done_ids.append(job.update_id)
        if self._forgetting is None or self._forgetting.done():
            self._forgetting = asyncio.get_running_loop().create_task(self._forget_done())

    async def _forget_done(self, settle: float | None = None) -> None:
        if settle is None:
            # Batched: one DELETE for the jobs done meanwhile. A row forgotten late costs
            # nothing but a takeover that finds the update processed and its answer
            # already forgotten (KeptAnswers forgets at once), which sends nothing.
            settle = 0.05
        await asyncio.sleep(settle)  # one transaction for the jobs done meanwhile
        while self._done_ids:
            batch, self._done_ids = self._done_ids[:500], self._done_ids[500:]
            try:
                await self._inbox_work(functools.partial(
                    store.forget_updates, platform=self.platform, update_ids=batch))
            except SQLAlchemyError as exc:  # kept: the next done job tries again
                log.warning("%s: could not forget done updates: %s", self.platform,
                            exc.__class__.__name__)
                self._done_ids[:0] = batch
                return

    async def _inbox_work(self, work: Callable[[Session], _T]) -> _T:
        """Run inbox work in a transaction of its own: on PostgreSQL on a thread (it touches
        no row a step of this process holds, and the steps do not queue behind its commit);
        on SQLite on this loop, in this process's writer turn (see Engine)."""
        def run() -> _T:
            with self.engine.db.session() as session:
                return work(session)

        if self.engine.db.is_postgres:
            return await asyncio.to_thread(run)
        async with self.engine.writer_lock:
            return run()

    async def _release(self, job: J) -> None:
        """Give a failed job back: the next takeover pass (here or elsewhere) tries it again,
        until store.MAX_ATTEMPTS."""
        if not self.enabled or job.update_id is None:
            return
        ids = [job.update_id]
        try:
            await self._inbox_work(lambda session: store.release_updates(
                session, self.platform, worker=self.worker_name, update_ids=ids))
        except SQLAlchemyError as exc:  # its claim lapses after the lease instead
            log.warning("%s: could not release a failed job: %s", self.platform,
                        exc.__class__.__name__)

    async def _release_unfinished(self) -> None:
        """On stop: give this worker's unfinished jobs to the others (or the next start)."""
        try:
            released = await self._inbox_work(lambda session: store.release_updates(
                session, self.platform, worker=self.worker_name))
        except SQLAlchemyError as exc:  # their claims lapse after the lease instead
            log.warning("%s: could not release unfinished jobs: %s", self.platform,
                        exc.__class__.__name__)
            return
        if released:
            log.info("%s: released %d unfinished jobs to other workers", self.platform,
                     released)

    # -- takeover ----------------------------------------------------------------------------
    async def _take_over_loop(self) -> None:
        """Renew this worker's claims and take over jobs whose claim lapsed, every few s."""
        while True:
            try:
                await self.take_over()
            except SQLAlchemyError as exc:
                log.warning("%s: inbox takeover failed: %s", self.platform,
                            exc.__class__.__name__)
            self.first_pass.set()
            await asyncio.sleep(self.takeover_every)

    async def take_over(self) -> int:
        """One takeover pass (see _take_over_loop); return how many jobs were queued."""
        now = self.engine.clock.now()
        found = await self._inbox_work(lambda session: store.take_over_updates(
            session, self.platform, worker=self.worker_name, now=now, lease=self.lease))
        for lost in found.given_up:
            self.stats.given_up += 1
            log.warning("%s: gave up an inbox job after %d attempts", self.platform,
                        lost.attempts)
        unreadable: list[str] = []
        for claimed in found.claimed:
            try:
                job = self.unpack(claimed.body)
            except (ValueError, TypeError):
                log.warning("%s: dropped an unreadable inbox job", self.platform)
                unreadable.append(claimed.update_id)
                continue
            self.stats.taken_over += 1
            self.submit(job)
        if unreadable:
            self._done_ids.extend(unreadable)
        if found.claimed:
            log.info("%s: took over %d unfinished jobs", self.platform, len(found.claimed))
        return len(found.claimed) - len(unreadable)
