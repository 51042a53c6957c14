"""Grouped reports over 1M activities and 100k deals on SQLite (issue 23 goal 7: every period
the product offers, up to "last year", <= 1 s, cold cache included).

Generates a seeded synthetic dataset (200 reps in 10 teams, 5,000 companies, 100k deals
with stage history over two years, 1M activities, 40k quotes with 1-3 versions, 40k service
jobs by 30 technicians), then runs every measure x grouping x period (12 periods) through
core.reports.run_report, as the admin (and as a manager and a rep where their scope changes
the work), three times: cold (the first call on a new connection, SQLite's page cache empty)
and warm (the same call again). Peer, for activities: each report as one hand-written GROUP BY
with its joins on a new sqlite3 connection.

    .venv/bin/python benchmarks/reports.py [--activities 1000000] [--deals 100000]
        [--quotes 40000] [--jobs 40000] [--repeat 3] [--measures activities,won,...]
        [--keep FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

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
from core.report_spec import ALLOWED_GROUPINGS, MEASURES, PERIODS, ReportSpec, period_range
from core.reports import run_report

RESULTS = Path(__file__).resolve().parent / "results"
NOW = datetime(2026, 5, 20, 3, 0, tzinfo=UTC)
STAGES = ["opportunity", "lead_allocated", "contacted", "qualified", "solution"]
REPORTS = [  # the earlier fixed list (kept for reference)
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


# -- the peer: each activity report as one hand-written statement on the DB-API connection --
PEER_KEY = {"rep": ("a.user_id", ""), "team": ("u.team_id", "JOIN users u ON u.id = a.user_id"),
            "territory": ("c.territory_id", "JOIN companies c ON c.id = a.company_id"),
            "customer": ("a.company_id", ""), "none": ("'all'", "")}


def peer_activities(path: Path, grouping: str, start: datetime, end: datetime) -> float:
    """The admin's activity report by hand (sqlite3, a new connection: a cold page cache):
    one GROUP BY with the joins it needs, verified visits by an outer join, as a plain
    implementation writes it. Milliseconds."""
    key, join = PEER_KEY[grouping]
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    conn = sqlite3.connect(path)
    try:
        t0 = time.perf_counter()
        conn.execute(
            f"SELECT {key}, a.kind, count(*), sum(coalesce(v.verified, 0)) FROM activities a "
            f"{join} LEFT JOIN visit_checkins v ON v.activity_id = a.id WHERE a.occurred_at >= ?"
            f" AND a.occurred_at < ? GROUP BY 1, 2",
            (start.replace(tzinfo=None).strftime(fmt),
             end.replace(tzinfo=None).strftime(fmt))).fetchall()
        return (time.perf_counter() - t0) * 1000
    finally:
        conn.close()


def viewers_for(spec: ReportSpec) -> tuple[str, ...]:
    """Admin for every report; a manager and a rep where their scope changes the work."""
    if spec.group_by in ("rep", "stage", "none", "period", "technician"):
        return ("admin", "manager", "rep")
    return ("admin",)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--quotes", type=int, default=40_000)
    parser.add_argument("--jobs", type=int, default=40_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs over every report")
    parser.add_argument("--measures", default=",".join(MEASURES))
    parser.add_argument("--keep", type=Path, default=None,
                        help="build the database here (kept; reused when it exists)")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    path = args.keep or Path(tmp.name) / "reports.db"
    db = Database(f"sqlite:///{path}")
    t0 = time.perf_counter()
    if not path.exists() or path.stat().st_size == 0:
        build(db, args.activities, args.deals, n_quotes=args.quotes, n_jobs=args.jobs)
    build_s = time.perf_counter() - t0
    ids = {"admin": 1, "manager": 301, "rep": 2}
    specs = [ReportSpec(m, g, period, "month") for m in args.measures.split(",")
             for g in ALLOWED_GROUPINGS[m] for period in PERIODS]
    # (report, viewer) -> [cold ms per run], [warm ms per run]
    cold: dict[tuple[str, str], list[float]] = {}
    warm: dict[tuple[str, str], list[float]] = {}
    peer: dict[str, list[float]] = {}
    loads = []
    for run in range(args.repeat):
        for spec in specs:
            for role in viewers_for(spec):
                db.engine.dispose()  # cold: new connections, an empty page cache
                with db.session() as session:
                    viewer = session.get(User, ids[role])
                    assert viewer is not None
                    t1 = time.perf_counter()
                    run_report(session, viewer, spec, NOW)
                    t2 = time.perf_counter()
                    run_report(session, viewer, spec, NOW)
                    t3 = time.perf_counter()
                cold.setdefault((spec.encode(), role), []).append((t2 - t1) * 1000)
                warm.setdefault((spec.encode(), role), []).append((t3 - t2) * 1000)
            if spec.measure == "activities" and spec.group_by in PEER_KEY:
                start, end = period_range(spec.period, ZoneInfo("Asia/Jakarta"), NOW)
                peer.setdefault(spec.encode(), []).append(
                    peer_activities(path, spec.group_by, start, end))
        loads.append(os.getloadavg()[0])
        worst = max((statistics.median(v), k) for k, v in cold.items())
        print(f"run {run + 1}: {len(specs)} reports x viewers, slowest cold median so far "
              f"{worst[0]:.0f} ms ({worst[1][0]} as {worst[1][1]}); load {loads[-1]:.1f}",
              flush=True)
    db.dispose()
    tmp.cleanup()

    med = statistics.median
    load = os.getloadavg()
    print(f"\ndataset: {args.activities:,} activities, {args.deals:,} deals, "
          f"{args.quotes:,} quotes, {args.jobs:,} service jobs (built in {build_s:.1f} s); "
          f"every period x grouping, {args.repeat} runs, cold = the first call on a new "
          f"connection (SQLite page cache empty)")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 shared cores)")
    print(f"{'measure':<12}{'reports':>8}{'goal':>8}{'slowest cold':>14}{'slowest warm':>14}"
          f"  slowest report")
    by_measure: dict[str, Any] = {}
    for measure in args.measures.split(","):
        keys = [k for k in cold if k[0].startswith(measure + ".")]
        worst_cold = max((med(cold[k]), k) for k in keys)
        worst_warm = max(med(warm[k]) for k in keys)
        by_measure[measure] = {"reports": len(keys), "slowest_cold_ms": worst_cold[0],
                               "slowest_report": f"{worst_cold[1][0]} ({worst_cold[1][1]})",
                               "slowest_warm_ms": worst_warm}
        print(f"{measure:<12}{len(keys):>8}{'<= 1000':>8}{worst_cold[0]:>14.0f}"
              f"{worst_warm:>14.0f}  {worst_cold[1][0]} ({worst_cold[1][1]})")
    if peer:
        print("\nactivities as the admin, slowest period per grouping: ours (cold) vs the peer "
              "(one hand-written GROUP BY with its joins, sqlite3, new connection)")
        print(f"{'grouping':<12}{'period':<14}{'goal':>8}{'ours':>10}{'peer':>10}"
              f"{'ours/peer':>11}")
        for grouping in PEER_KEY:
            rows = [(med(cold[(f"activities.{grouping}.{p}.month", "admin")]),
                     med(peer[f"activities.{grouping}.{p}.month"]), p) for p in PERIODS]
            ours, theirs, period = max(rows)
            by_measure.setdefault("activities_vs_peer", {})[grouping] = {
                "period": period, "ours_ms": ours, "peer_ms": theirs}
            print(f"{grouping:<12}{period:<14}{'<= 1000':>8}{ours:>10.0f}{theirs:>10.0f}"
                  f"{ours / theirs:>11.2f}")
    slowest = max(v["slowest_cold_ms"] for k, v in by_measure.items()
                  if k != "activities_vs_peer")
    print(f"\nslowest report, cold: {slowest:.0f} ms (goal <= 1000 ms): "
          f"{'MET' if slowest <= 1000 else 'NOT MET'}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "reports.json").write_text(json.dumps(
        {"activities": args.activities, "deals": args.deals, "quotes": args.quotes,
         "jobs": args.jobs, "build_s": round(build_s, 1), "repeat": args.repeat,
         "load_average": load, "loads_per_run": loads, "by_measure": by_measure,
         "cold_ms": {f"{k[0]} {k[1]}": v for k, v in cold.items()},
         "warm_ms": {f"{k[0]} {k[1]}": v for k, v in warm.items()},
         "peer_ms": peer, "slowest_cold_ms": slowest, "target_ms": 1000,
         "meets_target": slowest <= 1000}, indent=2))
    print(f"written {RESULTS / 'reports.json'}")


if __name__ == "__main__":
    main()
