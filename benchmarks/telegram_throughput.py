"""Updates/s and update-to-reply latency through the whole Telegram path.

getUpdates batches (long polling, python-telegram-bot 22's real HTTP stack) -> the door ->
the engine (SQLite, one transaction per update) -> sendMessage, against the fake Bot API
server of the tests running in its own process on loopback. Every update is `/whoami`
from one of `--users` linked Telegram users (one reply each).

Phase 1 (capacity): `--burst` updates queued at once; updates/s = updates / time from the
first update being available to the last reply received.
Phase 2 (latency): updates offered at `--rate` per second for `--seconds`; latency is
measured by the fake server from the moment the update became available to getUpdates to
the moment the reply's sendMessage arrived (both on the server's clock).

Targets (issue 9): >= 1,000 updates/s; p99 <= 25 ms at 200 updates/s offered.
The benchmark turns off PTB's overall 30 messages/s limiter (the fake server has no flood
control; the door's own default keeps it) and the engine's per-user abuse limit.

    .venv/bin/python benchmarks/telegram_throughput.py [--burst 3000] [--rate 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict, deque
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import build_app  # noqa: E402
from bot.handlers.telegram import TelegramDoor  # noqa: E402
from core import users as user_service  # noqa: E402
from core.clock import SystemClock  # noqa: E402
from core.db import Database  # noqa: E402
from core.demo import SeedOptions, seed_demo  # noqa: E402
from core.models import Base  # noqa: E402
from core.settings import Settings  # noqa: E402
from tests.handlers.fake_telegram import TOKEN  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
FIRST_USER = 700_000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def latencies(stats: dict, since: float) -> list[float]:
    """Match the k-th reply in a chat to the k-th update pushed in it (replies keep order)."""
    pushes: dict[str, deque[float]] = defaultdict(deque)
    for chat, at in sorted(stats["pushes"], key=lambda p: p[1]):
        if at >= since:
            pushes[chat].append(at)
    out = []
    for chat, at in sorted(stats["sends"], key=lambda s: s[1]):
        if at >= since and pushes[chat]:
            out.append((at - pushes[chat].popleft()) * 1000)
    return out


async def wait_replies(http: aiohttp.ClientSession, url: str, want: int, limit: float
                       ) -> dict:
    """Poll the fake's counts (cheap: this process is also the bot) until `want` replies
    arrived or `limit` seconds passed; returns the counts."""
    deadline = time.monotonic() + limit
    while True:
        async with http.get(f"{url}/_test/stats", params={"summary": "1"}) as response:
            summary = await response.json()
        if summary["sent"] >= want or time.monotonic() > deadline:
            return summary
        await asyncio.sleep(0.2)


async def full_stats(http: aiohttp.ClientSession, url: str) -> dict:
    """Every push and send with its time (parsed once a phase is over)."""
    async with http.get(f"{url}/_test/stats") as response:
        return await response.json()


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    server = subprocess.Popen([sys.executable, "-m", "tests.handlers.fake_telegram"],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        url = f"http://127.0.0.1:{port}"
        db = Database(f"sqlite:///{workdir / 'bench.db'}")
        Base.metadata.create_all(db.engine)
        clock = SystemClock()
        with db.session() as session:
            seed_demo(session, now=clock.now(),
                      options=SeedOptions(companies=20, contacts=40, seed=3, areas=False))
        with db.session() as session:
            budi = user_service.get_user_by_login(session, "budi")
            for i in range(args.users):
                user_service.link_identity(session, budi, platform="telegram",
                                           external_id=str(FIRST_USER + i),
                                           chat_id=str(FIRST_USER + i), now=clock.now())
        settings = Settings(_env_file=None, database_url=db.url,  # type: ignore[call-arg]
                            data_dir=workdir / "data", rate_limit_messages=0,
                            log_level="WARNING")
        app = build_app(settings, clock=clock, db=db, upgrade=False)
        door = TelegramDoor(app.engine, TOKEN, api_url=url, poll_timeout=5,
                            overall_max_rate=0)
        await door.start()
        sent = 0
        async with aiohttp.ClientSession() as http:
            async def schedule(count: int, rate: float) -> float:
                messages = [[FIRST_USER + i % args.users, "/whoami"] for i in range(count)]
                began = time.monotonic()
                async with http.post(f"{url}/_test/schedule",
                                     json={"messages": messages, "rate": rate}) as response:
                    await response.read()
                return began

            # Warm-up: every chat once (menus, caches, connections).
            sent += args.users
            await schedule(args.users, 0)
            await wait_replies(http, url, sent, 120)

            before = await wait_replies(http, url, 0, 1)
            bot_cpu = time.process_time()
            sent += args.burst
            await schedule(args.burst, 0)
            summary = await wait_replies(http, url, sent, 300)
            bot_cpu = time.process_time() - bot_cpu
            stats = {**await full_stats(http, url), **summary}
            fake_cpu = stats["cpu"] - before["cpu"]
            burst_requests = {m: n - before["requests"].get(m, 0)
                              for m, n in stats["requests"].items()
                              if n > before["requests"].get(m, 0)}
            burst_pushes = sorted(at for _, at in stats["pushes"])[-args.burst:]
            burst_sends = sorted(at for _, at in stats["sends"])[-args.burst:]
            burst_seconds = burst_sends[-1] - burst_pushes[0]
            burst_lat = latencies(stats, burst_pushes[0])

            low: list[float] = []
            if args.low_rate > 0:  # below saturation: what latency looks like with headroom
                stats = await wait_replies(http, url, 0, 1)
                low_since = stats["now"]
                count = int(args.low_rate * args.seconds)
                sent += count
                await schedule(count, args.low_rate)
                await wait_replies(http, url, sent, args.seconds + 120)
                low = latencies(await full_stats(http, url), low_since)

            offered = int(args.rate * args.seconds)
            stats = await wait_replies(http, url, 0, 1)
            since = stats["now"]
            sent += offered
            await schedule(offered, args.rate)
            await wait_replies(http, url, sent, args.seconds + 120)
            stats = await full_stats(http, url)
            paced = latencies(stats, since)
            paced_sends = sorted(at for _, at in stats["sends"] if at >= since)
        await door.stop()
        app.db.dispose()
        return {
            "burst_updates": args.burst,
            "burst_seconds": round(burst_seconds, 3),
            "burst_updates_per_s": round(args.burst / burst_seconds, 1),
            "burst_p50_ms": round(statistics.median(burst_lat), 2),
            "burst_p99_ms": round(percentile(burst_lat, 99), 2),
            "bot_cpu_ms_per_update": round(bot_cpu / args.burst * 1000, 3),
            "fake_server_cpu_ms_per_update": round(fake_cpu / args.burst * 1000, 3),
            "burst_requests": burst_requests,
            "load_average_1m": round(os.getloadavg()[0], 2),
            "offered_rate": args.rate,
            "offered_updates": offered,
            "answered": len(paced),
            "achieved_rate": round(len(paced_sends) / max(1e-9, paced_sends[-1] - since), 1)
            if paced_sends else 0.0,
            "p50_ms": round(statistics.median(paced), 2),
            "p95_ms": round(percentile(paced, 95), 2),
            "p99_ms": round(percentile(paced, 99), 2),
            "max_ms": round(max(paced), 2),
            "users": args.users,
            "low_rate": args.low_rate,
            "low_p50_ms": round(statistics.median(low), 2) if low else None,
            "low_p99_ms": round(percentile(low, 99), 2) if low else None,
        }
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--low-rate", type=float, default=50,
                        help="also measure latency at this lower offered rate (0: skip)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    requests: dict[str, int] = result["burst_requests"]  # type: ignore[assignment]
    rows = [
        ("capacity: updates", f"{result['burst_updates']}"),
        ("capacity: updates/s (target >= 1000)", f"{result['burst_updates_per_s']}"),
        ("capacity: latency p50 / p99 ms (queueing)",
         f"{result['burst_p50_ms']} / {result['burst_p99_ms']}"),
        ("capacity: bot process CPU ms / update", f"{result['bot_cpu_ms_per_update']}"),
        ("capacity: => updates/s per free core", f"{1000 / result['bot_cpu_ms_per_update']:.0f}"),
        ("capacity: fake server CPU ms / update",
         f"{result['fake_server_cpu_ms_per_update']}"),
        ("capacity: sendMessage / getUpdates calls per update",
         f"{requests.get('sendMessage', 0) / result['burst_updates']:.2f} / "
         f"{requests.get('getUpdates', 0) / result['burst_updates']:.3f}"),
        ("paced: offered updates/s", f"{result['offered_rate']:.0f}"),
        ("paced: answered / offered", f"{result['answered']} / {result['offered_updates']}"),
        ("paced: latency p50 ms", f"{result['p50_ms']}"),
        ("paced: latency p95 ms", f"{result['p95_ms']}"),
        ("paced: latency p99 ms (target <= 25)", f"{result['p99_ms']}"),
        ("paced: latency max ms", f"{result['max_ms']}"),
        (f"at {result['low_rate']:.0f}/s offered: latency p50 / p99 ms",
         f"{result['low_p50_ms']} / {result['low_p99_ms']}"),
        ("ratio p99 / p50 (paced)", f"{result['p99_ms'] / max(1e-9, result['p50_ms']):.1f}"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"load average (1 min) during the run: {result['load_average_1m']} on "
          f"{os.cpu_count()} CPUs")
    print(f"Telegram path: getUpdates -> door -> engine (SQLite) -> sendMessage, "
          f"{result['users']} users, /whoami")
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>12}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "telegram_throughput.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
