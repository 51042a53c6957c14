"""Updates/s, bot CPU per update and update-to-reply latency through the whole Telegram
path, side by side with a bare python-telegram-bot echo bot (the peer).

getUpdates batches (long polling, python-telegram-bot 22's real HTTP stack) -> the door ->
the engine (SQLite, one transaction per update) -> sendMessage, against the fake Bot API
server of the tests running in its own process on loopback. Every update is `/whoami`
from one of `--users` linked Telegram users (one reply each).

The peer: a PTB `Application` with one `MessageHandler` that answers every text with a
line of the same kind (the user's name and id, HTML), the same `concurrent_updates`, the
same HTTP layer (bot.handlers.telegram_api.AiohttpRequest) and polling settings, no rate
limiter, against a fresh fake server of its own, the same burst. Each bot runs in a fresh
process of its own (`--one peer|ours`), peer first, `--runs` times; bot CPU is that
process's CPU time (every thread) over the burst / updates; the ratio is ours / peer.

Phase 1 (capacity): `--burst` updates queued at once; updates/s = updates / time from the
first update being available to the last reply received.
Phase 2 (latency, ours only): updates offered at `--rate` per second for `--seconds`;
latency is measured by the fake server from the moment the update became available to
getUpdates to the moment the reply's sendMessage arrived (both on the server's clock).

Targets (issue 23 goal 1): >= 1,200 updates/s, bot CPU <= 0.8 ms per update, >= 0.6 of the
peer; p99 <= 25 ms at 200 updates/s offered (issue 9).
The benchmark turns off PTB's overall 30 messages/s limiter (the fake server has no flood
control; the door's own default keeps it) and the engine's per-user abuse limit. Every
other reliability feature stays on (dedupe, per-chat order, menus, log redaction).

    .venv/bin/python benchmarks/telegram_throughput.py [--runs 3] [--burst 3000] \
        [--rate 200] [--seconds 10] [--low-rate 50]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telegram import Update  # noqa: E402
from telegram.constants import ParseMode  # noqa: E402
from telegram.ext import Application, ContextTypes, MessageHandler, filters  # noqa: E402

from bot.app import build_app  # noqa: E402
from bot.handlers.telegram import ALLOWED_UPDATES, TelegramDoor  # noqa: E402
from bot.handlers.telegram_api import AiohttpRequest, api_urls  # noqa: E402
from core import users as user_service  # noqa: E402
from core.clock import SystemClock  # noqa: E402
from core.db import Database  # noqa: E402
from core.demo import SeedOptions, seed_demo  # noqa: E402
from core.models import Base  # noqa: E402
from core.settings import Settings  # noqa: E402
from tests.handlers.fake_telegram import TOKEN  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
FIRST_USER = 700_000
CONCURRENT_UPDATES = 16  # the door's default, given to the peer too


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


@contextlib.contextmanager
def fake_server() -> Iterator[str]:
    """A fresh fake Bot API in a process of its own; yields its URL."""
    server = subprocess.Popen([sys.executable, "-m", "tests.handlers.fake_telegram"],
                              cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        yield f"http://127.0.0.1:{int(server.stdout.readline())}"
    finally:
        server.terminate()
        server.wait(timeout=10)


async def schedule(http: aiohttp.ClientSession, url: str, users: int, count: int,
                   rate: float) -> None:
    messages = [[FIRST_USER + i % users, "/whoami"] for i in range(count)]
    async with http.post(f"{url}/_test/schedule",
                         json={"messages": messages, "rate": rate}) as response:
        await response.read()


async def burst(http: aiohttp.ClientSession, url: str, args: argparse.Namespace
                ) -> dict[str, Any]:
    """Warm every chat once, then queue `--burst` updates at once: updates/s, latency, CPU
    of this process (the bot) per update."""
    await schedule(http, url, args.users, args.users, 0)  # menus, caches, connections
    await wait_replies(http, url, args.users, 120)
    before = await wait_replies(http, url, 0, 1)
    profile = cProfile.Profile() if args.profile else None
    bot_cpu = time.process_time()
    if profile is not None:
        profile.enable()
    await schedule(http, url, args.users, args.burst, 0)
    summary = await wait_replies(http, url, args.users + args.burst, 300)
    if profile is not None:
        profile.disable()
        profile.dump_stats(f"{args.profile}.{args.one}")
    bot_cpu = time.process_time() - bot_cpu
    stats = {**await full_stats(http, url), **summary}
    requests = {m: n - before["requests"].get(m, 0) for m, n in stats["requests"].items()
                if n > before["requests"].get(m, 0)}
    pushes = sorted(at for _, at in stats["pushes"])[-args.burst:]
    sends = sorted(at for _, at in stats["sends"])[-args.burst:]
    seconds = sends[-1] - pushes[0]
    lat = latencies(stats, pushes[0])
    return {
        "burst_updates": args.burst,
        "burst_answered": summary["sent"] - args.users,
        "burst_seconds": round(seconds, 3),
        "burst_updates_per_s": round(args.burst / seconds, 1),
        "burst_p50_ms": round(statistics.median(lat), 2),
        "burst_p99_ms": round(percentile(lat, 99), 2),
        "bot_cpu_ms_per_update": round(bot_cpu / args.burst * 1000, 3),
        "fake_server_cpu_ms_per_update": round((stats["cpu"] - before["cpu"]) / args.burst
                                               * 1000, 3),
        "send_per_update": round(requests.get("sendMessage", 0) / args.burst, 3),
        "get_updates_per_update": round(requests.get("getUpdates", 0) / args.burst, 4),
    }


async def paced(http: aiohttp.ClientSession, url: str, args: argparse.Namespace,
                rate: float, sent: int) -> tuple[list[float], float]:
    """Offer `rate` updates/s for `--seconds`: latencies (ms) and the achieved rate."""
    since = (await wait_replies(http, url, 0, 1))["now"]
    count = int(rate * args.seconds)
    await schedule(http, url, args.users, count, rate)
    await wait_replies(http, url, sent + count, args.seconds + 120)
    stats = await full_stats(http, url)
    sends = sorted(at for _, at in stats["sends"] if at >= since)
    achieved = len(sends) / max(1e-9, sends[-1] - since) if sends else 0.0
    return latencies(stats, since), achieved


async def run_ours(args: argparse.Namespace, url: str, workdir: Path) -> dict[str, Any]:
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
    door = TelegramDoor(app.engine, TOKEN, api_url=url, poll_timeout=5, overall_max_rate=0,
                        concurrent_updates=CONCURRENT_UPDATES)
    await door.start()
    try:
        async with aiohttp.ClientSession() as http:
            result = await burst(http, url, args)
            sent = args.users + args.burst
            low: list[float] = []
            if args.low_rate > 0 and args.seconds > 0:  # below saturation: with headroom
                low, _ = await paced(http, url, args, args.low_rate, sent)
                sent += int(args.low_rate * args.seconds)
            if args.rate > 0 and args.seconds > 0:
                lat, achieved = await paced(http, url, args, args.rate, sent)
                result.update({
                    "offered_rate": args.rate, "offered_updates": int(args.rate * args.seconds),
                    "answered": len(lat), "achieved_rate": round(achieved, 1),
                    "p50_ms": round(statistics.median(lat), 2),
                    "p95_ms": round(percentile(lat, 95), 2),
                    "p99_ms": round(percentile(lat, 99), 2), "max_ms": round(max(lat), 2)})
            if low:
                result.update({"low_rate": args.low_rate,
                               "low_p50_ms": round(statistics.median(low), 2),
                               "low_p99_ms": round(percentile(low, 99), 2)})
    finally:
        await door.stop()
        app.db.dispose()
    return result


async def run_peer(args: argparse.Namespace, url: str) -> dict[str, Any]:
    """A bare python-telegram-bot echo bot: one handler, one reply per text."""
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        assert update.message is not None and user is not None
        await update.message.reply_text(
            f"You are {user.full_name} ({user.id}), chat {update.message.chat_id}, "
            f"said {update.message.text}.", parse_mode=ParseMode.HTML)

    base_url, base_file_url = api_urls(url)
    application = (Application.builder().token(TOKEN).base_url(base_url)
                   .base_file_url(base_file_url).concurrent_updates(CONCURRENT_UPDATES)
                   .request(AiohttpRequest(pool_size=CONCURRENT_UPDATES + 8))
                   .get_updates_request(AiohttpRequest(pool_size=1)).build())
    application.add_handler(MessageHandler(filters.TEXT, echo))
    await application.initialize()
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0, timeout=5,
                                            allowed_updates=list(ALLOWED_UPDATES))
    try:
        async with aiohttp.ClientSession() as http:
            return await burst(http, url, args)
    finally:
        await application.updater.stop()
        await application.stop()
        await application.shutdown()


def one(args: argparse.Namespace) -> None:
    """Child process: run one bot against a fresh fake server, print its JSON."""
    with fake_server() as url, tempfile.TemporaryDirectory() as tmp:
        if args.one == "peer":
            result = asyncio.run(run_peer(args, url))
        else:
            result = asyncio.run(run_ours(args, url, Path(tmp)))
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result), flush=True)


def child(kind: str, argv: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--one", kind, *argv], cwd=ROOT,
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--burst", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10,
                        help="length of each paced phase (0: capacity only)")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--low-rate", type=float, default=50,
                        help="also measure latency at this lower offered rate (0: skip)")
    parser.add_argument("--profile", metavar="PATH",
                        help="cProfile each bot's burst into PATH.peer / PATH.ours "
                             "(the figures then include the profiler's cost)")
    parser.add_argument("--one", choices=("peer", "ours"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args)
        return
    argv = [f"--burst={args.burst}", f"--rate={args.rate}", f"--seconds={args.seconds}",
        f"--users={args.users}", f"--low-rate={args.low_rate}"]
    if args.profile:
        argv.append(f"--profile={args.profile}")
    runs: list[dict[str, Any]] = []
    for n in range(args.runs):
        peer = child("peer", argv)
        ours = child("ours", argv)
        ratio = ours["burst_updates_per_s"] / peer["burst_updates_per_s"]
        runs.append({"peer": peer, "ours": ours, "ratio": round(ratio, 3)})
        print(f"run {n + 1}: peer {peer['burst_updates_per_s']}/s "
              f"{peer['bot_cpu_ms_per_update']} ms CPU; ours {ours['burst_updates_per_s']}/s "
              f"{ours['bot_cpu_ms_per_update']} ms CPU; ratio {ratio:.2f}; load "
              f"{ours['load_average_1m']}", flush=True)
    report(args, runs)


def med(runs: list[dict[str, Any]], side: str, key: str) -> Any:
    values = [r[side][key] for r in runs if r[side].get(key) is not None]
    return round(statistics.median(values), 3) if values else None


def report(args: argparse.Namespace, runs: list[dict[str, Any]]) -> None:
    loads = [r[side]["load_average_1m"] for r in runs for side in ("peer", "ours")]
    summary = {side: {k: med(runs, side, k) for k in runs[0][side]
                      if isinstance(runs[0][side][k], (int, float))}
               for side in ("peer", "ours")}
    ratio = statistics.median(r["ratio"] for r in runs)
    cpu_ratio = summary["ours"]["bot_cpu_ms_per_update"] / summary["peer"][
        "bot_cpu_ms_per_update"]
    o, p = summary["ours"], summary["peer"]
    rows = [
        ("capacity: updates per burst", f"{args.burst}", f"{args.burst}"),
        ("capacity: updates/s (target >= 1200)", f"{o['burst_updates_per_s']}",
         f"{p['burst_updates_per_s']}"),
        ("capacity: ours / peer updates/s (target >= 0.6)", f"{ratio:.2f}", ""),
        ("capacity: bot CPU ms / update (target <= 0.8)", f"{o['bot_cpu_ms_per_update']}",
         f"{p['bot_cpu_ms_per_update']}"),
        ("capacity: bot CPU ours / peer", f"{cpu_ratio:.2f}", ""),
        ("capacity: latency p50 / p99 ms (queueing)",
         f"{o['burst_p50_ms']} / {o['burst_p99_ms']}",
         f"{p['burst_p50_ms']} / {p['burst_p99_ms']}"),
        ("capacity: fake server CPU ms / update", f"{o['fake_server_cpu_ms_per_update']}",
         f"{p['fake_server_cpu_ms_per_update']}"),
        ("capacity: sendMessage / getUpdates calls per update",
         f"{o['send_per_update']} / {o['get_updates_per_update']}",
         f"{p['send_per_update']} / {p['get_updates_per_update']}"),
    ]
    if o.get("p99_ms") is not None:
        rows += [
            (f"paced: offered {args.rate:.0f}/s, answered / offered",
             f"{o['answered']:.0f} / {o['offered_updates']:.0f}", ""),
            ("paced: latency p50 / p95 ms", f"{o['p50_ms']} / {o['p95_ms']}", ""),
            ("paced: latency p99 ms (target <= 25)", f"{o['p99_ms']}", ""),
            ("paced: latency max ms", f"{o['max_ms']}", ""),
        ]
    if o.get("low_p99_ms") is not None:
        rows.append((f"at {args.low_rate:.0f}/s offered: latency p50 / p99 ms",
                     f"{o['low_p50_ms']} / {o['low_p99_ms']}", ""))
    width = max(len(r[0]) for r in rows)
    print(f"\nload average (1 min) at the end of each bot's run: {min(loads)}-{max(loads)} "
          f"on {os.cpu_count()} CPUs")
    print(f"Telegram path: getUpdates -> door -> engine (SQLite) -> sendMessage, "
          f"{args.users} users, /whoami; median of {len(runs)} runs; peer: bare PTB echo bot")
    print(f"  {'':<{width}}  {'ours':>18}  {'peer':>18}")
    for name, ours, peer in rows:
        print(f"  {name:<{width}}  {ours:>18}  {peer:>18}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "telegram_throughput.json").write_text(json.dumps(
        {"runs": runs, "median": summary, "ratio_updates_per_s": round(ratio, 3),
         "ratio_cpu": round(cpu_ratio, 3), "load_average_1m": [min(loads), max(loads)],
         "users": args.users, "burst": args.burst}, indent=2))


if __name__ == "__main__":
    main()
