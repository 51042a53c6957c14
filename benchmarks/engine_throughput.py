"""Updates/s through the conversation engine for a two-step flow that loads and saves state.

Target (issue 2): at least 1,000 updates/s and p99 at most 10 ms on one process, SQLite.
Each update is a full engine round: dedupe record, identity, state row lock, the step, the
new state, commit. Users cycle through: start (command) -> button -> typed note (END).

    .venv/bin/python benchmarks/engine_throughput.py [--updates 6000] [--users 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.conversations.engine import Engine
from bot.conversations.flow import Ctx, Flow, Step, done, goto
from bot.conversations.messages import Button, Incoming, Reply
from bot.conversations.registry import Registry
from core import users as user_service
from core.clock import SystemClock
from core.db import Database
from core.demo import SeedOptions, seed_demo
from core.models import Base, User
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


async def run(updates: int, users: int, db_path: Path) -> dict[str, object]:
    db = Database(f"sqlite:///{db_path}")
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
    registry = Registry()
    registry.add_flow(Flow("log", start=start, states={"choose": choose, "note": note},
                           commands=("log",)))
    settings = Settings(_env_file=None, database_url=db.url,  # type: ignore[call-arg]
                        rate_limit_messages=0)  # synthetic users exceed the abuse limit
    engine = Engine(db, registry, settings=settings, clock=clock)

    last_buttons: dict[int, str] = {}
    phase = [0] * users
    latencies: list[float] = []
    update_id = 0

    async def one(u: int) -> None:
        nonlocal update_id
        update_id += 1
        step = phase[u] % 3
        if step == 0:
            inc = Incoming("bench", str(u), str(u), update_id=str(update_id), text="/log")
        elif step == 1:
            inc = Incoming("bench", str(u), str(u), update_id=str(update_id),
                           button=last_buttons[u])
        else:
            inc = Incoming("bench", str(u), str(u), update_id=str(update_id),
                           text="met the purchasing manager")
        t0 = time.perf_counter()
        replies = await engine.handle(inc)
        latencies.append((time.perf_counter() - t0) * 1000)
        if step == 0:
            last_buttons[u] = replies[0].buttons[0][0].payload
        elif step == 2:
            assert replies[0].text.startswith("Logged visit"), replies
        phase[u] += 1

    # Warm-up: one full cycle for a few users (connections, statement caches).
    for u in range(min(users, 10)):
        for _ in range(3):
            await one(u)
    latencies.clear()

    t0 = time.perf_counter()
    done_count = 0
    while done_count < updates:
        batch = [one(u) for u in range(users)]
        await asyncio.gather(*batch)
        done_count += len(batch)
    elapsed = time.perf_counter() - t0
    db.dispose()
    return {
        "updates": done_count,
        "users": users,
        "seconds": round(elapsed, 3),
        "updates_per_s": round(done_count / elapsed, 1),
        "latency_ms_median": round(statistics.median(latencies), 3),
        "latency_ms_p95": round(percentile(latencies, 95), 3),
        "latency_ms_p99": round(percentile(latencies, 99), 3),
        "latency_ms_max": round(max(latencies), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=6000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(asyncio.run(run(args.updates, args.users, Path(tmp) / "bench.db")))
    rates = [r["updates_per_s"] for r in runs]
    p99s = [r["latency_ms_p99"] for r in runs]
    summary = {
        "target": {"updates_per_s_min": 1000, "p99_ms_max": 10},
        "runs": runs,
        "median_updates_per_s": statistics.median(rates),  # type: ignore[type-var]
        "median_p99_ms": statistics.median(p99s),  # type: ignore[type-var]
    }
    summary["meets_target"] = (summary["median_updates_per_s"] >= 1000
                               and summary["median_p99_ms"] <= 10)
    print(f"{'run':>3} {'updates':>8} {'upd/s':>9} {'median ms':>10} {'p95 ms':>8} "
          f"{'p99 ms':>8} {'max ms':>8}")
    for i, r in enumerate(runs, 1):
        print(f"{i:>3} {r['updates']:>8} {r['updates_per_s']:>9} {r['latency_ms_median']:>10} "
              f"{r['latency_ms_p95']:>8} {r['latency_ms_p99']:>8} {r['latency_ms_max']:>8}")
    print(f"median of runs: {summary['median_updates_per_s']} updates/s, "
          f"p99 {summary['median_p99_ms']} ms (target >= 1000/s, p99 <= 10 ms): "
          f"{'MET' if summary['meets_target'] else 'NOT MET'}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "engine_throughput.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
