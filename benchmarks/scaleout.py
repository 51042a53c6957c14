"""Updates/s and CPU per update with 1, 2 and 4 `sfa run --no-scheduler --telegram-webhook`
workers on one PostgreSQL database (issues 12, 23 goal 3). Each update is a webhook POST
to a worker (round robin): the worker runs the engine (dedupe record, identity, state row
lock FOR UPDATE, the step, commit) and sends its answer to a local fake Bot API before
answering 200. The mix is a company lookup ("who handles ...?") and a one-step command
(/whoami), from many users. The webhook answers 200 once the update is recorded in the
intake's inbox and works it after (bot.handlers.telegram_webhook), so an update counts as
done when its answer reaches the fake Bot API, not at the 200: latency runs from the POST
(or its due time) to the answer, and updates/s is the count over the time to the last one.

The load driver and the fake Bot API run in a process of their own, in its own process
group (`--driver`, started by this script); the workers' CPU is read from /proc around
the measured phase and printed per worker and update, so scaling is judged on CPU, not
only on a wall clock shared with the driver. Two phases per run:
- capacity: `--updates` updates, `--concurrency` in flight; updates/s.
- offered: `--rate` updates/s for `--offered` updates; latency from the due arrival time.

Target (issue 23 goal 3): one worker >= 600 updates/s, p99 <= 50 ms at 200/s offered.

    SFA_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/sfa_scaleout \
        .venv/bin/python benchmarks/scaleout.py [--updates 1500] [--concurrency 32] \
        [--workers 1,2,4] [--rates 0,30] [--runs 3] [--rate 200]

Each run gets its own schema (dropped afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import statistics
import sys
import tempfile
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

RESULTS = Path(__file__).resolve().parent / "results" / "scaleout.json"
TICK = os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


# -- the driver process: fake Bot API + load, driven by JSON lines on stdin ------------------
class Driver:
    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake
        self.ids = iter(range(1, 10**9))  # update ids unique across runs (one database)
        # Per chat, the futures of its updates waiting for their answer, in order (one chat's
        # updates are answered in order; each update of the mix is answered in one message).
        self.waiting: dict[int, collections.deque[asyncio.Future[float]]] = (
            collections.defaultdict(collections.deque))
        send = fake._m_sendMessage

        async def answered(params: dict[str, Any]) -> Any:
            response = await send(params)
            waiting = self.waiting.get(int(params["chat_id"]))
            if waiting:
                future = waiting.popleft()
                if not future.done():
                    future.set_result(time.perf_counter())
            return response

        fake._m_sendMessage = answered  # type: ignore[method-assign]

    def _update(self, n: int) -> dict[str, Any]:
        users = proc.USERS
        user = FakeTelegram.user(proc.BASE_ID + n % users, f"P{n % users}")
        words = "who handles Sinar Jaya?" if n % 2 else "/whoami"
        return {"update_id": next(self.ids), **self.fake.build_text(user, words)}

    async def _post(self, http: aiohttp.ClientSession, hook: str, n: int) -> float:
        """POST update n and wait for its answer; return when the answer arrived."""
        update = self._update(n)
        answer: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[update["message"]["chat"]["id"]].append(answer)
        async with http.post(hook, json=update,
                             headers={SECRET_HEADER: proc.SECRET}) as response:
            assert response.status == 200, response.status
        return await asyncio.wait_for(answer, 60)

    async def capacity(self, hooks: list[str], count: int, concurrency: int
                       ) -> dict[str, Any]:
        latencies: list[float] = []
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(count):
            queue.put_nowait(n)

        async def worker(http: aiohttp.ClientSession) -> None:
            while True:
                try:
                    n = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                latencies.append(await self._post(http, hooks[n % len(hooks)], n) - started)

        sends = len(self.fake.calls_of("sendMessage"))
        cpu = time.process_time()
        started = time.perf_counter()
        async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=concurrency)) as http:
            await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        return {"updates": count, "seconds": round(elapsed, 2),
                "updates_per_s": round(count / elapsed, 1),
                "p50_ms": round(statistics.median(latencies) * 1000, 1),
                "p99_ms": round(_pct(latencies, 0.99) * 1000, 1),
                "answers_sent": len(self.fake.calls_of("sendMessage")) - sends,
                "driver_cpu_s": round(time.process_time() - cpu, 2)}

    async def offered(self, hooks: list[str], count: int, rate: float) -> dict[str, Any]:
        latencies: list[float] = []
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

            async def one(n: int, due: float) -> None:
                latencies.append(await self._post(http, hooks[n % len(hooks)], n) - due)

            tasks = []
            t0 = time.perf_counter() + 0.01
            for n in range(count):
                due = t0 + n / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(n, due)))
            await asyncio.gather(*tasks)
        return {"rate": rate, "updates": count,
                "p50_ms": round(statistics.median(latencies) * 1000, 1),
                "p95_ms": round(_pct(latencies, 0.95) * 1000, 1),
                "p99_ms": round(_pct(latencies, 0.99) * 1000, 1)}


async def _driver_main() -> None:
    fake = FakeTelegram()
    fake.record_updates = False
    await fake.start()
    driver = Driver(fake)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def say(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    say({"url": fake.url, "token": fake.token})
    try:
        while line := await reader.readline():
            cmd = json.loads(line)
            if cmd["do"] == "quit":
                break
            fake.calls.clear()
            fake.messages.clear()
            if cmd["do"] == "capacity":
                say(await driver.capacity(cmd["hooks"], cmd["updates"], cmd["concurrency"]))
            elif cmd["do"] == "offered":
                say(await driver.offered(cmd["hooks"], cmd["updates"], cmd["rate"]))
    finally:
        await fake.stop()


# -- the orchestrator: workers, CPU, the table ------------------------------------------------
class DriverProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls) -> tuple[DriverProcess, dict[str, Any]]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--driver", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, start_new_session=True)  # its own process group
        driver = cls(process)
        return driver, await driver._read()

    async def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await self.process.stdout.readline()
        if not line:
            raise RuntimeError("the driver process stopped")
        result: dict[str, Any] = json.loads(line)
        return result

    async def ask(self, **cmd: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.process.stdin.drain()
        return await self._read()

    async def stop(self) -> None:
        await self.ask_quit()
        await asyncio.wait_for(self.process.wait(), 30)

    async def ask_quit(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b'{"do": "quit"}\n')
        await self.process.stdin.drain()


async def _run(workers: int, args: argparse.Namespace, driver: DriverProcess,
               fake: dict[str, Any], schema: str, tmp: Path, rate: str) -> dict[str, Any]:
    env = {**os.environ, "SFA_TELEGRAM_MAX_RATE": rate, "SFA_DATABASE_URL": proc._url(schema),
           "TELEGRAM_BOT_TOKEN": fake["token"], "SFA_TELEGRAM_API_URL": fake["url"],
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
        # warm-up: caches, connection pools, indexes
        await driver.ask(do="capacity", hooks=hooks, updates=min(200, args.updates // 5),
                         concurrency=args.concurrency)
        cpu_before = [_cpu_seconds(p.pid) for p in procs]
        cap = await driver.ask(do="capacity", hooks=hooks, updates=args.updates,
                               concurrency=args.concurrency)
        cpu = [_cpu_seconds(p.pid) - c for p, c in zip(procs, cpu_before, strict=True)]
        per_worker = args.updates / workers
        off = await driver.ask(do="offered", hooks=hooks, updates=args.offered,
                               rate=args.rate * workers)
        return {"workers": workers, "send_limit_per_worker": rate, **cap,
                "worker_cpu_ms_per_update": [round(c * 1000 / per_worker, 3) for c in cpu],
                "offered": off}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            await asyncio.wait_for(p.communicate(), 30)


async def main(args: argparse.Namespace) -> None:
    if not proc.PG_URL.startswith("postgresql"):
        sys.exit("set SFA_TEST_DATABASE_URL to a PostgreSQL URL")
    load_before = os.getloadavg()
    driver, fake = await DriverProcess.start()
    rows: list[dict[str, Any]] = []
    try:
        for run in range(1, args.runs + 1):
            schema = f"scaleout_bench_{uuid.uuid4().hex[:8]}"
            admin = Database(proc.PG_URL)
            with admin.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f"CREATE SCHEMA {schema}"))
            db = Database(proc._url(schema))
            try:
                await asyncio.to_thread(proc._setup, db, datetime.now(UTC))
                with tempfile.TemporaryDirectory() as tmp:
                    for rate in args.rates.split(","):
                        for n in [int(w) for w in args.workers.split(",")]:
                            row = await _run(n, args, driver, fake, schema, Path(tmp), rate)
                            rows.append({"run": run, **row})
                            print(f"  run {run}: {n} worker(s), send limit {rate}/s: "
                                  f"{row['updates_per_s']} updates/s, worker CPU "
                                  f"{row['worker_cpu_ms_per_update']} ms/update, p99 "
                                  f"{row['offered']['p99_ms']} ms at "
                                  f"{row['offered']['rate']:.0f}/s", flush=True)
            finally:
                db.dispose()
                with admin.engine.connect().execution_options(
                        isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
                admin.dispose()
    finally:
        await driver.stop()
    load_after = os.getloadavg()
    summary = []
    for rate in args.rates.split(","):
        for n in [int(w) for w in args.workers.split(",")]:
            mine = [r for r in rows if r["workers"] == n and r["send_limit_per_worker"] == rate]
            summary.append({
                "workers": n, "send_limit_per_worker": rate,
                "updates_per_s": statistics.median(r["updates_per_s"] for r in mine),
                "worker_cpu_ms_per_update": statistics.median(
                    statistics.mean(r["worker_cpu_ms_per_update"]) for r in mine),
                "p99_ms_offered": statistics.median(r["offered"]["p99_ms"] for r in mine),
                "offered_rate": mine[0]["offered"]["rate"],
                "answers_sent": min(r["answers_sent"] for r in mine)})
    print(f"\nScale-out on PostgreSQL, {os.cpu_count()} CPU cores, {args.updates} updates per "
          f"run, {args.concurrency} in flight (lookup + /whoami), medians of {args.runs} "
          f"runs; load average {' '.join(f'{x:.2f}' for x in load_before)} -> "
          f"{' '.join(f'{x:.2f}' for x in load_after)}")
    print(f"{'limit/s':>7} {'workers':>7} {'updates/s':>10} {'x 1 worker':>10} "
          f"{'CPU ms/upd':>10} {'offered/s':>9} {'p99 ms':>8} {'answers':>8}")
    for r in summary:
        base = next(b["updates_per_s"] for b in summary
                    if b["send_limit_per_worker"] == r["send_limit_per_worker"])
        limit = r["send_limit_per_worker"] if r["send_limit_per_worker"] != "0" else "off"
        print(f"{limit:>7} {r['workers']:>7} {r['updates_per_s']:>10} "
              f"{r['updates_per_s'] / base:>10.2f} {r['worker_cpu_ms_per_update']:>10.3f} "
              f"{r['offered_rate']:>9.0f} {r['p99_ms_offered']:>8} {r['answers_sent']:>8}")
    one = next((r for r in summary if r["workers"] == 1), None)
    if one is not None:
        met = one["updates_per_s"] >= 600 and one["p99_ms_offered"] <= 50
        print(f"one worker: {one['updates_per_s']} updates/s, p99 {one['p99_ms_offered']} ms "
              f"at {one['offered_rate']:.0f}/s (target >= 600/s, p99 <= 50 ms): "
              f"{'MET' if met else 'NOT MET'}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({
        "cpu_cores": os.cpu_count(), "updates": args.updates, "concurrency": args.concurrency,
        "load_average_before": load_before, "load_average_after": load_after,
        "summary": summary, "runs": rows}, indent=2))
    print(f"written {RESULTS}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--rates", default="0,30",
                        help="per-worker send limits to run (0: off, 30: the default)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=200.0,
                        help="offered updates/s per worker in the latency phase")
    parser.add_argument("--offered", type=int, default=600,
                        help="updates in the latency phase")
    parser.add_argument("--driver", action="store_true", help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    asyncio.run(_driver_main() if parsed.driver else main(parsed))
