"""The field day: route quality and planning time of "plan my day", and "customers near me"
at 100,000 companies.

1. Route quality, 25 candidate stops (seeded, spread over a city like Jakarta, the day
   starting at its centre): the route core.dayplan's OR-Tools solver orders
   (`order_points`, the day plan's solver with every stop pinned) against the best of
   1,000 random orders and against nearest-neighbour; both ratios per instance
   (below 1 = shorter than the peer). Plus the solver's own time on those 25 stops.
2. Planning time through the real path a user's message takes: "/plan" handed to the
   conversation engine for a rep with 25 candidates (follow-ups due and overdue, a
   meeting, stale deals, nearby customers) on the demo world; target p95 <= 200 ms.
3. "Near me" at 100,000 companies (with 125,000 sites): a location shared through the
   engine (the check-in-or-near-me path: the rep's latest visit, then the nearest
   customers the rep may see with last contact and open deals); target p95 <= 20 ms. The
   peer: the same answer by a pass over every visible site in Python (no prefilter).

    .venv/bin/python benchmarks/dayplan.py [--instances 20] [--runs 60] [--companies 100000]
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, select, text

from bot.app import build_app
from bot.conversations.messages import Incoming
from core import dayplan, geo, sites
from core.clock import ManualClock
from core.db import Database
from core.demo import SeedOptions, seed_demo
from core.models import (
    Base,
    ChatIdentity,
    Company,
    FollowUp,
    Role,
    Team,
    Territory,
    TerritoryRep,
    User,
)
from core.models.fieldday import CompanySite
from core.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 08:00 in Jakarta
CITIES = {
    "Jakarta": (-6.2088, 106.8456), "Surabaya": (-7.2575, 112.7521),
    "Bandung": (-6.9175, 107.6191), "Medan": (3.5952, 98.6722),
    "Semarang": (-6.9667, 110.4167), "Makassar": (-5.1477, 119.4327),
}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def stats(samples: list[float]) -> dict[str, float]:
    return {"median_ms": statistics.median(samples), "p95_ms": pct(samples, 95),
            "max_ms": max(samples), "runs": len(samples)}


# -- 1. route quality ------------------------------------------------------------------------
def route_quality(instances: int, seed: int) -> dict[str, object]:
    rows = []
    solve_ms = []
    for k in range(instances):
        rng = random.Random(seed * 1000 + k)
        centre = CITIES["Jakarta"]
        points = [(centre[0] + rng.uniform(-0.15, 0.15), centre[1] + rng.uniform(-0.15, 0.15))
                  for _ in range(25)]
        started = time.perf_counter()
        order = dayplan.order_points(points, centre)
        solve_ms.append((time.perf_counter() - started) * 1000)
        planned = dayplan.route_km([points[i] for i in order], centre)
        best_random = min(dayplan.route_km(rng.sample(points, len(points)), centre)
                          for _ in range(1000))
        nn = dayplan.route_km([points[i] for i in dayplan.nearest_neighbour(points, centre)],
                              centre)
        rows.append({"planned_km": planned, "best_of_1000_random_km": best_random,
                     "nearest_neighbour_km": nn, "vs_random": planned / best_random,
                     "vs_nearest_neighbour": planned / nn})
    return {
        "instances": rows,
        "median_vs_random": statistics.median(r["vs_random"] for r in rows),
        "worst_vs_random": max(r["vs_random"] for r in rows),
        "median_vs_nearest_neighbour": statistics.median(r["vs_nearest_neighbour"]
                                                         for r in rows),
        "worst_vs_nearest_neighbour": max(r["vs_nearest_neighbour"] for r in rows),
        "solver_25_stops": stats(solve_ms),
    }


# -- 2. /plan through the engine -------------------------------------------------------------
def plan_time(runs: int, seed: int) -> dict[str, object]:
    tmp = tempfile.TemporaryDirectory()
    db = Database(f"sqlite:///{Path(tmp.name) / 'plan.db'}")
    Base.metadata.create_all(db.engine)
    clock = ManualClock(NOW)
    with db.session() as s:
        seed_demo(s, now=NOW, options=SeedOptions(seed=seed))
    with db.session() as s:
        budi = s.scalars(select(User).where(User.login == "budi")).one()
        mine = s.scalars(select(Company).where(Company.territory_id.in_(
            select(TerritoryRep.territory_id).where(TerritoryRep.user_id == budi.id)))
            .order_by(Company.id)).all()
        rng = random.Random(seed)
        for i, company in enumerate(rng.sample(list(mine), min(20, len(mine)))):
            kind = "meeting" if i == 0 else "follow_up"
            hours = 4 if i == 0 else rng.randint(-72, 8)
            due = NOW + timedelta(hours=hours)
            s.add(FollowUp(user_id=budi.id, company_id=company.id, kind=kind, note="bench",
                           due_at=due, status="open", created_at=NOW))
        budi.last_lat, budi.last_lon, budi.last_location_at = -6.2088, 106.8456, NOW
        s.add(ChatIdentity(platform="console", external_id="bench-budi", chat_id="bench-budi",
                           user_id=budi.id, linked_at=NOW))
    settings = Settings(_env_file=None, database_url=db.url,  # type: ignore[call-arg]
                        data_dir=Path(tmp.name) / "data", rate_limit_messages=0)
    app = build_app(settings, clock=clock, db=db, upgrade=False)
    candidates = 0
    with db.session() as s:
        budi = s.scalars(select(User).where(User.login == "budi")).one()
        cfg = dayplan.PlanSettings.from_settings(settings)
        _day, start, end = dayplan.day_window(budi, NOW, cfg)
        candidates = len(dayplan.candidates(s, budi, start=start, end=end,
                                            origin=(-6.2088, 106.8456), cfg=cfg))

    async def once(i: int) -> float:
        inc = Incoming(platform="console", chat_id="bench-budi", user_id="bench-budi",
                       update_id=f"plan-{i}", text="/plan")
        started = time.perf_counter()
        replies = await app.engine.handle(inc)
        took = (time.perf_counter() - started) * 1000
        assert replies and "🗺" in replies[0].text, replies[0].text[:200]
        return took

    async def all_runs() -> list[float]:
        for i in range(3):
            await once(-1 - i)  # warm up (imports, caches)
        return [await once(i) for i in range(runs)]

    samples = asyncio.run(all_runs())
    db.dispose()
    tmp.cleanup()
    return {"candidates": candidates, "max_visits": settings.dayplan_max_visits,
            "plan_message": stats(samples)}


# -- 3. near me at 100k companies -----------------------------------------------------------
def near_me(companies: int, runs: int, seed: int) -> dict[str, object]:
    tmp = tempfile.TemporaryDirectory()
    db = Database(f"sqlite:///{Path(tmp.name) / 'near.db'}")
    Base.metadata.create_all(db.engine)
    rng = random.Random(seed)
    with db.session() as s:
        team = Team(name="Field")
        s.add(team)
        s.flush()
        territories = {}
        for city in CITIES:
            territories[city] = Territory(name=city, region=city, team_id=team.id)
            s.add(territories[city])
        rep = User(login="rep", name="Rep", role=Role.REP.value, team_id=team.id,
                   timezone="Asia/Jakarta", locale="en", active=True, created_at=NOW)
        s.add(rep)
        s.flush()
        s.add(TerritoryRep(territory_id=territories["Jakarta"].id, user_id=rep.id))
        s.add(ChatIdentity(platform="console", external_id="bench-rep", chat_id="bench-rep",
                           user_id=rep.id, linked_at=NOW))
        rows = []
        cities = list(CITIES)
        for i in range(companies):
            city = cities[i % len(cities)]
            lat, lon = CITIES[city]
            rows.append({"name": f"{city} customer {i}", "city": city,
                         "territory_id": territories[city].id,
                         "lat": lat + rng.uniform(-0.25, 0.25),
                         "lon": lon + rng.uniform(-0.25, 0.25),
                         "created_at": NOW, "updated_at": NOW})
        for i in range(0, len(rows), 5000):
            s.execute(insert(Company), rows[i:i + 5000])
        site_rows = []
        for cid, lat, lon in s.execute(text("select id, lat, lon from companies")):
            site_rows.append({"company_id": cid, "kind": "head_office", "label": "",
                              "lat": lat, "lon": lon, "grid_row": geo.grid_row(lat),
                              "source": "import", "created_at": NOW, "updated_at": NOW})
            if cid % 4 == 0:
                dlat, dlon = lat + rng.uniform(-0.04, 0.04), lon + rng.uniform(-0.04, 0.04)
                site_rows.append({"company_id": cid, "kind": "delivery", "label": "",
                                  "lat": dlat, "lon": dlon, "grid_row": geo.grid_row(dlat),
                                  "source": "import", "created_at": NOW, "updated_at": NOW})
        for i in range(0, len(site_rows), 5000):
            s.execute(insert(CompanySite), site_rows[i:i + 5000])
    with db.engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()
    settings = Settings(_env_file=None, database_url=db.url,  # type: ignore[call-arg]
                        data_dir=Path(tmp.name) / "data", rate_limit_messages=0)
    app = build_app(settings, clock=ManualClock(NOW), db=db, upgrade=False)
    centre = CITIES["Jakarta"]
    points = [(centre[0] + rng.uniform(-0.2, 0.2), centre[1] + rng.uniform(-0.2, 0.2))
              for _ in range(runs + 5)]
    listed: list[int] = []

    cpu_ms: list[float] = []

    async def once(i: int) -> float:
        inc = Incoming(platform="console", chat_id="bench-rep", user_id="bench-rep",
                       update_id=f"near-{i}", location=points[i])
        started, cpu = time.perf_counter(), time.process_time()
        replies = await app.engine.handle(inc)
        took = (time.perf_counter() - started) * 1000
        cpu_ms.append((time.process_time() - cpu) * 1000)
        text_out = replies[0].text
        assert "Customers near you" in text_out or "No customer" in text_out, text_out[:200]
        listed.append(text_out.count("\n"))
        return took

    async def all_runs() -> list[float]:
        for i in range(5):
            await once(runs + i)
        return [await once(i) for i in range(runs)]

    engine_ms = asyncio.run(all_runs())
    cpu_ms = cpu_ms[5:]
    radius = settings.near_radius_km
    with db.session() as s:
        rep = s.scalars(select(User).where(User.login == "rep")).one()
        in_box = []
        for lat, lon in points[:runs]:
            min_lat, max_lat, min_lon, max_lon = geo.bounding_box(lat, lon, radius)
            in_box.append(s.scalar(text(
                "select count(*) from company_sites where grid_row between :a and :b and "
                "lon between :c and :d and lat between :e and :f"), {
                    "a": geo.grid_row(min_lat), "b": geo.grid_row(max_lat), "c": min_lon,
                    "d": max_lon, "e": min_lat, "f": max_lat}))
        prefilter_ms = []
        for lat, lon in points[:runs]:
            started = time.perf_counter()
            found = sites.near(s, rep, lat, lon, radius_km=radius, limit=6)
            sites.near_info(s, [n.company for n in found])
            prefilter_ms.append((time.perf_counter() - started) * 1000)
        brute_ms = []
        agree = 0
        visible = select(Company.id).where(Company.territory_id == rep.territories[0].id)
        for lat, lon in points[:max(10, runs // 4)]:
            started = time.perf_counter()
            every = s.execute(select(CompanySite.company_id, CompanySite.lat, CompanySite.lon)
                              .where(CompanySite.company_id.in_(visible))).all()
            best: dict[int, float] = {}
            for cid, slat, slon in every:
                km = geo.haversine_km(lat, lon, slat, slon)
                if km <= radius and km < best.get(cid, 1e9):
                    best[cid] = km
            top = sorted(best, key=lambda c: (best[c], c))[:6]
            brute_ms.append((time.perf_counter() - started) * 1000)
            agree += top == [n.company.id for n in sites.near(s, rep, lat, lon,
                                                                radius_km=radius, limit=6)]
    db.dispose()
    tmp.cleanup()
    return {"companies": companies, "sites": len(site_rows), "radius_km": radius,
            "rows_in_box_median": statistics.median(in_box),
            "listed_lines_median": statistics.median(listed),
            "near_message": stats(engine_ms), "near_message_cpu": stats(cpu_ms),
            "near_query": stats(prefilter_ms),
            "brute_force_python": stats(brute_ms),
            "brute_force_agrees": f"{agree}/{len(brute_ms)}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--companies", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=24)
    args = parser.parse_args()
    load_before = os.getloadavg()
    quality = route_quality(args.instances, args.seed)
    planning = plan_time(args.runs, args.seed)
    near = near_me(args.companies, args.runs, args.seed)
    load_after = os.getloadavg()
    print(f"\nload average before {load_before[0]:.2f} / after {load_after[0]:.2f} "
          f"(2 cores, shared)")
    print(f"\n1. route quality, 25 stops, {args.instances} seeded instances "
          "(ratio < 1: the plan is shorter)")
    print(f"{'':<34} {'median':>8} {'worst':>8}")
    print(f"{'planned / best of 1,000 random':<34} {quality['median_vs_random']:>8.3f} "
          f"{quality['worst_vs_random']:>8.3f}")
    print(f"{'planned / nearest-neighbour':<34} {quality['median_vs_nearest_neighbour']:>8.3f} "
          f"{quality['worst_vs_nearest_neighbour']:>8.3f}")
    solver = quality["solver_25_stops"]
    assert isinstance(solver, dict)
    print(f"solver on 25 stops: median {solver['median_ms']:.0f} ms, p95 "
          f"{solver['p95_ms']:.0f} ms")
    plan = planning["plan_message"]
    assert isinstance(plan, dict)
    print(f"\n2. '/plan' through the engine ({planning['candidates']} candidates, up to "
          f"{planning['max_visits']} visits): median {plan['median_ms']:.0f} ms, "
          f"p95 {plan['p95_ms']:.0f} ms (target 200): "
          f"{'met' if plan['p95_ms'] <= 200 else 'MISSED'}")
    print(f"\n3. near me, {near['companies']:,} companies / {near['sites']:,} sites, radius "
          f"{near['radius_km']} km, median {near['rows_in_box_median']} sites in the box")
    print(f"{'':<36} {'median':>9} {'p95':>9}")
    for label, key in (("location shared (engine, full path)", "near_message"),
                       ("  the same, CPU time of this process", "near_message_cpu"),
                       ("near() + last contact / deals", "near_query"),
                       ("peer: every visible site in Python", "brute_force_python")):
        r = near[key]
        assert isinstance(r, dict)
        print(f"{label:<36} {r['median_ms']:>7.2f}ms {r['p95_ms']:>7.2f}ms")
    message = near["near_message"]
    assert isinstance(message, dict)
    cpu = near["near_message_cpu"]
    assert isinstance(cpu, dict)
    print(f"target p95 <= 20 ms: {'met' if message['p95_ms'] <= 20 else 'MISSED'} (wall), "
          f"{'met' if cpu['p95_ms'] <= 20 else 'MISSED'} (CPU); "
          f"prefilter and brute force agree on {near['brute_force_agrees']} lists")
    report = {"load_average": [load_before, load_after], "route_quality": quality,
              "planning": planning, "near_me": near, "targets": {
                  "plan_p95_ms": 200, "near_p95_ms": 20}}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dayplan.json").write_text(json.dumps(report, indent=2, default=str))
    print(f"wrote {RESULTS / 'dayplan.json'}")


if __name__ == "__main__":
    main()
