"""Pipeline benchmark: lead allocation by rule, claims, guided advances and the escalation
query, on a seeded synthetic organisation (SQLite file, or PostgreSQL with --url).

Measures, per operation: median, p95, p99 latency (ms) of one call in its own transaction,
plus the allocation sweep's throughput (leads/s) and the fairness of the result (min/max
leads per rep), and the escalation query over all allocated leads.

Usage: .venv/bin/python benchmarks/pipeline.py [--leads 2000] [--reps 20] [--url URL]
Writes benchmarks/results/pipeline.json.
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
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402

import core.models  # noqa: E402, F401
from core import leads as lead_svc  # noqa: E402
from core import pipeline, territory  # noqa: E402
from core.db import Database  # noqa: E402
from core.models import Base, Company, Deal, Role, Stage, User  # noqa: E402
from core.models.pipeline import LeadAnnouncement  # noqa: E402

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def stats(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "median_ms": statistics.median(values) * 1000,
            "p95_ms": pct(values, 95) * 1000, "p99_ms": pct(values, 99) * 1000}


def setup(db: Database, reps: int, leads: int, rng: random.Random) -> tuple[int, int]:
    with db.session() as s:
        admin = User(login="admin", name="Admin", role=Role.ADMIN.value, created_at=NOW)
        boss = User(login="boss", name="Boss", role=Role.MANAGER.value, created_at=NOW)
        s.add_all([admin, boss])
        s.flush()
        team = territory.upsert_team(s, admin, "Bench", manager="boss",
                                     channel=("telegram", "-1001"))
        terr = territory.upsert_territory(s, admin, "Bench", region="Benchville", team="Bench")
        for i in range(reps):
            s.add(User(login=f"rep{i}", name=f"Rep {i}", role=Role.REP.value, team_id=team.id,
                       created_at=NOW, lead_cap=10_000))
            s.flush()
            territory.assign_rep(s, admin, "Bench", f"rep{i}")
        companies = [Company(name=f"Company {i}", city="Benchville", territory_id=terr.id,
                             created_at=NOW, updated_at=NOW) for i in range(200)]
        s.add_all(companies)
        s.flush()
        deals = [Deal(title=f"lead {i}", company_id=rng.choice(companies).id, team_id=team.id,
                      territory_id=terr.id, stage=Stage.OPPORTUNITY.value, amount=Decimal(0),
                      currency="IDR", facts={}, created_at=NOW, updated_at=NOW)
                 for i in range(leads)]
        s.add_all(deals)
        s.flush()
        s.add_all([LeadAnnouncement(deal_id=d.id, team_id=team.id, announced_at=NOW,
                                    claim_until=NOW + timedelta(hours=1), status="open")
                   for d in deals])
        return team.id, terr.id


def run(url: str, leads: int, reps: int, samples: int) -> dict:
    rng = random.Random(7)
    db = Database(url)
    if db.is_postgres:
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    Base.metadata.create_all(db.engine)
    setup(db, reps, leads, rng)
    results: dict = {"database": db.dialect, "leads": leads, "reps": reps}

    # 1. the allocation sweep (500 leads per run, one transaction per run)
    start = time.perf_counter()
    allocated = 0
    while True:
        with db.session() as s:
            n = lead_svc.allocate_unclaimed(s, NOW + timedelta(hours=2))
        if n == 0:
            break
        allocated += n
    elapsed = time.perf_counter() - start
    with db.session() as s:
        counts = [c for _u, c in s.execute(select(Deal.owner_id, func.count()).where(
            Deal.owner_id.is_not(None)).group_by(Deal.owner_id))]
    results["allocation"] = {"allocated": allocated, "seconds": elapsed,
                             "leads_per_s": allocated / elapsed,
                             "per_rep_min": min(counts), "per_rep_max": max(counts)}

    # 2. create + claim one lead (each in its own transaction)
    create_t, claim_t = [], []
    with db.session() as s:
        company_ids = list(s.scalars(select(Company.id)))
    for i in range(samples):
        t0 = time.perf_counter()
        with db.session() as s:
            admin = s.scalars(select(User).where(User.login == "admin")).one()
            deal = lead_svc.create_lead(s, admin, company=s.get(Company, company_ids[i % 200]),
                                        need="bench", source="web", now=NOW).deal
            deal_id = deal.id
        create_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        with db.session() as s:
            rep = s.scalars(select(User).where(User.login == f"rep{i % reps}")).one()
            assert lead_svc.claim_lead(s, rep, deal_id, NOW).won
        claim_t.append(time.perf_counter() - t0)
    results["create_lead"] = stats(create_t)
    results["claim_lead"] = stats(claim_t)

    # 3. a guided advance with a version check (contacted -> qualified with its facts; the
    # decision-maker requirement is switched off by the admin, as data)
    with db.session() as s:
        admin = s.scalars(select(User).where(User.login == "admin")).one()
        pipeline.set_stage_rule(s, admin, "qualified", now=NOW,
                                requirements=["budget", "need", "timeline"])
        ids = list(s.scalars(select(Deal.id).where(Deal.stage == "lead_allocated")
                            .limit(samples)))
        for did in ids:
            d = s.get(Deal, did)
            d.stage = Stage.CONTACTED.value
    advance_t = []
    for did in ids:
        t0 = time.perf_counter()
        with db.session() as s:
            d = s.get(Deal, did)
            owner = s.get(User, d.owner_id)
            pipeline.advance_deal(s, did, Stage.QUALIFIED, owner, NOW,
                                  expected_version=d.version,
                                  facts={"budget": "1m", "need": "x", "timeline": "Q2"})
        advance_t.append(time.perf_counter() - t0)
    results["advance_deal"] = stats(advance_t)

    # 4. the escalation query two working days later (every allocated lead is due)
    due_t = []
    for _ in range(5):
        t0 = time.perf_counter()
        with db.session() as s:
            due = len(lead_svc.due_escalations(s, NOW + timedelta(days=3), limit=100_000))
        due_t.append(time.perf_counter() - t0)
    results["due_escalations"] = {**stats(due_t), "due": due}
    db.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{tmp}/bench.db"
        r = run(url, args.leads, args.reps, args.samples)
    a = r["allocation"]
    print(f"pipeline benchmark on {r['database']}: {r['leads']} leads, {r['reps']} reps")
    print(f"allocation sweep: {a['allocated']} leads in {a['seconds']:.2f}s "
          f"= {a['leads_per_s']:.0f} leads/s; per rep min {a['per_rep_min']} "
          f"max {a['per_rep_max']}")
    print(f"{'operation':<18}{'n':>6}{'median ms':>12}{'p95 ms':>10}{'p99 ms':>10}")
    for key in ("create_lead", "claim_lead", "advance_deal", "due_escalations"):
        row = r[key]
        print(f"{key:<18}{row['n']:>6}{row['median_ms']:>12.2f}{row['p95_ms']:>10.2f}"
              f"{row['p99_ms']:>10.2f}")
    ratio = r["claim_lead"]["median_ms"] / r["create_lead"]["median_ms"]
    print(f"due_escalations returned {r['due_escalations']['due']} leads; "
          f"claim/create median ratio {ratio:.2f}")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "pipeline.json").write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    main()
