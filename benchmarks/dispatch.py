"""Choosing a technician among 2,000 for a service job (target: p95 <= 20 ms).

Generates a seeded synthetic field force: 2,000 technicians over 6 regions (each covers
its region's territory), 1-4 skills each out of 6, working hours in three shifts, load
caps of 3-5, last locations scattered around their region's city, and ~3,000 active jobs
as current load. Then, for many jobs at random sites, times

* `rank`: core.fieldservice.rank_technicians(limit=1), what dispatch calls: eligibility
  in SQL (skill, territory, active, load) + on-shift / load-cap checks and haversine
  distance in Python, the best by distance + load penalty;
* `dispatch`: core.fieldservice.dispatch (ranking + the offer row + the offer notice),
  rolled back after each run so every run sees the same state;
* `rank (all regions)`: a job whose company has no territory, so every technician
  with the skill is a candidate (the worst case, ~1,000 rows).

    .venv/bin/python benchmarks/dispatch.py [--technicians 2000] [--runs 300]
    SFA_BENCH_DATABASE_URL=postgresql+psycopg://... .venv/bin/python benchmarks/dispatch.py
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text

from core import fieldservice as fs
from core.db import Database
from core.models import Base, Company, Role, Team, Territory, TerritoryRep, User
from core.models.fieldservice import ServiceJob, TechnicianProfile, TechnicianSkill

RESULTS = Path(__file__).resolve().parent / "results"
NOW = datetime(2026, 3, 3, 4, 0, tzinfo=UTC)  # Tuesday 11:00 in Jakarta
CITIES = {
    "Jakarta": (-6.2088, 106.8456), "Surabaya": (-7.2575, 112.7521),
    "Bandung": (-6.9175, 107.6191), "Medan": (3.5952, 98.6722),
    "Semarang": (-6.9667, 110.4167), "Makassar": (-5.1477, 119.4327),
}
SHIFTS = ((7 * 60, 16 * 60), (8 * 60, 17 * 60), (10 * 60, 19 * 60))


def build(db: Database, technicians: int, rng: random.Random) -> dict[str, list[int]]:
    """Create the synthetic world; return company ids per region (and "none")."""
    Base.metadata.drop_all(db.engine)
    Base.metadata.create_all(db.engine)
    companies: dict[str, list[int]] = {}
    with db.session() as s:
        team = Team(name="Field")
        s.add(team)
        s.flush()
        manager = User(login="mgr", name="Manager", role=Role.MANAGER.value, team_id=team.id,
                       created_at=NOW)
        s.add(manager)
        s.flush()
        team.manager_id = manager.id
        territories = {}
        for city in CITIES:
            territory = Territory(name=city, region=city, team_id=team.id)
            s.add(territory)
            territories[city] = territory
        s.flush()
        rows = []
        for i in range(technicians):
            city = list(CITIES)[i % len(CITIES)]
            lat, lon = CITIES[city]
            rows.append({"login": f"tech{i}", "name": f"Tech {i}", "role": "technician",
                         "team_id": team.id, "timezone": "Asia/Jakarta", "locale": "en",
                         "active": True, "created_at": NOW,
                         "last_lat": lat + rng.uniform(-0.3, 0.3),
                         "last_lon": lon + rng.uniform(-0.3, 0.3), "last_location_at": NOW})
        s.execute(insert(User), rows)
        techs = list(s.execute(text("select id, login from users where role = 'technician' "
                                    "order by id")))
        profiles, skills, reps = [], [], []
        for n, (uid, _login) in enumerate(techs):
            start, end = rng.choice(SHIFTS)
            profiles.append({"user_id": uid, "shift_start_min": start, "shift_end_min": end,
                             "work_days": "012345" if rng.random() < .5 else "01234",
                             "load_cap": rng.randint(3, 5), "dispatchable": True,
                             "updated_at": NOW})
            for skill in rng.sample(fs.SKILLS, rng.randint(1, 4)):
                skills.append({"user_id": uid, "skill": skill})
            city = list(CITIES)[n % len(CITIES)]
            reps.append({"territory_id": territories[city].id, "user_id": uid})
        s.execute(insert(TechnicianProfile), profiles)
        s.execute(insert(TechnicianSkill), skills)
        s.execute(insert(TerritoryRep), reps)
        for city, (lat, lon) in CITIES.items():
            ids = []
            for k in range(40):
                company = Company(name=f"{city} customer {k}", territory_id=territories[city].id,
                                  lat=lat + rng.uniform(-0.2, 0.2),
                                  lon=lon + rng.uniform(-0.2, 0.2),
                                  delivery_address=f"Site {k}, {city}", created_at=NOW,
                                  updated_at=NOW)
                s.add(company)
                ids.append(company)
            s.flush()
            companies[city] = [c.id for c in ids]
        nowhere = Company(name="Anywhere customer", lat=-6.5, lon=107.0, created_at=NOW,
                          updated_at=NOW)
        s.add(nowhere)
        s.flush()
        companies["none"] = [nowhere.id]
        # Current load: ~3,000 active jobs spread over the technicians.
        load = []
        for _ in range(int(technicians * 1.5)):
            uid = rng.choice(techs)[0]
            load.append({"company_id": rng.choice(companies["Jakarta"]), "skill": "repair",
                         "priority": 3, "description": "load", "status": "assigned",
                         "technician_id": uid, "parts": [], "kind": "service",
                         "created_at": NOW, "updated_at": NOW, "version": 1})
        s.execute(insert(ServiceJob), load)
    # Fresh bulk-loaded tables have no planner statistics (a live database does).
    with db.engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    return companies


def timed(fn: Callable[[], object], runs: int, warmup: int = 10) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    return {"median_ms": statistics.median(ordered), "p95_ms": pct(95), "p99_ms": pct(99),
            "max_ms": ordered[-1], "runs": len(ordered)}


def run(db: Database, technicians: int, runs: int, seed: int) -> dict[str, dict[str, float]]:
    rng = random.Random(seed)
    started = time.perf_counter()
    companies = build(db, technicians, rng)
    print(f"{db.dialect}: built {technicians} technicians in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    results: dict[str, dict[str, float]] = {}
    session = db.sessionmaker()
    creator = session.scalar(text("select id from users where login = 'mgr'"))
    jobs: list[ServiceJob] = []
    for _ in range(50):
        city = rng.choice(list(CITIES))
        company = session.get(Company, rng.choice(companies[city]))
        assert company is not None
        jobs.append(fs.create_job(session, company=company, skill=rng.choice(fs.SKILLS),
                                  priority=rng.randint(1, 4), description="benchmark job",
                                  now=NOW, created_by=session.get(User, creator)))
    anywhere = session.get(Company, companies["none"][0])
    assert anywhere is not None
    wide = fs.create_job(session, company=anywhere, skill="repair", priority=2,
                         description="no territory", now=NOW)
    session.commit()
    picks = iter(range(10**9))
    candidates: list[int] = []

    def rank() -> None:
        job = jobs[next(picks) % len(jobs)]
        ranked = technicians.rank_technicians(session, job, NOW, limit=1)
        assert ranked and ranked[0].eligible
        if len(candidates) < 50:
            candidates.append(len(technicians.rank_technicians(session, job, NOW)))

    def rank_wide() -> None:
        assert technicians.rank_technicians(session, wide, NOW, limit=1)

    def dispatch() -> None:
        job = jobs[next(picks) % len(jobs)]
        try:
            offer = fs.dispatch(session, job, NOW + timedelta(seconds=1))
            assert offer is not None
            session.flush()
        finally:
            session.rollback()

    results["rank"] = summary(timed(rank, runs))
    results["rank"]["mean_candidates"] = statistics.mean(candidates)
    results["rank (all regions)"] = summary(timed(rank_wide, max(50, runs // 3)))
    results["dispatch"] = summary(timed(dispatch, runs))
    session.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--technicians", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    targets: list[tuple[str, Database]] = []
    tmp = tempfile.TemporaryDirectory()
    targets.append(("sqlite", Database(f"sqlite:///{Path(tmp.name) / 'dispatch.db'}")))
    pg_url = os.environ.get("SFA_BENCH_DATABASE_URL")
    if pg_url:
        targets.append(("postgresql", Database(pg_url)))
    all_results: dict[str, dict[str, dict[str, float]]] = {}
    report: dict[str, object] = {"technicians": args.technicians, "runs": args.runs,
                                 "seed": args.seed, "target_p95_ms": 20.0,
                                 "results": all_results}
    header = f"{'database':<11} {'operation':<20} {'median':>8} {'p95':>8} {'p99':>8} " \
             f"{'max':>8} {'p95/target':>10}"
    rows = []
    for name, db in targets:
        results = run(db, args.technicians, args.runs, args.seed)
        all_results[name] = results
        for op, r in results.items():
            rows.append(f"{name:<11} {op:<20} {r['median_ms']:>6.2f}ms {r['p95_ms']:>6.2f}ms "
                        f"{r['p99_ms']:>6.2f}ms {r['max_ms']:>6.2f}ms {r['p95_ms'] / 20:>9.2f}x")
        db.dispose()
    print()
    print(header)
    print("-" * len(header))
    print("\n".join(rows))
    sqlite_rank = all_results["sqlite"]["rank"]
    print(f"\nmean eligible candidates per job (one region, one skill): "
          f"{sqlite_rank['mean_candidates']:.0f}")
    ok = all(r["p95_ms"] <= 20 for res in all_results.values()
             for op, r in res.items() if op.startswith("rank"))
    print(f"target p95 <= 20 ms for choosing a technician: {'met' if ok else 'MISSED'}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dispatch.json").write_text(json.dumps(report, indent=2))
    print(f"wrote {RESULTS / 'dispatch.json'}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
