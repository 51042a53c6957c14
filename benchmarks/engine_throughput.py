"""Updates/s and latency from arrival through the conversation engine, beside its peer.

Each update is a full engine round (dedupe record, identity, state row lock, the step, the
new state, commit) of a two-step flow: start (command) -> button -> typed note (END),
users cycling through it.

Two measurements per run, each for the engine and for its peer in the same run:
- capacity: `--users` updates in flight at once, batch after batch; updates/s.
- offered: updates arrive at `--rate` per second (evenly spaced, round robin over the
  users); latency is taken from the moment an update was due to arrive to the moment its
  replies are back, so waiting behind the lock and the event loop is counted.
The peer is the bare SQLAlchemy Core transaction of the same writes (record the update id,
read identity and state FOR UPDATE, write the state, commit), with no engine around it:
the engine's share of it is printed as a ratio.

Targets (issue 23 goals 2 and 3): SQLite >= 2,000 updates/s and p99 <= 10 ms at 500/s
offered; PostgreSQL (one process) >= 600 updates/s and p99 <= 50 ms at 200/s offered.

    .venv/bin/python benchmarks/engine_throughput.py [--updates 6000] [--users 200] \
        [--rate 500] [--runs 3] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.conversations.engine import Engine
from bot.conversations.flow import Ctx, Flow, Step, done, goto
from bot.conversations.messages import Button, Incoming, Reply
from bot.conversations.models import ConversationState, ProcessedUpdate
from bot.conversations.registry import Registry
from core import users as user_service
from core.clock import SystemClock
from core.db import Database
from core.demo import SeedOptions, seed_demo
from core.models import Base, ChatIdentity, User
from core.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"


async def start(ctx: Ctx, inc: Incoming) -> Step:
    return goto("choose", ctx.reply("Visit or call?", [Button("Visit", value="visit"),
                                                       Button("Call", value="call")]))


async def choose(ctx: Ctx, inc: Incoming) -> Step:
    ctx.data["kind"] = inc.button or "visit"
    return goto("note", Reply("Notes?"))


async def note(ctx: Ctx, inc: Incoming) -> Step:
    return done(f"Logged {ctx.data.get('kind')}: {inc.text}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _setup(db: Database, users: int) -> None:
    Base.metadata.create_all(db.engine)
    clock = SystemClock()
    with db.session() as session:
        seed_demo(session, now=clock.now(),
                  options=SeedOptions(companies=20, contacts=20, areas=False))
        template = session.query(User).filter_by(login="budi").one()
        for i in range(users):
            user = user_service.add_user(session, login=f"bench{i}", name=f"Bench {i}",
                                         role="rep", now=clock.now(), team=template.team)
            user_service.link_identity(session, user, platform="bench", external_id=str(i),
                                       chat_id=str(i), now=clock.now())


class EngineDriver:
    """Drives users through the flow via Engine.handle."""

    def __init__(self, db: Database, users: int) -> None:
        registry = Registry()
        registry.add_flow(Flow("log", start=start, states={"choose": choose, "note": note},
                               commands=("log",)))
        settings = Settings(_env_file=None, database_url=db.url,  # type: ignore[call-arg]
                            rate_limit_messages=0)  # synthetic users exceed the abuse limit
        self.engine = Engine(db, registry, settings=settings, clock=SystemClock())
        self.phase = [0] * users
        self.buttons: dict[int, str] = {}
        self.ids = iter(range(1, 10**9))

    async def one(self, u: int) -> None:
        update_id = str(next(self.ids))
        step = self.phase[u] % 3
        if step == 0:
            inc = Incoming("bench", str(u), str(u), update_id=update_id, text="/log")
        elif step == 1:
            inc = Incoming("bench", str(u), str(u), update_id=update_id,
                           button=self.buttons[u])
        else:
            inc = Incoming("bench", str(u), str(u), update_id=update_id,
                           text="met the purchasing manager")
        replies = await self.engine.handle(inc)
        if step == 0:
            self.buttons[u] = replies[0].buttons[0][0].payload
        elif step == 2:
            assert replies[0].text.startswith("Logged visit"), replies
        self.phase[u] += 1


class BareDriver:
    """The peer: the same writes as one bare SQLAlchemy Core transaction per update."""

    def __init__(self, db: Database, users: int) -> None:
        self.db = db
        self.phase = [0] * users
        self.ids = iter(range(10**9, 2 * 10**9))
        insert = pg_insert if db.is_postgres else sqlite_insert
        self.record = (insert(ProcessedUpdate)
                       .values(platform=bindparam("platform"), update_id=bindparam("uid"),
                               processed_at=bindparam("now"))
                       .on_conflict_do_nothing().returning(ProcessedUpdate.update_id))
        self.read = (select(User.id, User.locale, ChatIdentity.chat_id, ConversationState.token,
                            ConversationState.data)
                     .join(ChatIdentity, ChatIdentity.user_id == User.id)
                     .join(ConversationState,
                           (ConversationState.platform == ChatIdentity.platform)
                           & (ConversationState.external_user_id == ChatIdentity.external_id)
                           & (ConversationState.chat_id == bindparam("chat")))
                     .where(ChatIdentity.platform == "bench",
                            ChatIdentity.external_id == bindparam("ext"))
                     .with_for_update(of=ConversationState))
        self.write = (update(ConversationState)
                      .where(ConversationState.platform == "bench",
                             ConversationState.chat_id == bindparam("chat"),
                             ConversationState.external_user_id == bindparam("ext"))
                      .values(flow=bindparam("flow"), state=bindparam("st"),
                              token=bindparam("tok"), data=bindparam("data"),
                              expires_at=bindparam("exp"), updated_at=bindparam("now")))
        self.clock = SystemClock()
        with db.session() as session:  # the state rows the engine would create
            for u in range(users):
                session.add(ConversationState(platform="bench", chat_id=f"b{u}",
                                              external_user_id=str(u), data={}, token=0,
                                              updated_at=self.clock.now()))
        self.lock = asyncio.Lock()

    async def one(self, u: int) -> None:
        step = self.phase[u] % 3
        now = self.clock.now()
        async with self.lock:  # one transaction at a time, as a process on the loop
            with self.db.engine.begin() as conn:
                conn.execute(self.record, {"platform": "bench", "uid": str(next(self.ids)),
                                           "now": now}).first()
                row = conn.execute(self.read, {"chat": f"b{u}", "ext": str(u)}).first()
                assert row is not None
                data: dict[str, Any] = ({} if step == 0 else
                                        {"kind": "visit", "_offered": ["visit", "call"]})
                conn.execute(self.write, {
                    "chat": f"b{u}", "ext": str(u), "flow": None if step == 2 else "log",
                    "st": ["choose", "note", None][step],
                    "tok": row.token + 1, "data": data, "exp": now + timedelta(minutes=30),
                    "now": now})
        await asyncio.sleep(0)
        self.phase[u] += 1


async def capacity(driver: Any, users: int, updates: int) -> dict[str, float]:
    latencies: list[float] = []

    async def timed(u: int, arrived: float) -> None:
        await driver.one(u)
        latencies.append((time.perf_counter() - arrived) * 1000)

    cpu = time.process_time()
    t0 = time.perf_counter()
    count = 0
    while count < updates:
        arrived = time.perf_counter()
        await asyncio.gather(*(timed(u, arrived) for u in range(users)))
        count += users
    elapsed = time.perf_counter() - t0
    return {"updates": count, "updates_per_s": round(count / elapsed, 1),
            "cpu_ms_per_update": round((time.process_time() - cpu) * 1000 / count, 3),
            "p99_ms_from_arrival": round(percentile(latencies, 99), 2)}


async def offered(driver: Any, users: int, updates: int, rate: float) -> dict[str, float]:
    """Arrivals every 1/rate s, round robin over users; latency from the due time."""
    latencies: list[float] = []
    previous: dict[int, asyncio.Task[None]] = {}

    async def arrive(u: int, due: float, before: asyncio.Task[None] | None) -> None:
        if before is not None:
            await before  # the same user's previous message is answered first (in order)
        await driver.one(u)
        latencies.append((time.perf_counter() - due) * 1000)

    t0 = time.perf_counter() + 0.01
    tasks = []
    for i in range(updates):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        u = i % users
        task = asyncio.create_task(arrive(u, due, previous.get(u)))
        previous[u] = task
        tasks.append(task)
    await asyncio.gather(*tasks)
    return {"rate": rate, "updates": updates,
            "p50_ms": round(statistics.median(latencies), 2),
            "p95_ms": round(percentile(latencies, 95), 2),
            "p99_ms": round(percentile(latencies, 99), 2),
            "max_ms": round(max(latencies), 2)}


async def one_run(url: str, users: int, updates: int, rate: float) -> dict[str, Any]:
    db = Database(url)
    try:
        await asyncio.to_thread(_setup, db, users)
        out: dict[str, Any] = {}
        for name, cls in (("peer", BareDriver), ("engine", EngineDriver)):
            driver = cls(db, users)
            for _ in range(3):  # warm-up: a full cycle (connections, statement caches)
                await asyncio.gather(*(driver.one(u) for u in range(min(users, 10))))
            cap = await capacity(driver, users, updates)
            off = await offered(driver, users, max(int(rate * 4), 600), rate)
            out[name] = {"capacity": cap, "offered": off}
        return out
    finally:
        db.dispose()


def _pg_schema(base: str) -> tuple[str, Any]:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    schema = f"engine_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    parsed = make_url(base)
    url = parsed.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False), (admin, schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=6000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--rate", type=float, default=None,
                        help="offered updates/s (default 500 on SQLite, 200 on PostgreSQL)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default="sqlite", help="sqlite, or a PostgreSQL URL")
    args = parser.parse_args()
    pg = args.database_url.startswith("postgresql")
    rate = args.rate or (200.0 if pg else 500.0)
    target = ({"updates_per_s_min": 600, "p99_ms_max": 50, "at_rate": 200} if pg else
              {"updates_per_s_min": 2000, "p99_ms_max": 10, "at_rate": 500})
    load_before = os.getloadavg()
    runs = []
    for _ in range(args.runs):
        if pg:
            url, (admin, schema) = _pg_schema(args.database_url)
            try:
                runs.append(asyncio.run(one_run(url, args.users, args.updates, rate)))
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
                admin.dispose()
        else:
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(asyncio.run(one_run(f"sqlite:///{Path(tmp) / 'bench.db'}",
                                                args.users, args.updates, rate)))
    load_after = os.getloadavg()

    def med(who: str, part: str, key: str) -> float:
        return float(statistics.median(r[who][part][key] for r in runs))

    summary: dict[str, Any] = {
        "database": "postgresql" if pg else "sqlite", "target": target,
        "users": args.users, "load_average_before": load_before,
        "load_average_after": load_after, "runs": runs,
        "median": {who: {"updates_per_s": med(who, "capacity", "updates_per_s"),
                         "cpu_ms_per_update": med(who, "capacity", "cpu_ms_per_update"),
                         "p99_ms_at_rate": med(who, "offered", "p99_ms")}
                   for who in ("engine", "peer")},
    }
    m = summary["median"]
    summary["engine_share_of_peer"] = round(m["engine"]["updates_per_s"]
                                            / m["peer"]["updates_per_s"], 3)
    summary["meets_target"] = (m["engine"]["updates_per_s"] >= target["updates_per_s_min"]
                               and m["engine"]["p99_ms_at_rate"] <= target["p99_ms_max"])
    print(f"Engine on {summary['database']}, {args.users} users, load average "
          f"{' '.join(f'{x:.2f}' for x in load_before)} -> "
          f"{' '.join(f'{x:.2f}' for x in load_after)}")
    print(f"{'run':>3} {'who':>6} {'upd/s':>8} {'CPU ms/upd':>10} {'p99 burst':>9} "
          f"{'@rate':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    for i, r in enumerate(runs, 1):
        for who in ("peer", "engine"):
            c, o = r[who]["capacity"], r[who]["offered"]
            print(f"{i:>3} {who:>6} {c['updates_per_s']:>8} {c['cpu_ms_per_update']:>10} "
                  f"{c['p99_ms_from_arrival']:>9} {o['rate']:>6.0f} {o['p50_ms']:>7} "
                  f"{o['p95_ms']:>7} {o['p99_ms']:>7} {o['max_ms']:>7}")
    print(f"median: engine {m['engine']['updates_per_s']} updates/s "
          f"({m['engine']['cpu_ms_per_update']} ms CPU each), p99 "
          f"{m['engine']['p99_ms_at_rate']} ms from arrival at {rate:.0f}/s; peer "
          f"{m['peer']['updates_per_s']} updates/s; engine/peer "
          f"{summary['engine_share_of_peer']} (target >= {target['updates_per_s_min']}/s, "
          f"p99 <= {target['p99_ms_max']} ms): "
          f"{'MET' if summary['meets_target'] else 'NOT MET'}")
    RESULTS.mkdir(exist_ok=True)
    name = "engine_throughput_pg.json" if pg else "engine_throughput.json"
    (RESULTS / name).write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
