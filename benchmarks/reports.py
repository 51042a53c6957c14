"""Grouped reports over 1M activities and 100k deals on SQLite (target: each <= 1 s).

Generates a seeded synthetic dataset (200 reps in 10 teams, 5,000 companies, 100k deals
with stage history over two years, 1M activities, 40k quotes with 1-3 versions, 40k service
jobs by 30 technicians), then times each report several times through
core.reports.run_report (aggregation in SQL) and prints the medians.

    .venv/bin/python benchmarks/reports.py [--activities 1000000] [--deals 100000]
        [--quotes 40000] [--jobs 40000]
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
from typing import Any

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
from core.models.fieldservice import ServiceJob
from core.models.quotes import Quote, QuoteVersion, SalesOrder
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
    ReportSpec("quotes", "rep", "this_quarter"),
    ReportSpec("quotes", "period", "this_year", "month"),
    ReportSpec("quotes", "customer", "this_year"),
    ReportSpec("service", "technician", "this_quarter"),
    ReportSpec("service", "period", "this_year", "month"),
    ReportSpec("service", "territory", "this_year"),
]



def build(db: Database, n_activities: int, n_deals: int, seed: int = 11, n_quotes: int = 0,
          n_jobs: int = 0) -> None:
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
        build_quotes(conn, rng, n_quotes, start, span)
        build_jobs(conn, rng, n_jobs, start, span)
        conn.execute(text("ANALYZE"))


def build_quotes(conn: Any, rng: random.Random, n_quotes: int, start: datetime,
                 span: int) -> None:
    """Quotes by the reps with 1-3 versions; a third accepted (an order of the last one)."""
    quotes, versions, orders = [], [], []
    version_id = 0
    for q in range(1, n_quotes + 1):
        created = start + timedelta(seconds=rng.randrange(span))
        n_versions = rng.randint(1, 3)
        accepted = rng.random() < 0.33
        company = rng.randint(1, 5000)
        quotes.append({"id": q, "number": f"Q-{q:06d}", "company_id": company,
                       "owner_id": rng.randint(2, 201), "currency": "IDR",
                       "status": "accepted" if accepted else "sent",
                       "current_version": n_versions, "created_at": created,
                       "updated_at": created})
        for n in range(1, n_versions + 1):
            version_id += 1
            total = rng.randrange(1, 500) * 1_110_000
            versions.append({"id": version_id, "quote_id": q, "number": n,
                             "discount_status": "none", "subtotal": total,
                             "discount_total": 0, "tax_total": total // 111 * 11,
                             "total": total, "valid_until": (created + timedelta(days=30)).date(),
                             "created_at": min(created + timedelta(days=n - 1), NOW)})
        if accepted:
            orders.append({"id": q, "number": f"SO-{q:06d}", "quote_id": q,
                           "version_id": version_id, "company_id": company, "currency": "IDR",
                           "total": versions[-1]["total"],
                           "created_at": min(created + timedelta(days=n_versions), NOW)})
    for table, rows in ((Quote, quotes), (QuoteVersion, versions), (SalesOrder, orders)):
        for i in range(0, len(rows), 20_000):
            conn.execute(insert(table), rows[i:i + 20_000])


def build_jobs(conn: Any, rng: random.Random, n_jobs: int, start: datetime, span: int) -> None:
    """Service jobs by 30 technicians (3 per team); most done, some late, a few re-dispatched."""
    conn.execute(insert(User), [
        {"id": 400 + i, "login": f"tech{i}", "name": f"Technician {i}",
         "role": Role.TECHNICIAN.value, "team_id": i % 10 + 1, "timezone": "Asia/Jakarta",
         "locale": "en", "active": True, "created_at": start} for i in range(30)])
    jobs = []
    for _ in range(n_jobs):
        created = start + timedelta(seconds=rng.randrange(span))
        done = rng.random() < 0.8
        arrived = created + timedelta(minutes=rng.randint(20, 600))
        company = rng.randint(1, 5000)
        jobs.append({"company_id": company, "territory_id": company % 30 + 1,
                     "kind": "service", "skill": "hvac", "priority": 3,
                     "description": "aircon",
                     "site_address": f"Site {company}-{rng.randint(1, 3)}",
                     "status": "done" if done else "assigned",
                     "technician_id": 400 + rng.randrange(30), "window_start": created,
                     "window_end": created + timedelta(hours=4), "created_at": created,
                     "updated_at": created, "arrived_at": arrived if done else None,
                     "finished_at": arrived + timedelta(hours=1) if done else None,
                     "failure_reason": "part missing" if rng.random() < 0.05 else None,
                     "parts": []})
    for i in range(0, len(jobs), 20_000):
        conn.execute(insert(ServiceJob), jobs[i:i + 20_000])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--quotes", type=int, default=40_000)
    parser.add_argument("--jobs", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'reports.db'}")
        t0 = time.perf_counter()
        build(db, args.activities, args.deals, n_quotes=args.quotes, n_jobs=args.jobs)
        build_s = time.perf_counter() - t0
        rows = []
        with db.session() as session:
            viewers = {"admin": session.get(User, 1), "manager": session.get(User, 301),
                       "rep": session.get(User, 2)}
            for spec in REPORTS:
                for role, viewer in viewers.items():
                    if role != "admin" and spec.group_by not in ("rep", "stage", "none",
                                                                 "period", "technician"):
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
    print(f"dataset: {args.activities:,} activities, {args.deals:,} deals, "
          f"{args.quotes:,} quotes, {args.jobs:,} service jobs (built in {build_s:.1f} s)")
    print(f"{'report':<36} {'viewer':<8} {'rows':>5} {'median ms':>10} {'max ms':>8}")
    for r in rows:
        print(f"{r['report']:<36} {r['viewer']:<8} {r['rows']:>5} {r['median_ms']:>10} "
              f"{r['max_ms']:>8}")
    print(f"slowest median: {worst} ms (target <= 1000 ms): "
          f"{'MET' if worst <= 1000 else 'NOT MET'}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "reports.json").write_text(json.dumps(
        {"activities": args.activities, "deals": args.deals, "quotes": args.quotes,
         "jobs": args.jobs, "build_s": round(build_s, 1),
         "reports": rows, "slowest_median_ms": worst, "target_ms": 1000,
         "meets_target": worst <= 1000}, indent=2))


if __name__ == "__main__":
    main()
