"""The Slack inbox with real processes on PostgreSQL: two `sfa run --slack-http` workers on
one database and the mock Slack Web API (slow to post, so jobs are in flight). A burst of
DMs goes to one worker, which is killed with SIGKILL right after acking them: the other
worker takes its unfinished jobs over after the lease and every DM is answered exactly once
(steps that never ran are run, answers that were kept but not sent are replayed); its own
traffic meanwhile is answered once too, and the inbox ends empty."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, insert, select, text

from bot.conversations.models import ProcessedUpdate
from bot.intake.models import InboundUpdate
from core import migrate
from core.db import Database
from core.demo import SeedOptions, seed_demo
from core.models import ChatIdentity, User
from tests.handlers.fake_slack import TEAM, FakeSlack
from tests.handlers.slack_support import BOT_TOKEN, SIGNING_SECRET, SignedSlack

pytestmark = [pytest.mark.process, pytest.mark.postgres_only]
PG_URL = os.environ.get("SFA_TEST_DATABASE_URL", "")
SFA = Path(sys.executable).parent / "sfa"
USERS = 60  # per burst


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


def _setup(db: Database, now: datetime) -> None:
    migrate.upgrade(db.engine)
    with db.session() as s:
        seed_demo(s, now=now, options=SeedOptions(companies=5, contacts=10, areas=False))
        s.execute(insert(User), [dict(login=f"rep{i}", name=f"Rep {i}", role="rep",
                                      timezone="UTC", locale="en", active=True, created_at=now)
                                 for i in range(2 * USERS)])
        ids = dict(s.execute(select(User.login, User.id).where(User.login.like("rep%"))).all())
        s.execute(insert(ChatIdentity), [dict(
            platform="slack", external_id=f"{TEAM}:U{i}", chat_id=f"DU{i}",
            user_id=ids[f"rep{i}"], linked_at=now) for i in range(2 * USERS)])


async def _healthy(port: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"worker not healthy on {port}")
            await asyncio.sleep(0.3)


def _answers(fake: FakeSlack) -> dict[str, int]:
    counts: dict[str, int] = {}
    for call in fake.of("chat.postMessage"):
        if "You are" in call.text:
            channel = str(call.args.get("channel"))
            counts[channel] = counts.get(channel, 0) + 1
    return counts


async def test_a_killed_slack_worker_s_jobs_are_answered_once_by_the_other(
        tmp_path: Path) -> None:
    schema = f"slackinbox_{uuid.uuid4().hex[:10]}"
    admin = Database(PG_URL)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    db = Database(_url(schema))
    fake = await FakeSlack(retry_after=0).start()
    procs: list[asyncio.subprocess.Process] = []
    try:
        await asyncio.to_thread(_setup, db, datetime.now(UTC))
        env = {**os.environ, "SFA_DATABASE_URL": _url(schema), "SLACK_BOT_TOKEN": BOT_TOKEN,
               "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SFA_SLACK_API_URL": fake.api_url,
               "SFA_INBOX_LEASE_SECONDS": "3", "SFA_REPLAY_AFTER_SECONDS": "2",
               "SFA_LOG_LEVEL": "WARNING", "SFA_RATE_LIMIT_MESSAGES": "0"}
        env.pop("SFA_TEST_DATABASE_URL", None)
        ports = [_free_port() for _ in range(2)]
        ops = [_free_port() for _ in range(2)]
        for n in range(2):
            procs.append(await asyncio.create_subprocess_exec(
                str(SFA), "run", "--no-scheduler", "--slack-http", "--port", str(ports[n]),
                "--ops-port", str(ops[n]), env={**env, "SFA_DATA_DIR": str(tmp_path / f"w{n}")},
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL))
        for port in ops:
            await _healthy(port)
        victim = procs[0]
        fake.delay["chat.postMessage"] = 1.0  # answers are slow to go out: jobs in flight
        async with aiohttp.ClientSession() as http:
            to_victim = SignedSlack(http, f"http://127.0.0.1:{ports[0]}/slack/events")
            to_survivor = SignedSlack(http, f"http://127.0.0.1:{ports[1]}/slack/events")
            acks = await asyncio.gather(*(to_victim.dm(f"U{i}", "whoami")
                                          for i in range(USERS)))
            assert all(status == 200 for status, _ in acks)
            await asyncio.sleep(0.15)
            victim.send_signal(signal.SIGKILL)
            await victim.wait()
            with db.session() as s:
                left = s.scalar(select(func.count()).select_from(InboundUpdate).where(
                    InboundUpdate.claimed_by.like(f"%:{victim.pid}:%")))
                kept = s.scalar(select(func.count()).select_from(ProcessedUpdate).where(
                    ProcessedUpdate.answer.is_not(None)))
            assert left, "the victim had finished everything before it was killed"
            print(f"killed with {left} jobs unfinished, {kept} of them stepped and unsent")
            fake.delay.clear()
            acks = await asyncio.gather(*(to_survivor.dm(f"U{i}", "whoami")
                                          for i in range(USERS, 2 * USERS)))
            assert all(status == 200 for status, _ in acks)
        channels = {f"DU{i}" for i in range(2 * USERS)}
        deadline = time.monotonic() + 30
        while set(_answers(fake)) != channels and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # a second answer would arrive by now
        answers = _answers(fake)
        missing = channels - set(answers)
        doubled = {c: n for c, n in answers.items() if n > 1}
        assert not missing and not doubled, (
            f"{left} jobs left by the victim ({kept} stepped); "
            f"missing {sorted(missing)}, doubled {doubled}")
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(InboundUpdate)) == 0
            assert s.scalar(select(func.count()).select_from(ProcessedUpdate).where(
                ProcessedUpdate.platform == "slack")) == 2 * USERS
            assert s.scalar(select(func.count()).select_from(ProcessedUpdate).where(
                ProcessedUpdate.answer.is_not(None))) == 0
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 15)
                except TimeoutError:
                    proc.kill()
        await fake.stop()
        db.dispose()
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()
