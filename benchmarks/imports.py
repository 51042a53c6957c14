"""Import benchmark: `sfa import contacts` on 100k contacts, then the same file again.

Generates a seeded demo database (`sfa seed --base-only`, 1000 companies) and a CSV of N
contacts (default 100,000) in those companies: most with e-mail and phone, 10% with no key
at all (matched by the natural key, name within the company), a few hostile rows (a cell
over the limit, a control character, an unclosed quote). Then it runs, each in its own
process so that the peak resident memory is that process's own (os.wait4):

1. `sfa import contacts FILE` on the fresh database (the path an admin takes): rows/s,
   peak RSS; every good row created, every bad row named;
2. the same command with the same file again: 0 created, 0 updated; rows/s, peak RSS,
   and the ratio of its time to the first run's;
3. the peer: the bare libraries on a copy of the same fresh database, csv.DictReader and
   one SQLAlchemy bulk INSERT of the rows as they are (no checks, no matching, no report).

Usage: .venv/bin/python benchmarks/imports.py [--rows 100000] [--url postgresql+psycopg://...]
Writes benchmarks/results/imports.json. Prints os.getloadavg() with the figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SFA = Path(sys.executable).parent / "sfa"
RESULTS = ROOT / "benchmarks" / "results" / "imports.json"
FIRST = ("Budi", "Siti", "Agus", "Dewi", "Andi", "Rina", "Joko", "Sri", "Hendra", "Lina",
         "Wahyu", "Fitri", "Dedi", "Yanti", "Eko", "Nur", "Bambang", "Ratna", "Irfan", "Wulan")
SYLLABLES = ("su", "har", "to", "wi", "bo", "wo", "san", "ti", "ka", "ra", "ma", "nu", "di",
             "ja", "ya", "pu", "tra", "set", "ia", "wan", "gu", "na", "ha", "li", "mi")
DEPARTMENTS = ("Purchasing", "Finance", "IT", "Operations", "Sales", "HR", "Legal")

PEER = r'''
import csv, sys
from datetime import UTC, datetime
from sqlalchemy import insert, select
sys.path.insert(0, sys.argv[3])
from core.db import Database
from core.models import Company, Contact
db = Database(sys.argv[1])
now = datetime.now(UTC)
with db.session() as s:
    ids = dict(s.execute(select(Company.name, Company.id)).all())
    rows = [dict(name=r["name"], company_id=ids[r["company"]], department=r["department"],
                 job_title=r["job_title"], phone=r["phone"] or None, email=r["email"] or None,
                 created_at=now, updated_at=now)
            for r in csv.DictReader(open(sys.argv[2], encoding="utf-8"))
            if r.get("company") in ids and len(r["name"]) < 200 and "\x1b" not in r["name"]]
    s.execute(insert(Contact), rows)
print(len(rows))
'''


def _name(rng: random.Random) -> str:
    last = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3, 4))))
    return f"{rng.choice(FIRST)} {last.capitalize()}"


def make_csv(path: Path, companies: list[str], rows: int, seed: int) -> int:
    """Write the contacts file; returns the number of hostile rows in it."""
    rng = random.Random(seed)
    bad = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "company", "department", "job_title", "phone", "email"])
        for i in range(rows):
            name = f"{_name(rng)} {i}"
            company = rng.choice(companies)
            keyless = rng.random() < 0.10
            phone = "" if keyless else f"+62 81{i:09d}"
            email = "" if keyless else f"contact{i}@example.co.id"
            title = rng.choice(("Manager", "Staff", "Director", "=HYPERLINK(\"x\")"))
            if i % 20_000 == 7:
                title, bad = "x" * 70_000, bad + 1
            elif i % 20_000 == 11:
                name, bad = f"Esc\x1b[2J {i}", bad + 1
            writer.writerow([name, company, rng.choice(DEPARTMENTS), title, phone, email])
    return bad


def run(cmd: list[str], env: dict[str, str], workdir: Path) -> dict[str, float | str]:
    """Run a command; its wall time, its own peak RSS in MB (os.wait4) and its output."""
    out_path, err_path = workdir / "out.txt", workdir / "err.txt"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        took = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[1:3]} failed ({proc.returncode}): "
                         f"{err_path.read_text()[-2000:]}")
    return {"seconds": took, "peak_mb": usage.ru_maxrss / 1024, "out": out_path.read_text()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--url", default=None, help="a PostgreSQL URL (default: SQLite)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import select

    from core.db import Database
    from core.models import Company

    tmp = Path(tempfile.mkdtemp(prefix="sfa-imports-"))
    try:
        url = args.url or f"sqlite:///{tmp / 'bench.db'}"
        env = {**os.environ, "SFA_DATABASE_URL": url, "SFA_DATA_DIR": str(tmp / "data"),
               "SFA_LOG_LEVEL": "WARNING"}
        seeded = subprocess.run([str(SFA), "seed", "--base-only", "--companies", "1000",
                                 "--contacts", "10", "--seed", str(args.seed)], env=env,
                                capture_output=True, text=True)
        if seeded.returncode != 0:
            raise SystemExit(seeded.stderr[-2000:])
        db = Database(url)
        with db.session() as s:
            companies = sorted(s.scalars(select(Company.name)))
        db.dispose()
        data = tmp / "contacts.csv"
        bad = make_csv(data, companies, args.rows, args.seed)
        peer_url = url
        if not args.url:  # the peer writes into a copy of the same fresh database
            shutil.copy(tmp / "bench.db", tmp / "peer.db")
            peer_url = f"sqlite:///{tmp / 'peer.db'}"

        first = run([str(SFA), "import", "contacts", str(data)], env, tmp)
        second = run([str(SFA), "import", "contacts", str(data)], env, tmp)
        peer = (run([sys.executable, "-c", PEER, peer_url, str(data), str(ROOT)], env, tmp)
                if not args.url else None)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def summary(line: str) -> str:
        return next((x for x in line.splitlines() if " rows, " in x), line[:200])

    rows = args.rows
    table = [("sfa import contacts (fresh)", first), ("same file again", second)]
    if peer is not None:
        table.append(("peer: csv + bulk INSERT", peer))
    load = os.getloadavg()
    print(f"{rows:,} contacts, {bad} hostile rows, "
          f"{'PostgreSQL' if args.url else 'SQLite'}; load {load[0]:.1f} {load[1]:.1f}")
    print(f"{'run':<30} {'seconds':>8} {'rows/s':>9} {'peak MB':>8}")
    for label, result in table:
        print(f"{label:<30} {result['seconds']:>8.1f} {rows / float(result['seconds']):>9.0f} "
              f"{result['peak_mb']:>8.0f}")
    ratio = float(second["seconds"]) / float(first["seconds"])
    print(f"second/first time: {ratio:.2f}")
    print("first:  " + summary(str(first["out"])))
    print("second: " + summary(str(second["out"])))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "rows": rows, "hostile_rows": bad, "database": "postgresql" if args.url else "sqlite",
        "loadavg": load, "second_over_first": ratio,
        "runs": {label: {k: v for k, v in r.items() if k != "out"} | {
            "rows_per_s": rows / float(r["seconds"])} for label, r in table},
        "first_report": summary(str(first["out"])),
        "second_report": summary(str(second["out"]))}, indent=2))


if __name__ == "__main__":
    main()
