"""Grouped reports over 1M activities and 100k deals on SQLite (target: each <= 1 s).

Generates a seeded synthetic dataset (200 reps in 10 teams, 5,000 companies, 100k deals
with stage history over two years, 1M activities), then times each report several times
through core.reports.run_report (aggregation in SQL) and prints the medians.

    .venv/bin/python benchmarks/reports.py [--activities 1000000] [--deals 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text

from core.db import Database
from core.models import (
    Activity,
    Base,
    Company,
    Deal,
    DealStageChange,
    Role,
    Team,
    Territory,
    User,
)
from core.reports import ReportSpec, run_report

RESULTS = Path(__file__).resolve().parent / "results"
NOW = datetime(2026, 5, 20, 3, 0, tzinfo=UTC)
STAGES = ["opportunity", "lead_allocated", "contacted", "qualified", "solution"]
REPORTS = [
    ReportSpec("activities", "rep", "this_quarter"),
    ReportSpec("activities", "team", "this_year"),
    ReportSpec("activities", "period", "this_year", "month"),
    ReportSpec("activities", "territory", "last_90_days"),
    ReportSpec("won", "rep", "this_quarter"),
    ReportSpec("won", "period", "last_year", "month"),
    ReportSpec("won", "customer", "this_year"),
    ReportSpec("new_leads", "team", "this_quarter"),
    ReportSpec("pipeline", "stage", "this_quarter"),
    ReportSpec("forecast", "rep", "this_quarter"),
    ReportSpec("funnel", "none", "this_year"),
    ReportSpec("win_loss", "rep", "this_year"),
    ReportSpec("deal_age", "team", "this_quarter"),
]



def build(db: Database, n_activities: int, n_deals: int, seed: int = 11) -> None:
    rng = random.Random(seed)
    Base.metadata.create_all(db.engine)
    start = NOW - timedelta(days=730)
    span = int((NOW - start).total_seconds())
    with db.engine.begin() as conn:
        conn.execute(insert(Team), [{"id": i, "name": f"Team {i}", "approval_threshold": 0,
                                     "currency": "IDR"} for i in range(1, 11)])
        conn.execute(insert(Territory), [{"id": i, "name": f"T{i}", "region": f"R{i}",
                                          "team_id": (i - 1) % 10 + 1} for i in range(1, 31)])
        users = [{"id": 1, "login": "admin", "name": "Admin", "role": Role.ADMIN.value,
                  "team_id": None, "timezone": "Asia/Jakarta", "locale": "en", "active": True,
                  "created_at": start}]
        users += [{"id": i, "login": f"rep{i}", "name": f"Rep {i}", "role": Role.REP.value,
                   "team_id": (i - 2) % 10 + 1, "timezone": "Asia/Jakarta", "locale": "en",
                   "active": True, "created_at": start} for i in range(2, 202)]
        users += [{"id": 300 + t, "login": f"mgr{t}", "name": f"Manager {t}",
                   "role": Role.MANAGER.value, "team_id": t, "timezone": "Asia/Jakarta",
                   "locale": "en", "active": True, "created_at": start}
                  for t in range(1, 11)]
        conn.execute(insert(User), users)
        conn.execute(insert(Company), [
            {"id": i, "name": f"Company {i}", "territory_id": rng.randint(1, 30),
             "created_at": start, "updated_at": start} for i in range(1, 5001)])
        deals, changes = [], []
        for d in range(1, n_deals + 1):
            created = start + timedelta(seconds=rng.randrange(span))
            owner = rng.randint(2, 201)
            outcome = rng.random()
            stage = ("order_placed" if outcome < 0.25 else "lost" if outcome < 0.45
                     else rng.choice(STAGES))
            deals.append({"id": d, "title": f"Deal {d}", "company_id": rng.randint(1, 5000),
                          "owner_id": owner, "team_id": (owner - 2) % 10 + 1,
                          "territory_id": rng.randint(1, 30), "stage": stage,
                          "amount": rng.randrange(1, 500) * 1_000_000, "currency": "IDR",
                          "facts": {}, "created_at": created,
                          "updated_at": created, "version": 1,
                          "lost_reason": "price" if stage == "lost" else None})
            at = created
            path = (["opportunity", "contacted", "qualified", stage]
                    if stage in ("order_placed", "lost") else ["opportunity", stage])
            previous = None
            for to in path:
                changes.append({"deal_id": d, "user_id": owner, "from_stage": previous,
                                "to_stage": to, "at": min(at, NOW)})
                previous = to
                at += timedelta(days=rng.randint(1, 20))
        conn.execute(insert(Deal), deals)
        conn.execute(insert(DealStageChange), changes)
        kinds = ("visit", "call", "meeting", "email")
        batch: list[dict[str, object]] = []
        for _ in range(n_activities):
            at = start + timedelta(seconds=rng.randrange(span))
            batch.append({"user_id": rng.randint(2, 201), "company_id": rng.randint(1, 5000),
                          "kind": kinds[rng.randrange(4)], "occurred_at": at,
                          "created_at": at})
            if len(batch) == 50_000:
                conn.execute(insert(Activity), batch)
                batch.clear()
        if batch:
            conn.execute(insert(Activity), batch)
        conn.execute(text("ANALYZE"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'reports.db'}")
        t0 = time.perf_counter()
        build(db, args.activities, args.deals)
        build_s = time.perf_counter() - t0
        rows = []
        with db.session() as session:
            viewers = {"admin": session.get(User, 1), "manager": session.get(User, 301),
                       "rep": session.get(User, 2)}
            for spec in REPORTS:
                for role, viewer in viewers.items():
                    if role != "admin" and spec.group_by not in ("rep", "stage", "none",
                                                                 "period"):
                        continue
                    assert viewer is not None
                    timings = []
                    for _ in range(args.repeat):
                        t1 = time.perf_counter()
                        table = run_report(session, viewer, spec, NOW)
                        timings.append((time.perf_counter() - t1) * 1000)
                    rows.append({"report": spec.encode(), "viewer": role,
                                 "rows": len(table.rows),
                                 "median_ms": round(statistics.median(timings), 1),
                                 "max_ms": round(max(timings), 1)})
        db.dispose()
    worst = max(r["median_ms"] for r in rows)
    print(f"dataset: {args.activities:,} activities, {args.deals:,} deals "
          f"(built in {build_s:.1f} s)")
    print(f"{'report':<36} {'viewer':<8} {'rows':>5} {'median ms':>10} {'max ms':>8}")
    for r in rows:
        print(f"{r['report']:<36} {r['viewer']:<8} {r['rows']:>5} {r['median_ms']:>10} "
              f"{r['max_ms']:>8}")
    print(f"slowest median: {worst} ms (target <= 1000 ms): "
          f"{'MET' if worst <= 1000 else 'NOT MET'}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "reports.json").write_text(json.dumps(
        {"activities": args.activities, "deals": args.deals, "build_s": round(build_s, 1),
         "reports": rows, "slowest_median_ms": worst, "target_ms": 1000,
         "meets_target": worst <= 1000}, indent=2))


if __name__ == "__main__":
    main()
