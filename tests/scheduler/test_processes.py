"""Three `sfa scheduler` processes on one PostgreSQL database deliver 5,000 due reminders
to a local fake platform exactly once each; one is killed with SIGKILL mid-run and still
nothing is lost (its claims time out and the others take them), and nothing is sent twice
but the sends the database shows it had in flight when it died."""

from __future__ import annotations

import bisect
import collections
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text

from core import migrate
from core.db import Database
from core.models import ChatIdentity, FollowUp, NoticeRow, User
from core.models.scheduling import OutboxRow
from scheduler import SchedulerConfig
from scheduler.fakeapi import FakeBotApi

PG_URL = os.environ.get("SFA_TEST_DATABASE_URL", "")
SCHEMA = "sched_processes"
REMINDERS = 5000
USERS = 1000
RATE = 300  # messages/s for the bot in all: the three processes share it


def _midday_zone(now: datetime) -> str:
    offset = 12 - now.hour
    offset = offset if offset <= 14 else offset - 24
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"


def _url() -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{SCHEMA}"


@pytest.mark.process
@pytest.mark.postgres_only
def test_three_processes_deliver_exactly_once_despite_a_kill(tmp_path: Path) -> None:
    admin = Database(PG_URL)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    admin.dispose()
    db = Database(_url())
    migrate.upgrade(db.engine)
    now = datetime.now(UTC)
    tz = _midday_zone(now)
    with db.session() as s:
        s.execute(insert(User), [dict(login=f"rep{i}", name=f"Rep {i}", role="rep", timezone=tz,
                                      locale="en", active=True, created_at=now)
                                 for i in range(USERS)])
        ids = list(s.scalars(select(User.id).order_by(User.id)))
        s.execute(insert(ChatIdentity), [dict(platform="telegram", external_id=str(uid),
                                              chat_id=str(5000 + uid), user_id=uid,
                                              linked_at=now) for uid in ids])
        s.execute(insert(FollowUp), [dict(user_id=ids[i % USERS], kind="follow_up",
                                          note=f"Reminder #{i}",
                                          due_at=now - timedelta(seconds=30), status="open",
                                          created_at=now) for i in range(REMINDERS)])
    api = FakeBotApi(enforce=False, latency=0.003)
    url = api.start()
    sfa = Path(sys.executable).parent / "sfa"
    env = {**os.environ, "SFA_DATABASE_URL": _url(), "SFA_DATA_DIR": str(tmp_path),
           "SFA_LOG_LEVEL": "WARNING"}
    env.pop("SFA_TEST_DATABASE_URL", None)
    procs = [subprocess.Popen([str(sfa), "scheduler", "--sink", url, "--lease", "5",
                               "--rate", str(RATE), "--per-chat", "5"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for _ in range(3)]
    killed_at = None
    in_flight: dict[int, str] = {}
    try:
        # Ends when all are delivered, or when deliveries stall: none within 180 s of the
        # start (three processes starting on a loaded machine), then 30 s without one (or
        # after 400 s in all). The pace is the machine's: 55 s in all sufficed on an idle
        # one, not on a loaded one.
        started = last_progress = time.monotonic()
        delivered = 0
        while (time.monotonic() - last_progress < (30 if delivered else 180)
               and time.monotonic() - started < 400):
            time.sleep(0.2)
            before, delivered = delivered, len(api.stats.texts())
            if delivered > before:
                last_progress = time.monotonic()
            if killed_at is None and delivered >= 1200:
                procs[0].send_signal(signal.SIGKILL)
                killed_at = delivered
                procs[0].wait(10)
                in_flight = _in_flight(db, procs[0].pid)
            if delivered >= REMINDERS:
                break
    finally:
        for p in procs[1:]:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        api.stop()
    counts = collections.Counter(
        m.group(0) for _, _, t in api.stats.accepted
        if (m := re.search(r"Reminder #\d+", t)) is not None)
    duplicates = sum(c - 1 for c in counts.values() if c > 1)
    assert killed_at is not None, "the run ended before the kill"
    missing = {f"Reminder #{i}" for i in range(REMINDERS)} - set(counts)
    assert not missing, f"{len(missing)} reminders lost; stderr: {procs[1].stderr.read()[:2000]!r}"
    # The only possible duplicates: rows the killed process had marked "sending" (its
    # requests in flight, or answered but not yet recorded) when it died: at most its send
    # concurrency, and none at all when the kill fell between sends.
    doubled = {text for text, c in counts.items() if c > 1}
    assert len(in_flight) <= SchedulerConfig().max_in_flight, in_flight
    assert doubled <= set(in_flight.values()), (doubled, in_flight)
    with db.session() as s:
        resent = set(s.scalars(select(OutboxRow.id).where(OutboxRow.last_error.like("resent:%"))))
    assert resent <= set(in_flight), (resent, in_flight)
    # The bot's overall limit holds for the three together (each paces at RATE / live
    # schedulers), once they have counted each other (the first seconds are left out).
    times = sorted(t for t, _, _ in api.stats.accepted)
    steady = [t for t in times if t >= times[0] + 3]
    busiest = max(bisect.bisect_right(steady, t + 1.0) - i for i, t in enumerate(steady))
    print(f"most deliveries in any 1 s (all processes): {busiest}, limit {RATE}")
    assert busiest <= RATE * 1.1
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(NoticeRow).where(
            NoticeRow.status != "sent")) == 0
        assert s.scalar(select(func.count()).select_from(OutboxRow).where(
            OutboxRow.status != "sent")) == 0
    db.dispose()
    print(f"killed one process after {killed_at} deliveries; {len(in_flight)} of its sends "
          f"in flight ({len(resent)} taken again); {duplicates} duplicates")


def _in_flight(db: Database, pid: int) -> dict[int, str]:
    """The rows a killed process left "sending" (outbox id -> reminder), read before their
    lease runs out; their results are unknown: the only ones that may go out twice."""
    time.sleep(0.3)  # a COMMIT it sent just before dying still lands
    with db.session() as s:
        rows = s.execute(select(OutboxRow.id, OutboxRow.message).where(
            OutboxRow.status == "sending", OutboxRow.claimed_by.like(f"%:{pid}:%"))).all()
    return {oid: m.group(0) for oid, message in rows
            if (m := re.search(r"Reminder #\d+", message.get("text", ""))) is not None}
