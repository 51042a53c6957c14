"""A manager's coverage view over 200 reps and 100k accounts (target: <= 1 s).

Generates a seeded team (one manager, 200 reps over 20 territories, 100k accounts with
owners and last-contacted dates, 40k deals, 200k activities, 20k follow-ups), then times:

- the real path of the manager's message: `/coverage` through the conversation engine
  (scope, the grouped queries of core.coverage, the table, the chart image);
- core.coverage.coverage alone (the figures, in SQL);
- core.team_moves.propose ("optimise my team": the figures plus the moves);
- a brute-force peer: every row of the team's accounts, deals, follow-ups and activities
  loaded into Python and counted there, side by side in the same run.

    .venv/bin/python benchmarks/team.py [--reps 200] [--accounts 100000] [--runs 15]
        [--database-url postgresql+psycopg://...]   (default: a temporary SQLite file)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select, text

from bot.app import build_app
from bot.conversations.messages import Incoming
from core import coverage, team_moves
from core.clock import ManualClock
from core.db import Database
from core.models import (
    Activity,
    Base,
    ChatIdentity,
    Company,
    Deal,
    FollowUp,
    Role,
    Team,
    Territory,
    TerritoryRep,
    User,
)
from core.models.pipeline import PipelineSetting
from core.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"
NOW = datetime(2026, 5, 20, 3, 0, tzinfo=UTC)  # a Wednesday
OPEN = ["opportunity", "lead_allocated", "contacted", "qualified", "solution"]
CLOSED = ["order_placed", "lost"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def stats(values: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(values), 2),
            "p95_ms": round(percentile(values, 95), 2), "max_ms": round(max(values), 2)}


def timed(fn: Callable[[], object], runs: int, warmup: int = 2) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def build(db: Database, reps: int, accounts: int, seed: int) -> None:
    rng = random.Random(seed)
    Base.metadata.create_all(db.engine)
    n_terr = max(1, reps // 10)
    with db.engine.begin() as conn:
        conn.execute(insert(Team), [{"id": 1, "name": "Bench team",
                                     "approval_threshold": 0, "currency": "IDR"}])
        conn.execute(insert(User), [{"id": 1, "login": "boss", "name": "Boss",
                                     "role": Role.MANAGER.value, "team_id": 1,
                                     "timezone": "Asia/Jakarta", "locale": "en",
                                     "active": True, "created_at": NOW}] + [
            {"id": i + 2, "login": f"rep{i}", "name": f"Rep {i:03d}", "role": Role.REP.value,
             "team_id": 1, "timezone": "Asia/Jakarta", "locale": "en", "active": True,
             "created_at": NOW} for i in range(reps)])
        conn.execute(text("UPDATE teams SET manager_id = 1"))
        conn.execute(insert(Territory), [{"id": t + 1, "name": f"Region {t}",
                                          "region": f"City {t}", "team_id": 1}
                                         for t in range(n_terr)])
        # each rep covers its home territory and sometimes a neighbour
        links = set()
        for i in range(reps):
            home = i % n_terr + 1
            links.add((home, i + 2))
            if rng.random() < 0.3:
                links.add((home % n_terr + 1, i + 2))
        conn.execute(insert(TerritoryRep), [{"territory_id": t, "user_id": u}
                                            for t, u in sorted(links)])
        members: dict[int, list[int]] = defaultdict(list)
        for t, u in links:
            members[t].append(u)
        rows = []
        for c in range(accounts):
            terr = rng.randint(1, n_terr)
            last = None if rng.random() < 0.25 else NOW - timedelta(days=rng.randint(0, 200))
            rows.append({"id": c + 1, "name": f"Company {c}", "territory_id": terr,
                         "owner_id": rng.choice(members[terr]) if rng.random() < 0.95
                         else None, "city": f"City {terr - 1}", "last_contacted_at": last,
                         "created_at": NOW, "updated_at": NOW})
        for start in range(0, len(rows), 5000):
            conn.execute(insert(Company), rows[start:start + 5000])
        deals = []
        for d in range(accounts * 2 // 5):
            company = rows[rng.randrange(len(rows))]
            owner = company["owner_id"]
            stage = rng.choice(OPEN * 3 + CLOSED)
            deals.append({"id": d + 1, "title": f"Deal {d}", "company_id": company["id"],
                          "owner_id": owner, "team_id": 1,
                          "territory_id": company["territory_id"], "stage": stage,
                          "amount": Decimal(rng.randrange(10, 500)) * 1_000_000,
                          "currency": "IDR", "facts": {}, "version": 1,
                          "closed_at": NOW - timedelta(days=rng.randint(1, 300))
                          if stage in CLOSED else None,
                          "allocated_at": NOW - timedelta(days=rng.randint(1, 60)),
                          "created_at": NOW, "updated_at": NOW})
        for start in range(0, len(deals), 5000):
            conn.execute(insert(Deal), deals[start:start + 5000])
        acts = []
        for _ in range(accounts * 2):
            company = rows[rng.randrange(len(rows))]
            acts.append({"user_id": rng.randint(2, reps + 1), "company_id": company["id"],
                         "kind": rng.choice(["visit", "call", "call", "email"]),
                         "occurred_at": NOW - timedelta(hours=rng.randint(1, 24 * 200)),
                         "created_at": NOW})
            if len(acts) == 10000:
                conn.execute(insert(Activity), acts)
                acts = []
        if acts:
            conn.execute(insert(Activity), acts)
        conn.execute(insert(FollowUp), [
            {"user_id": rng.randint(2, reps + 1), "kind": "follow_up",
             "due_at": NOW + timedelta(hours=rng.randint(-24 * 20, 24 * 20)),
             "status": rng.choice(["open", "open", "done"]), "created_at": NOW}
            for _ in range(accounts // 5)])
        # caps that leave the optimisation room to work with at this size
        conn.execute(insert(PipelineSetting), [
            {"key": "deal_cap", "value": {"v": 400}, "updated_at": NOW},
            {"key": "account_cap", "value": {"v": 2000}, "updated_at": NOW}])
        conn.execute(insert(ChatIdentity), [{"platform": "console", "external_id": "boss",
                                             "chat_id": "boss", "user_id": 1,
                                             "linked_at": NOW}])


def brute_force(db: Database, week: datetime) -> dict[int, dict[str, Any]]:
    """The same per-rep figures, every row fetched and counted in Python."""
    out: dict[int, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    with db.session() as s:
        reps = {u for (u,) in s.execute(select(User.id).where(User.team_id == 1,
                                                              User.role == "rep"))}
        for owner, stage, amount in s.execute(select(Deal.owner_id, Deal.stage, Deal.amount)):
            if owner in reps and stage in OPEN:
                out[owner]["open"] += 1
                out[owner]["value"] += amount
        for owner, last in s.execute(select(Company.owner_id, Company.last_contacted_at)):
            if owner in reps:
                out[owner]["accounts"] += 1
                for days in (30, 60, 90):
                    if last is None or last < NOW - timedelta(days=days):
                        out[owner][f"idle{days}"] += 1
        for uid, status, due in s.execute(select(FollowUp.user_id, FollowUp.status,
                                                 FollowUp.due_at)):
            if uid in reps and status == "open" and due < NOW:
                out[uid]["overdue"] += 1
        for uid, kind, at in s.execute(select(Activity.user_id, Activity.kind,
                                              Activity.occurred_at)):
            if uid in reps and kind == "visit" and week <= at <= NOW:
                out[uid]["visits"] += 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=25)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{Path(tmp.name) / 'team.db'}"
    db = Database(url)
    if args.database_url:
        Base.metadata.drop_all(db.engine)
    started = time.perf_counter()
    build(db, args.reps, args.accounts, args.seed)
    built = time.perf_counter() - started
    clock = ManualClock(NOW)
    settings = Settings(_env_file=None, database_url=db.url,  # type: ignore[call-arg]
                        data_dir=Path(tmp.name) / "data", rate_limit_messages=0)
    app = build_app(settings, clock=clock, db=db, upgrade=False)

    def service() -> coverage.Coverage:
        with db.session() as s:
            boss = s.get(User, 1)
            assert boss is not None
            return coverage.coverage(s, boss, NOW)

    def optimise() -> team_moves.Proposal:
        with db.session() as s:
            boss = s.get(User, 1)
            assert boss is not None
            return team_moves.propose(s, boss, NOW)

    counter = iter(range(10**9))

    def through_engine() -> None:
        inc = Incoming(platform="console", chat_id="boss", user_id="boss",
                       update_id=f"cov-{next(counter)}", text="/coverage")
        replies = asyncio.run(app.engine.handle(inc))
        assert replies and "Coverage of Bench team" in replies[0].text, replies[0].text[:200]
        assert replies[-1].attachment is not None

    view = service()
    week = view.week_start
    peer = brute_force(db, week)
    for rep in view.reps:  # the peer and the service agree
        mine = peer.get(rep.id, {})
        assert rep.open_deals == mine.get("open", 0), rep.login
        assert rep.idle[60] == mine.get("idle60", 0), rep.login
        assert rep.overdue == mine.get("overdue", 0), rep.login
        assert rep.visits_week == mine.get("visits", 0), rep.login
    rows = [("/coverage via the engine (table + chart)", timed(through_engine, args.runs)),
            ("core.coverage.coverage (figures)", timed(service, args.runs)),
            ("core.team_moves.propose (optimise)", timed(optimise, max(5, args.runs // 2))),
            ("brute force peer (rows into Python)",
             timed(lambda: brute_force(db, week), max(3, args.runs // 3), warmup=1))]
    load = os.getloadavg()
    moves = len(optimise().moves)
    print(f"team benchmark: {args.reps} reps, {args.accounts:,} accounts, "
          f"{args.accounts * 2 // 5:,} deals, {args.accounts * 2:,} activities on "
          f"{db.engine.dialect.name}; built in {built:.1f} s; {moves} moves proposed; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'what':<44}{'median ms':>11}{'p95 ms':>9}{'max ms':>9}")
    result: dict[str, Any] = {"reps": args.reps, "accounts": args.accounts,
                              "database": db.engine.dialect.name, "loadavg": load,
                              "target_ms": 1000}
    for name, values in rows:
        s = stats(values)
        result[name] = s
        print(f"{name:<44}{s['median_ms']:>11.1f}{s['p95_ms']:>9.1f}{s['max_ms']:>9.1f}")
    engine_p95 = result[rows[0][0]]["p95_ms"]
    ratio = result[rows[3][0]]["median_ms"] / result[rows[1][0]]["median_ms"]
    result["ok"] = engine_p95 <= 1000
    result["peer_over_service"] = round(ratio, 2)
    print(f"target: the view through the engine <= 1000 ms (p95 {engine_p95:.0f} ms: "
          f"{'ok' if result['ok'] else 'MISSED'}); brute force / service = {ratio:.1f}x")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "team.json").write_text(json.dumps(result, indent=2))
    print(f"written {RESULTS / 'team.json'}")
    db.dispose()
    tmp.cleanup()


if __name__ == "__main__":
    main()
