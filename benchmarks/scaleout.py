"""Updates/s with 1, 2 and 4 `sfa run --no-scheduler --telegram-webhook` workers on one
PostgreSQL database (issue 12). Each update is a webhook POST to a worker (round robin):
the worker runs the engine (dedupe record, identity, state row lock FOR UPDATE, the step,
commit) and sends its answer to a local fake Bot API before answering 200. The mix is a
company lookup ("who handles ...?") and a one-step command (/whoami), from many users.

    SFA_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/sfa_scaleout \
        .venv/bin/python benchmarks/scaleout.py [--updates 1500] [--concurrency 32]

Each run gets its own schema (dropped afterwards). The fake Bot API and this driver run in
this process, on the same 2 cores as the workers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from sqlalchemy import text

from bot.handlers.telegram import SECRET_HEADER
from core.db import Database
from tests.handlers.fake_telegram import FakeTelegram
from tests.process import test_scaleout as proc

_IDS = iter(range(1, 10**9))  # update ids unique across runs (one database)
RESULTS = Path(__file__).resolve().parent / "results" / "scaleout.json"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _run(workers: int, updates: int, concurrency: int, fake: FakeTelegram,
               schema: str, tmp: Path, rate: str) -> dict[str, Any]:
    env = {**os.environ, "SFA_TELEGRAM_MAX_RATE": rate, "SFA_DATABASE_URL": proc._url(schema),
           "TELEGRAM_BOT_TOKEN": fake.token, "SFA_TELEGRAM_API_URL": fake.url,
           "TELEGRAM_WEBHOOK_SECRET": proc.SECRET, "SFA_LOG_LEVEL": "WARNING",
           "SFA_RATE_LIMIT_MESSAGES": "0"}
    env.pop("SFA_TEST_DATABASE_URL", None)
    ports = [proc._free_port() for _ in range(workers)]
    ops = [proc._free_port() for _ in range(workers)]
    procs = [await proc._spawn("run", "--no-scheduler", "--telegram-webhook",
                               f"http://127.0.0.1:{port}/tg", "--port", str(port),
                               "--ops-port", str(ops[n]),
                               env={**env, "SFA_DATA_DIR": str(tmp / f"w{workers}-{n}")})
             for n, port in enumerate(ports)]
    try:
        for port in ops:
            await proc._healthy(port)
        hooks = [f"http://127.0.0.1:{port}/tg" for port in ports]
        latencies: list[float] = []
        users = proc.USERS
        queue: asyncio.Queue[int] = asyncio.Queue()

        async def worker(http: aiohttp.ClientSession) -> None:
            while True:
                try:
                    n = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                user = FakeTelegram.user(proc.BASE_ID + n % users, f"P{n % users}")
                words = "who handles Sinar Jaya?" if n % 2 else "/whoami"
                update = {"update_id": next(_IDS), **fake.build_text(user, words)}
                started = time.perf_counter()
                async with http.post(hooks[n % workers], json=update,
                                     headers={SECRET_HEADER: proc.SECRET}) as response:
                    assert response.status == 200, response.status
                latencies.append(time.perf_counter() - started)

        async def phase(count: int) -> float:
            for n in range(count):
                queue.put_nowait(n)
            started = time.perf_counter()
            async with aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=concurrency)) as http:
                await asyncio.gather(*(worker(http) for _ in range(concurrency)))
            return time.perf_counter() - started

        await phase(min(200, updates // 5))  # warm-up: caches, connection pools, indexes
        latencies.clear()
        sends_before = len(fake.calls_of("sendMessage"))
        cpu_before = time.process_time()
        elapsed = await phase(updates)
        sent = len(fake.calls_of("sendMessage")) - sends_before
        return {"workers": workers, "send_limit_per_worker": rate, "updates": updates,
                "seconds": round(elapsed, 2),
                "updates_per_s": round(updates / elapsed, 1),
                "p50_ms": round(statistics.median(latencies) * 1000, 1),
                "p95_ms": round(_pct(latencies, 0.95) * 1000, 1),
                "p99_ms": round(_pct(latencies, 0.99) * 1000, 1),
                "answers_sent": sent,
                "driver_cpu_s": round(time.process_time() - cpu_before, 2)}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            await asyncio.wait_for(p.communicate(), 30)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--rates", default="0,30",
                        help="per-worker send limits to run (0: off, 30: the default)")
    args = parser.parse_args()
    if not proc.PG_URL.startswith("postgresql"):
        sys.exit("set SFA_TEST_DATABASE_URL to a PostgreSQL URL")
    import tempfile

    fake = FakeTelegram()
    await fake.start()
    schema = f"scaleout_bench_{uuid.uuid4().hex[:8]}"
    admin = Database(proc.PG_URL)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    db = Database(proc._url(schema))
    rows = []
    try:
        await asyncio.to_thread(proc._setup, db, datetime.now(UTC))
        with tempfile.TemporaryDirectory() as tmp:
            for rate in args.rates.split(","):
                for n in [int(w) for w in args.workers.split(",")]:
                    fake.calls.clear()
                    fake.messages.clear()
                    rows.append(await _run(n, args.updates, args.concurrency, fake, schema,
                                           Path(tmp), rate))
                    print(f"  {n} worker(s), send limit {rate}/s: "
                          f"{rows[-1]['updates_per_s']} updates/s", flush=True)
    finally:
        await fake.stop()
        db.dispose()
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()
    print(f"\nScale-out on PostgreSQL, {os.cpu_count()} CPU cores, {args.updates} updates per "
          f"run, {args.concurrency} in flight (lookup + /whoami)")
    print(f"{'limit/s':>7} {'workers':>7} {'updates/s':>10} {'x 1 worker':>10} {'p50 ms':>8} "
          f"{'p95 ms':>8} {'p99 ms':>8} {'answers':>8} {'driver CPU s':>12}")
    for r in rows:
        base = next(b["updates_per_s"] for b in rows
                    if b["send_limit_per_worker"] == r["send_limit_per_worker"])
        limit = r["send_limit_per_worker"] if r["send_limit_per_worker"] != "0" else "off"
        print(f"{limit:>7} {r['workers']:>7} {r['updates_per_s']:>10} "
              f"{r['updates_per_s'] / base:>10.2f} {r['p50_ms']:>8} {r['p95_ms']:>8} "
              f"{r['p99_ms']:>8} {r['answers_sent']:>8} {r['driver_cpu_s']:>12}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"cpu_cores": os.cpu_count(), "updates": args.updates,
                                   "concurrency": args.concurrency, "runs": rows}, indent=2))
    print(f"written {RESULTS}")


if __name__ == "__main__":
    asyncio.run(main())
