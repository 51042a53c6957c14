"""Slack door under load: signed slash commands and button presses at a steady rate.

Target (issue 10): at 100 requests/s for 30 s, ack p99 at most 100 ms, queue wait p99 at most
1 s, nothing dropped. The door (real bolt app in HTTP mode, real engine, SQLite) runs in a
child process; this process sends the signed requests on a fixed schedule (open loop: a slow
answer does not slow the sender) and runs the mock Slack Web API the door answers through.

    .venv/bin/python benchmarks/slack_ack.py [--rate 100] [--seconds 30] [--users 200]
        [--profile]   (cProfile of the door's main loop: engine and Web API calls)
        [--database-url postgresql+psycopg://...]   (its public schema is dropped and rebuilt)
        [--inbox on|off]   (the door's durable inbox, on by default)

ack = HTTP round trip of one signed request (what Slack's 3-second timer sees);
queue wait = time a job waited in the door's queue between the ack and a worker taking it;
end-to-end = the engine's answer posted to the mock Web API (counted, not timed).
CPU is split by thread: the intake thread (HTTP, signature check, bolt dispatch, ack, queue)
and the main loop (workers: engine, rendering, Web API calls through AsyncWebClient).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from pydantic import SecretStr

RESULTS = Path(__file__).resolve().parent / "results"
SECRET = "bench-signing-secret"
LOGINS = ["budi", "sari", "andi", "dewi", "rizky", "putri", "kevin", "maya", "hendra",
          "rahmat", "admin", "tono", "agus", "wayan"]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# -- the door's process ---------------------------------------------------------------------------
def door_process(db_url: str, data_dir: str, api_url: str, users: int, conn: Any,
                 profile: str | None = None) -> None:
    asyncio.run(_serve(db_url, data_dir, api_url, users, conn, profile))


def _thread_cpu(thread: Any) -> float:
    """CPU seconds a thread has used so far (0 when it is not running)."""
    if thread is None or thread.ident is None:
        return 0.0
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


async def _serve(db_url: str, data_dir: str, api_url: str, users: int, conn: Any,
                 profile: str | None) -> None:
    import cProfile

    from bot.app import build_app
    from bot.handlers.slack import SlackDoor
    from core import users as user_service
    from core.demo import SeedOptions, seed_demo
    from core.settings import Settings

    settings = Settings(_env_file=None, database_url=db_url, data_dir=Path(data_dir),  # type: ignore[call-arg]
                        rate_limit_messages=0, log_level="WARNING")
    settings = settings.model_copy(update={
        "slack_bot_token": SecretStr("xoxb-bench"), "slack_signing_secret": SecretStr(SECRET),
        "slack_api_url": api_url})
    app = build_app(settings, upgrade=True)
    with app.db.session() as session:
        seed_demo(session, now=app.clock.now(), options=SeedOptions(companies=40, contacts=100,
                                                                    seed=7))
        team = user_service.get_user_by_login(session, "budi").team
        for i in range(users):
            if i < len(LOGINS):
                user = user_service.get_user_by_login(session, LOGINS[i])
            else:
                user = user_service.add_user(session, login=f"bench{i:04d}", name=f"Rep {i}",
                                             role="rep", team=team, now=app.clock.now())
            user_service.link_identity(session, user, platform="slack", external_id=f"T1:U{i}",
                                       chat_id=f"DU{i}", now=app.clock.now())
    cpu_before = time.process_time()
    inbox = os.environ.get("SLACK_BENCH_INBOX", "on")
    door = SlackDoor(app.engine, settings, http_port=0, host="127.0.0.1",
                     intake_thread=os.environ.get("SLACK_BENCH_THREAD", "1") == "1",
                     inbox_enabled=inbox == "on")
    await door.start()
    conn.send(door.port)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, conn.recv)  # "warm": the warm-up requests are acked
    await door.drain()  # their jobs are done too, so none spills into the measured load
    conn.send("ready")
    profiler = cProfile.Profile(time.thread_time) if profile else None  # CPU, this thread
    main_before = time.thread_time()
    intake_before = _thread_cpu(door._thread)
    received_before = door.stats.received
    if profiler is not None:
        profiler.enable()
    await loop.run_in_executor(None, conn.recv)  # "drain"
    await door.drain()
    if profiler is not None and profile:
        profiler.disable()
        profiler.dump_stats(profile)
    measured = max(1, door.stats.received - received_before)
    from sqlalchemy import func, select

    from bot.intake.models import InboundUpdate
    with app.db.session() as session:
        left = session.scalar(select(func.count()).select_from(InboundUpdate))
    conn.send({"inbox": door.inbox_enabled, "inbox_left": left,
               "cpu_seconds": time.process_time() - cpu_before,
               "main_cpu_ms": (time.thread_time() - main_before) * 1000 / measured,
               "intake_cpu_ms": (_thread_cpu(door._thread) - intake_before) * 1000 / measured,
               "queue_waits": list(door.stats.queue_waits),
               "work": list(door.stats.work_seconds), "received": door.stats.received,
               "done": door.stats.done, "failed": door.stats.failed})
    await door.stop()


# -- the load -------------------------------------------------------------------------------------
def _empty_postgres(url: str) -> None:
    """Drop and recreate the public schema of the benchmark's own PostgreSQL database."""
    from sqlalchemy import text

    from core.db import Database

    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.dispose()


async def load(rate: int, seconds: int, users: int, profile: str | None = None,
               database_url: str | None = None) -> dict[str, Any]:
    from tests.handlers.fake_slack import FakeSlack
    from tests.handlers.slack_support import SignedSlack

    fake = await FakeSlack(retry_after=0).start()
    tmp = tempfile.mkdtemp(prefix="slack_ack_")
    db_url = database_url or f"sqlite:///{tmp}/bench.db"
    if database_url:
        _empty_postgres(database_url)
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=door_process,
                       args=(db_url, tmp, fake.api_url, users, child, profile))
    proc.start()
    loop = asyncio.get_running_loop()
    port = await loop.run_in_executor(None, parent.recv)
    rng = random.Random(42)
    acks: dict[str, list[float]] = {"command": [], "action": []}
    statuses: dict[int, int] = {}
    total = rate * seconds
    connector = aiohttp.TCPConnector(limit=200)
    async with aiohttp.ClientSession(connector=connector) as http:
        slack = SignedSlack(http, f"http://127.0.0.1:{port}/slack/events", SECRET)
        # Warm up: one command per user (first auth.test, first queries).
        for i in range(users):
            await slack.command(f"U{i}", "whoami")
        parent.send("warm")
        await loop.run_in_executor(None, parent.recv)  # "ready"
        await asyncio.sleep(0.2)  # the door's last forget batch
        fake.clear()

        async def one(i: int) -> None:
            user = f"U{rng.randrange(users)}"
            kind = "command" if i % 10 < 7 else "action"
            started = time.perf_counter()
            if kind == "command":
                text = rng.choice(["whoami", "help", "report", "Sinar Jaya"])
                status, _ = await slack.command(user, text)
            else:
                button = {"action_id": "sfa_btn_0_0", "value": "f|report|1|won",
                          "text": {"type": "plain_text", "text": "Won sales"}}
                status, _ = await slack.press(user, button, channel=f"D{user}",
                                              message_ts=f"{i}.0")
            acks[kind].append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1

        tasks = []
        t0 = time.perf_counter()
        for i in range(total):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        send_seconds = time.perf_counter() - t0
    parent.send("drain")
    stats = await loop.run_in_executor(None, parent.recv)
    proc.join(timeout=30)
    answers = len(fake.of("chat.postMessage")) + len(fake.of("chat.postEphemeral")) + len(
        fake.of("files.completeUploadExternal"))
    await fake.stop()
    waits = stats["queue_waits"][-total:]
    all_acks = acks["command"] + acks["action"]
    return {
        "rate": rate, "seconds": seconds, "users": users, "sent": total,
        "database": db_url.split(":", 1)[0], "inbox": stats["inbox"],
        "inbox_left": stats["inbox_left"],
        "achieved_rate": round(total / send_seconds, 1), "http_status": statuses,
        "ack_ms": {k: {"median": statistics.median(v) * 1000, "p95": pct(v, 95) * 1000,
                       "p99": pct(v, 99) * 1000, "max": max(v) * 1000}
                   for k, v in {**acks, "all": all_acks}.items() if v},
        "queue_wait_ms": {"median": statistics.median(waits) * 1000,
                          "p95": pct(waits, 95) * 1000, "p99": pct(waits, 99) * 1000,
                          "max": max(waits) * 1000},
        "job_ms": {"median": statistics.median(stats["work"][-total:]) * 1000,
                   "p99": pct(stats["work"][-total:], 99) * 1000},
        "door_received": stats["received"] - users, "door_done": stats["done"] - users,
        "door_failed": stats["failed"], "answers_posted": answers,
        "door_cpu_ms_per_request": stats["cpu_seconds"] * 1000 / (total + users),
        "intake_thread_cpu_ms_per_request": stats["intake_cpu_ms"],
        "main_loop_cpu_ms_per_request": stats["main_cpu_ms"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the door's main loop; top functions printed, stats "
                             "written to benchmarks/results/slack_ack.prof")
    parser.add_argument("--database-url", help="a PostgreSQL URL (default: a SQLite file)")
    parser.add_argument("--inbox", choices=["on", "off"], default="on")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    os.environ["SLACK_BENCH_INBOX"] = args.inbox  # the door's process inherits it
    profile = str(RESULTS / "slack_ack.prof") if args.profile else None
    result = asyncio.run(load(args.rate, args.seconds, args.users, profile,
                              args.database_url))
    dropped = result["sent"] - result["door_done"]
    ack99 = result["ack_ms"]["all"]["p99"]
    wait99 = result["queue_wait_ms"]["p99"]
    result["dropped"] = dropped
    result["targets"] = {"ack_p99_ms<=100": ack99 <= 100, "queue_wait_p99_ms<=1000":
                         wait99 <= 1000, "nothing_dropped": dropped == 0}
    print(f"Slack door: {result['sent']} signed requests at {args.rate}/s for {args.seconds} s "
          f"(achieved {result['achieved_rate']}/s), {result['users']} users; "
          f"HTTP statuses {result['http_status']}; database {result['database']}, inbox "
          f"{'on' if result['inbox'] else 'off'} ({result['inbox_left']} rows left)")
    print(f"{'metric':<22}{'median':>10}{'p95':>10}{'p99':>10}{'max':>10}   (ms)")
    for name, row in result["ack_ms"].items():
        print(f"{'ack ' + name:<22}{row['median']:>10.1f}{row['p95']:>10.1f}"
              f"{row['p99']:>10.1f}{row['max']:>10.1f}")
    q = result["queue_wait_ms"]
    print(f"{'queue wait':<22}{q['median']:>10.1f}{q['p95']:>10.1f}{q['p99']:>10.1f}"
          f"{q['max']:>10.1f}")
    print(f"{'job (engine + API)':<22}{result['job_ms']['median']:>10.1f}{'':>10}"
          f"{result['job_ms']['p99']:>10.1f}")
    print(f"jobs received {result['door_received']}, done {result['door_done']}, failed "
          f"{result['door_failed']}, dropped {dropped}; answers posted to the mock API "
          f"{result['answers_posted']}")
    print(f"door process CPU per request (intake + engine + replies): "
          f"{result['door_cpu_ms_per_request']:.1f} ms; during the load: intake thread "
          f"{result['intake_thread_cpu_ms_per_request']:.2f} ms, main loop (workers) "
          f"{result['main_loop_cpu_ms_per_request']:.2f} ms")
    print(f"ack p99 / 100 ms target = {ack99 / 100:.2f}; queue wait p99 / 1 s target = "
          f"{wait99 / 1000:.3f}; targets met: {result['targets']}")
    (RESULTS / "slack_ack.json").write_text(json.dumps(result, indent=2))
    if profile:
        import pstats
        import re

        stats = pstats.Stats(profile)
        total_cpu = stats.total_tt  # type: ignore[attr-defined]
        print(f"door main loop CPU under cProfile: {total_cpu:.2f} s; shares of it:")
        parts = {"engine (Engine.handle)": "engine.py:.*\\(handle\\)",
                 "replies out (send_replies)": "slack.py:.*\\(send_replies\\)",
                 "pressed message closed (_close_message)": "slack.py:.*\\(_close_message\\)",
                 "the door's own reads (language, links)":
                     "slack.py:.*\\((_translator|_is_linked|_moved_on)\\)"}
        for name, pattern in parts.items():
            cum = sum(v[3] for k, v in stats.stats.items()  # type: ignore[attr-defined]
                      if re.search(pattern, f"{k[0]}:{k[1]}({k[2]})"))
            print(f"  {name:<42}{cum:>7.2f} s {cum / total_cpu:>6.0%}")
        stats.sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
