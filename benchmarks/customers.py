"""Create-with-duplicate-check benchmark: adding a contact (or a company) the way a rep's
message does, at 100k contacts, against a brute-force check side by side.

Generates (seeded) N contacts over N/5 companies in a SQLite file (or the database of
--url), loads the lookup index, then times `core.customers.check_contact` +
`create_contact` (fuzzy name at the same company, the same phone, the same e-mail, then the
insert and the commit) for a mix of new people, typo'd names of existing ones and known
phone numbers; and `create_company` with its check. The peer does the same check by brute
force: rapidfuzz WRatio over every name plus a scan of every phone and e-mail.

Usage: .venv/bin/python benchmarks/customers.py [--contacts 100000] [--runs 300]
       [--url postgresql+psycopg://...]
Writes benchmarks/results/customers.json.
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rapidfuzz import fuzz, process

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from contact_lookup import make_names, typo  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

import core.models  # noqa: E402,F401
from core import customers  # noqa: E402
from core.contact_index import ContactIndex  # noqa: E402
from core.contact_records import phone_key  # noqa: E402
from core.db import Database  # noqa: E402
from core.models import Base, Company, Contact, Role, Territory, TerritoryRep, User  # noqa: E402

# The seeded rows' stamp, before any create (creates use the clock, as in the bot).
NOW = datetime.now(UTC) - timedelta(days=30)
CITIES = ("Jakarta", "Bandung", "Surabaya", "Semarang", "Medan", "Makassar")
WORDS = ("Sinar", "Jaya", "Abadi", "Maju", "Bersama", "Nusantara", "Sentosa", "Makmur",
         "Karya", "Cahaya", "Harapan", "Utama", "Indah", "Mitra", "Sejahtera", "Global",
         "Perkasa", "Mandiri", "Sukses", "Gemilang", "Anugerah", "Samudra", "Bumi", "Tirta")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def seed(db: Database, n_contacts: int, rng: random.Random) -> dict:
    n_companies = max(10, n_contacts // 5)
    with db.session() as s:
        territories = [Territory(name=c, region=c) for c in CITIES]
        s.add_all(territories)
        s.flush()
        rep = User(login="rep", name="Rep One", role=Role.REP.value, created_at=NOW)
        s.add(rep)
        s.flush()
        for t in territories:
            s.add(TerritoryRep(territory_id=t.id, user_id=rep.id))
        terr_ids = [t.id for t in territories]
    company_names: list[str] = []
    seen: set[str] = set()
    while len(company_names) < n_companies:
        name = " ".join(rng.sample(WORDS, rng.choice((2, 3, 3, 4))))
        name += "" if name not in seen else f" {len(company_names)}"
        if name in seen:
            continue
        seen.add(name)
        company_names.append(name)
    with db.engine.begin() as conn:
        conn.execute(insert(Company), [
            {"id": i + 1, "name": name, "legal_form": "PT", "city": CITIES[i % 6],
             "territory_id": terr_ids[i % 6], "phone": f"+6221{5000000 + i:07d}",
             "email": f"info{i}@company{i}.example", "created_at": NOW,
             "updated_at": NOW - timedelta(seconds=n_companies - i)}
            for i, name in enumerate(company_names)])
    names = make_names(n_contacts, rng)
    rows = []
    for i, name in enumerate(names):
        rows.append({"id": i + 1, "company_id": (i % n_companies) + 1, "name": name,
                     "mobile": f"+62812{10000000 + i:08d}",
                     "email": f"{name.split()[0].lower()}.{i}@mail.example",
                     "is_decision_maker": False, "version": 1, "created_at": NOW,
                     # records made over time (one shared stamp is a bulk import's, which
                     # the index's first catch-up after a write reads again in full)
                     "updated_at": NOW - timedelta(seconds=n_contacts - i)})
    with db.engine.begin() as conn:
        for start in range(0, len(rows), 10_000):
            conn.execute(insert(Contact), rows[start:start + 10_000])
    if db.is_postgres:
        with db.engine.begin() as conn:
            for table in ("companies", "contacts"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT MAX(id) FROM {table}))"))
                conn.execute(text(f"ANALYZE {table}"))
    return {"names": names, "rows": rows, "companies": company_names}


def cases(data: dict, runs: int, rng: random.Random) -> list[dict]:
    out = []
    rows = data["rows"]
    for i in range(runs):
        kind = ("new", "typo", "phone", "email")[i % 4]
        row = rng.choice(rows)
        if kind == "new":
            name = f"{rng.choice(('Hadi', 'Rina', 'Tomi'))} Baruman{i}"
            values = {"name": name, "phone": f"0813{20000000 + i:08d}"}
        elif kind == "typo":
            parts = row["name"].split()
            parts[-1] = typo(parts[-1], rng)
            values = {"name": " ".join(parts)}
        elif kind == "phone":
            values = {"name": f"Someone {i}", "phone": "0" + row["mobile"][3:]}
        else:
            values = {"name": f"Someone Else {i}", "email": row["email"].upper()}
        out.append({"kind": kind, "company_id": row["company_id"], "values": values})
    return out


def run_real(db: Database, index: ContactIndex, work: list[dict]) -> tuple[list[float], dict]:
    timings: list[float] = []
    found = {"new": 0, "typo": 0, "phone": 0, "email": 0}
    for case in work:
        start = time.perf_counter()
        with db.session() as s:
            user = s.get(User, 1)
            assert user is not None
            data = customers.check_contact(case["values"])
            created, _dupes = customers.create_contact(s, user, case["company_id"], data,
                                                      now=datetime.now(UTC), index=index)
        timings.append((time.perf_counter() - start) * 1000)
        if (case["kind"] == "new") == (created is not None):
            found[case["kind"]] += 1
    return timings, found


def run_company(db: Database, index: ContactIndex, names: list[str], runs: int,
                rng: random.Random) -> list[float]:
    timings = []
    for i in range(runs):
        base = rng.choice(names)
        name = base if i % 2 else f"Toko Baru Sekali {i}"
        start = time.perf_counter()
        with db.session() as s:
            user = s.get(User, 1)
            assert user is not None
            customers.create_company(s, user, customers.check_company(
                {"name": name, "city": "Jakarta"}), now=datetime.now(UTC), index=index)
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def run_brute(data: dict, work: list[dict]) -> tuple[list[float], dict]:
    """The same check by brute force: WRatio over every contact's name (kept when at the
    same company), every phone and every e-mail compared."""
    names = [r["name"] for r in data["rows"]]
    companies = [r["company_id"] for r in data["rows"]]
    phones = [phone_key(r["mobile"]) for r in data["rows"]]
    emails = [r["email"] for r in data["rows"]]
    timings: list[float] = []
    found = {"new": 0, "typo": 0, "phone": 0, "email": 0}
    for case in work:
        values = case["values"]
        start = time.perf_counter()
        hits = set()
        for _name, _score, i in process.extract(values["name"], names, scorer=fuzz.WRatio,
                                               score_cutoff=88, limit=20):
            if companies[i] == case["company_id"]:
                hits.add(i)
        if values.get("phone"):
            key = phone_key(values["phone"])
            hits.update(i for i, p in enumerate(phones) if p == key)
        if values.get("email"):
            mail = values["email"].lower()
            hits.update(i for i, e in enumerate(emails) if e == mail)
        timings.append((time.perf_counter() - start) * 1000)
        if (case["kind"] == "new") == (not hits):
            found[case["kind"]] += 1
    return timings, found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    rng = random.Random(21)
    tmp = tempfile.TemporaryDirectory()
    url = args.url or f"sqlite:///{tmp.name}/customers.db"
    db = Database(url)
    if db.is_postgres:
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    Base.metadata.create_all(db.engine)
    t0 = time.perf_counter()
    data = seed(db, args.contacts, rng)
    seeded = time.perf_counter() - t0
    index = ContactIndex(min_sync_interval=1.0)
    index.watch(db.sessionmaker)
    with db.session() as s:
        index.load(s)
    work = cases(data, args.runs, rng)
    real, real_found = run_real(db, index, work)
    company = run_company(db, index, data["companies"], max(50, args.runs // 3), rng)
    brute, brute_found = run_brute(data, work)
    load = os.getloadavg()
    rows = [
        ("contact create-with-check (index)", real),
        ("company create-with-check (index)", company),
        ("contact check only (brute force)", brute),
    ]
    print(f"{args.contacts:,} contacts, {len(data['companies']):,} companies on "
          f"{db.dialect}; seeded in {seeded:.1f} s; load average {load[0]:.2f} "
          f"{load[1]:.2f} {load[2]:.2f}")
    print(f"{'path':<38} {'median ms':>10} {'p95 ms':>8} {'p99 ms':>8}")
    for label, values in rows:
        print(f"{label:<38} {statistics.median(values):>10.2f} {pct(values, 95):>8.2f} "
              f"{pct(values, 99):>8.2f}")
    ratio = statistics.median(brute) / statistics.median(real)
    print(f"brute-force check / indexed create-with-check (medians): {ratio:.1f}x")
    print(f"right answers (of {args.runs // 4} each): index {real_found}, "
          f"brute force {brute_found}")
    out = {
        "contacts": args.contacts, "companies": len(data["companies"]),
        "database": db.dialect, "runs": args.runs, "loadavg": load,
        "results": {label: {"median_ms": statistics.median(v), "p95_ms": pct(v, 95),
                            "p99_ms": pct(v, 99)} for label, v in rows},
        "ratio_median": ratio, "right_answers": {"index": real_found, "brute": brute_found},
        "target_p95_ms": 20.0,
    }
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / "customers.json").write_text(json.dumps(out, indent=2))
    db.dispose()
    tmp.cleanup()


if __name__ == "__main__":
    main()
