"""Reminders: 10,000 due in the same minute, drained against a local fake Telegram API.

Generates seeded data (reps with Telegram chats, follow-ups due in one minute), then:
1. times the sweeps: the follow-up sweep that finds 10k due rows and enqueues notices, the
   scheduler's claim of 10k due notices, and their rendering into the outbox;
2. drains the outbox through the real Scheduler (APScheduler + drain loop + pacer) and
   scheduler.sink.BotApiSink into scheduler.fakeapi.FakeBotApi, which enforces 30/s overall
   and 1/s per chat and answers 429 beyond: sustained rate, lost, duplicated, 429s, 429s
   not honoured;
3. measures what 100k pending (not yet due) reminders add to the process while the
   scheduler sweeps, claims and drains over them (RSS and tracemalloc peak).

    .venv/bin/python benchmarks/reminders.py [--reminders 10000] [--chats 400]
        [--deliver N] [--pending 100000] [--db URL]

Results: a table on stdout and benchmarks/results/reminders.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select, text

from core import followups
from core.clock import SystemClock
from core.db import Database
from core.models import Base, ChatIdentity, FollowUp, NoticeRow, User
from core.models.scheduling import OutboxRow
from core.notices import notice_key
from scheduler import Scheduler, SchedulerConfig
from scheduler.fakeapi import FakeBotApi
from scheduler.outbox import claim_notices, render_claimed
from scheduler.sink import BotApiSink

RESULTS = Path(__file__).resolve().parent / "results"


def midday_zone(now: datetime) -> str:
    """An Etc/GMT zone where it is about noon now (quiet hours must not hold the run)."""
    offset = 12 - now.hour
    offset = max(-12, min(14, offset if offset <= 14 else offset - 24))
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def populate(db: Database, *, chats: int, reminders: int, due: datetime, seed: int,
             tz: str, note_prefix: str = "Reminder", start_user: int = 0) -> None:
    rng = random.Random(seed)
    now = due
    with db.session() as s:
        if start_user == 0:
            s.execute(insert(User), [dict(login=f"rep{i}", name=f"Rep {i}", role="rep",
                                          timezone=tz, locale=rng.choice(["en", "id"]),
                                          active=True, created_at=now) for i in range(chats)])
            ids = list(s.scalars(select(User.id).order_by(User.id)))
            s.execute(insert(ChatIdentity), [dict(platform="telegram", external_id=str(uid),
                                                  chat_id=str(100000 + uid), user_id=uid,
                                                  linked_at=now) for uid in ids])
        ids = list(s.scalars(select(User.id).order_by(User.id)))
        batch = []
        for i in range(reminders):
            batch.append(dict(user_id=ids[i % len(ids)], kind="follow_up",
                              note=f"{note_prefix} #{i}",
                              due_at=due - timedelta(seconds=rng.randint(0, 59)),
                              status="open", created_at=now))
            if len(batch) == 5000:
                s.execute(insert(FollowUp), batch)
                batch = []
        if batch:
            s.execute(insert(FollowUp), batch)


def all_sweeps_safe() -> list:
    from core.sweeps import _SWEEPS

    return list(_SWEEPS.values())  # core.followups is imported above: its sweeps are here


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, (time.perf_counter() - t0) * 1000


async def drain(db: Database, render, url: str, api: FakeBotApi, target: int,
                timeout: float) -> dict:
    sink = BotApiSink(url, "telegram")
    sched = Scheduler(db, SystemClock(), render, {"telegram": sink}, sweeps=[],
                      config=SchedulerConfig(idle_poll=0.2))
    await sched.start()
    t0 = time.monotonic()
    try:
        while len(api.stats.accepted) < target and time.monotonic() - t0 < timeout:
            await asyncio.sleep(0.5)
            n = len(api.stats.accepted)
            if n and n % 1000 < 15:
                print(f"  ... {n} delivered, {api.stats.too_many} x 429", flush=True)
    finally:
        await sched.stop()
        await sink.close()
    return {"wall_s": time.monotonic() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reminders", type=int, default=10_000)
    ap.add_argument("--chats", type=int, default=400)
    ap.add_argument("--deliver", type=int, default=None,
                    help="stop the delivery run after this many (default: all)")
    ap.add_argument("--pending", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3, help="sweep timing repetitions")
    ap.add_argument("--db", default=None, help="database URL (default: a temp SQLite file)")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="sfa-reminders-")
    url = args.db or f"sqlite:///{tmp}/bench.db"
    db = Database(url)
    if db.is_postgres:
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    Base.metadata.create_all(db.engine)
    from bot.conversations.notices import notice_renderer
    from bot.conversations.registry import build_registry

    render = notice_renderer(build_registry())
    now = SystemClock().now()
    tz = midday_zone(now)
    due = now.replace(second=59, microsecond=0) - timedelta(minutes=1)
    print(f"database: {db.dialect}; {args.reminders} reminders due in one minute for "
          f"{args.chats} chats (zone {tz})")
    populate(db, chats=args.chats, reminders=args.reminders, due=due, seed=args.seed, tz=tz)

    # 1. sweeps -------------------------------------------------------------------------------
    sweep_ms, claim_ms, render_ms, rescan_ms = [], [], [], []
    for rep in range(args.repeat):
        with db.engine.begin() as conn:  # start each repetition from the same state
            conn.execute(OutboxRow.__table__.delete())
            conn.execute(NoticeRow.__table__.delete())
        with db.session() as s:
            count, ms = timed(followups.followups_due, s, now)
        assert count == args.reminders, count
        sweep_ms.append(ms)
        with db.session() as s:  # the same sweep again: everything is already enqueued
            again, ms = timed(followups.followups_due, s, now)
        assert again == 0
        rescan_ms.append(ms)
        ids, ms = timed(claim_notices, db, worker=f"bench{rep}", now=now,
                        lease=timedelta(minutes=5), limit=args.reminders)
        assert len(ids) == args.reminders
        claim_ms.append(ms)
        stats, ms = timed(render_claimed, db, worker=f"bench{rep}", ids=ids, now=now,
                          render=render, platforms={"telegram"})
        assert stats.queued == args.reminders, stats
        render_ms.append(ms)

    # 2. delivery -----------------------------------------------------------------------------
    api = FakeBotApi(overall=30, per_chat_seconds=1.0)
    api_url = api.start()
    target = min(args.deliver or args.reminders, args.reminders)
    print(f"draining {target} messages at the platform's pace "
          f"(~{target / 30:.0f} s at 30/s) ...", flush=True)
    run = asyncio.run(drain(db, render, api_url, api, target,
                            timeout=target / 25 + 120))
    api.stop()
    accepted = api.stats.accepted
    times = sorted(t for t, _, _ in accepted)
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    counts = api.stats.texts()
    duplicates = sum(c - 1 for c in counts.values() if c > 1)
    with db.session() as s:
        sent_rows = s.scalar(select(func.count()).select_from(OutboxRow).where(
            OutboxRow.status == "sent")) or 0
        failed_rows = s.scalar(select(func.count()).select_from(OutboxRow).where(
            OutboxRow.status == "failed")) or 0
    delivered_unique = len(counts)
    lost = (args.reminders - delivered_unique) if target == args.reminders else max(
        0, sent_rows - delivered_unique)
    per_second: dict[int, int] = {}
    for t in times:
        per_second[int(t)] = per_second.get(int(t), 0) + 1
    window_max = 0
    j = 0
    for i in range(len(times)):
        while times[i] - times[j] >= 1.0:
            j += 1
        window_max = max(window_max, i - j + 1)

    print(f"delivery: {len(accepted)} accepted, {rate:.2f}/s sustained, max {window_max} in "
          f"any 1 s, lost {lost}, duplicated {duplicates}, 429s {api.stats.too_many}, "
          f"not honoured {api.stats.violations}", flush=True)

    # 3. memory with 100k pending -------------------------------------------------------------
    later = now + timedelta(days=2)
    populate(db, chats=args.chats, reminders=args.pending, due=later, seed=args.seed + 1,
             tz=tz, note_prefix="Later", start_user=1)
    with db.session() as s:
        user_ids = list(s.scalars(select(User.id)))
        rows = [dict(recipient_user_id=user_ids[i % len(user_ids)], kind="followup.due",
                     key=notice_key(f"bench-pending:{i}", user_id=user_ids[i % len(user_ids)]),
                     params={"followup_id": 0}, urgent=False, due_at=later, status="pending",
                     attempts=0, created_at=now) for i in range(args.pending)]
        for i in range(0, len(rows), 5000):
            s.execute(insert(NoticeRow), rows[i:i + 5000])
        del rows
    gc.collect()

    class NullSender:
        platform = "telegram"

        async def deliver(self, chat_id, message):
            return None

    async def passes() -> None:
        # This area's sweeps (others' modules may be mid-edit on a shared tree).
        sweeps = [s for s in all_sweeps_safe() if s.name.startswith("followups.")]
        sched = Scheduler(db, SystemClock(), render, {"telegram": NullSender()},
                          in_thread=False, sweeps=sweeps)
        for _ in range(3):
            await sched.run_due_sweeps(force=True)
            await sched.tick()

    before = rss_mb()
    tracemalloc.start()
    asyncio.run(passes())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    gc.collect()
    after = rss_mb()

    def med(xs):
        return statistics.median(xs)

    def p95(xs):
        return sorted(xs)[max(0, int(len(xs) * 0.95) - 1)]

    result = {
        "database": db.dialect, "reminders": args.reminders, "chats": args.chats,
        "sweep_followups_due_ms": {"median": med(sweep_ms), "max": max(sweep_ms)},
        "sweep_rescan_nothing_new_ms": {"median": med(rescan_ms), "max": max(rescan_ms)},
        "claim_due_notices_ms": {"median": med(claim_ms), "max": max(claim_ms)},
        "render_into_outbox_ms": {"median": med(render_ms), "max": max(render_ms)},
        "delivery": {
            "target": target, "accepted": len(accepted), "unique": delivered_unique,
            "sustained_per_s": rate, "ratio_to_30": rate / 30, "wall_s": run["wall_s"],
            "max_in_any_1s_window": window_max, "lost": lost, "duplicated": duplicates,
            "too_many_429": api.stats.too_many, "429_not_honoured": api.stats.violations,
            "outbox_sent": sent_rows, "outbox_failed": failed_rows,
        },
        "memory_100k_pending": {"rss_before_mb": before, "rss_after_mb": after,
                                "rss_added_mb": after - before,
                                "tracemalloc_peak_mb": peak / 1_048_576},
        "repeat": args.repeat, "p95_note": "few repetitions: p95 = max",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "reminders.json").write_text(json.dumps(result, indent=2))
    d = result["delivery"]
    print()
    print(f"{'measure':<44} {'median':>10} {'max/p95':>10} {'target':>12}")
    print("-" * 80)
    for label, key, goal in (
            ("follow-up sweep: 10k due -> notices (ms)", "sweep_followups_due_ms", ""),
            ("same sweep again, nothing new (ms)", "sweep_rescan_nothing_new_ms", ""),
            ("scheduler claim of 10k due notices (ms)", "claim_due_notices_ms", "<= 200"),
            ("render 10k into the outbox (ms)", "render_into_outbox_ms", "")):
        print(f"{label:<44} {result[key]['median']:>10.1f} {result[key]['max']:>10.1f} "
              f"{goal:>12}")
    print(f"{'sustained delivery (msg/s)':<44} {d['sustained_per_s']:>10.2f} {'':>10} "
          f"{'>= 28.5':>12}")
    print(f"{'ratio to the 30/s limit':<44} {d['ratio_to_30']:>10.3f} {'':>10} {'>= 0.95':>12}")
    print(f"{'most messages in any 1 s window':<44} {d['max_in_any_1s_window']:>10} {'':>10} "
          f"{'<= 30':>12}")
    print(f"{'delivered (unique) / target':<44} {d['unique']:>10} {d['target']:>10}")
    print(f"{'lost':<44} {d['lost']:>10} {'':>10} {'0':>12}")
    print(f"{'duplicated':<44} {d['duplicated']:>10} {'':>10} {'0':>12}")
    print(f"{'429 answers / 429 not honoured':<44} {d['too_many_429']:>10} "
          f"{d['429_not_honoured']:>10} {'- / 0':>12}")
    m = result["memory_100k_pending"]
    print(f"{'RSS added by passes over 100k pending (MB)':<44} {m['rss_added_mb']:>10.1f} "
          f"{'':>10} {'<= 10':>12}")
    print(f"{'tracemalloc peak during those passes (MB)':<44} {m['tracemalloc_peak_mb']:>10.1f}")
    print(f"\nwritten to {RESULTS / 'reminders.json'}")


if __name__ == "__main__":
    main()
