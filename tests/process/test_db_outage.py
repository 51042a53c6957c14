"""A database outage is survived and reported honestly, with real processes: one
`sfa run --no-scheduler --telegram-webhook` worker and one `sfa scheduler` (both with
/healthz) on a dedicated PostgreSQL database, which the test drops (WITH FORCE) and
re-creates from a template copy (a restore) OUTAGE seconds later.

- during the outage: /healthz answers 503 on both and names the database; an update posted
  to the webhook is not recorded, so not acknowledged (503: Telegram redelivers it); the
  processes write
  a few log records, not a traceback per attempt;
- after it: both are healthy again within 10 s (the scheduler's roster connection joins
  again), and the update redelivered is answered."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.handlers.telegram import SECRET_HEADER
from core import migrate
from core.db import Database
from core.demo import SeedOptions, seed_demo
from core.models import ChatIdentity, User
from tests.handlers.fake_telegram import FakeTelegram
from tests.handlers.telegram_fixtures import fake_fixture  # noqa: F401
from tests.process.test_scaleout import PG_URL, SECRET, SFA, _free_port

pytestmark = [pytest.mark.process, pytest.mark.postgres_only]
OUTAGE = float(os.environ.get("SFA_OUTAGE_SECONDS", "20"))
RECOVERY_WITHIN = 10.0
MAX_RECORDS = 15  # log records per process in a 20 s outage (measured: 4 and 8; were thousands)
BUDI = 830_001


class Logs:
    """A process's log records (JSON lines on stderr) with the time each arrived."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.records: list[tuple[float, str]] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for line in self.proc.stderr:
            self.records.append((time.monotonic(), line.decode(errors="replace").rstrip()))

    def between(self, start: float, end: float) -> list[str]:
        return [line for at, line in self.records if start <= at <= end]


def _admin(statement: str) -> None:
    admin = Database(PG_URL)
    try:
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(statement))
    finally:
        admin.dispose()


def _prepare_template(url: str) -> None:
    db = Database(url)
    try:
        migrate.upgrade(db.engine)
        with db.session() as s:
            world = seed_demo(s, now=__import__("datetime").datetime.now(
                __import__("datetime").UTC), options=SeedOptions(
                    companies=5, contacts=10, areas=False, day_plan=False))
            budi = world.users["budi"]
            s.add(ChatIdentity(platform="telegram", external_id=str(BUDI), chat_id=str(BUDI),
                               user_id=budi.id, linked_at=world.now))
            assert s.get(User, budi.id) is not None
    finally:
        db.dispose()


async def _health(http: aiohttp.ClientSession, port: int) -> tuple[int, dict[str, Any]]:
    try:
        async with http.get(f"http://127.0.0.1:{port}/healthz",
                            timeout=aiohttp.ClientTimeout(total=15)) as response:
            return response.status, await response.json()
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return 0, {}


async def _wait_healthy(http: aiohttp.ClientSession, port: int, timeout: float
                        ) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status, body = await _health(http, port)
        if status == 200:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"not healthy on {port} within {timeout} s: {body}")
        await asyncio.sleep(0.25)


async def test_outage_is_survived_and_reported(tmp_path: Path, fake: FakeTelegram) -> None:
    name = f"sfa_outage_{uuid.uuid4().hex[:8]}"
    template = f"{name}_tpl"
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    template_url = make_url(PG_URL).set(database=template).render_as_string(
        hide_password=False)
    _admin(f"CREATE DATABASE {template}")
    procs: list[asyncio.subprocess.Process] = []
    try:
        await asyncio.to_thread(_prepare_template, template_url)
        _admin(f"CREATE DATABASE {name} TEMPLATE {template}")
        env = {**os.environ, "SFA_DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": fake.token,
               "SFA_TELEGRAM_API_URL": fake.url, "TELEGRAM_WEBHOOK_SECRET": SECRET,
               "SFA_LOG_LEVEL": "INFO", "SFA_LOG_FORMAT": "json",
               "SFA_RATE_LIMIT_MESSAGES": "0"}
        env.pop("SFA_TEST_DATABASE_URL", None)
        hook_port, worker_ops, scheduler_ops = _free_port(), _free_port(), _free_port()
        hook = f"http://127.0.0.1:{hook_port}/tg"
        worker = await asyncio.create_subprocess_exec(
            str(SFA), "run", "--no-scheduler", "--telegram-webhook", hook, "--port",
            str(hook_port), "--ops-port", str(worker_ops),
            env={**env, "SFA_DATA_DIR": str(tmp_path / "w")},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        scheduler = await asyncio.create_subprocess_exec(
            str(SFA), "scheduler", "--ops-port", str(scheduler_ops),
            env={**env, "SFA_DATA_DIR": str(tmp_path / "s")},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        procs = [worker, scheduler]
        logs = {"worker": Logs(worker), "scheduler": Logs(scheduler)}
        tg_user = {"id": BUDI, "is_bot": False, "first_name": "Budi"}
        async with aiohttp.ClientSession() as http:
            await _wait_healthy(http, worker_ops, 90)
            before = await _wait_healthy(http, scheduler_ops, 90)
            assert before.get("roster") == "ok", before

            async def post(update_id: int) -> int:
                body = {"update_id": update_id, **fake.build_text(tg_user, "/whoami")}
                async with http.post(hook, json=body, headers={SECRET_HEADER: SECRET},
                                     timeout=aiohttp.ClientTimeout(total=30)) as response:
                    return response.status

            assert await post(1) == 200  # recorded; worked and answered right after
            await fake.wait_sent(BUDI, 1, timeout=15)

            # -- the outage -------------------------------------------------------------
            down_at = time.monotonic()
            _admin(f"DROP DATABASE {name} WITH (FORCE)")
            answered_before = len(fake.messages)
            statuses = [await post(2)]
            await asyncio.sleep(2)
            statuses.append(await post(2))  # Telegram's redelivery, still down
            worker_health = await _health(http, worker_ops)
            scheduler_health = await _health(http, scheduler_ops)
            await asyncio.sleep(max(0.0, down_at + OUTAGE - time.monotonic()))
            answered_during = len(fake.messages)
            _admin(f"CREATE DATABASE {name} TEMPLATE {template}")
            up_at = time.monotonic()
            outage_logs = {k: v.between(down_at, up_at) for k, v in logs.items()}

            # -- recovery ---------------------------------------------------------------
            await _wait_healthy(http, worker_ops, RECOVERY_WITHIN)
            after = await _wait_healthy(http, scheduler_ops,
                                        RECOVERY_WITHIN - (time.monotonic() - up_at))
            recovered_in = time.monotonic() - up_at
            redelivered = await post(2)
            if redelivered == 200:
                await fake.wait_sent(BUDI, 2, timeout=15)
        counts = {k: len(v) for k, v in outage_logs.items()}
        tracebacks = {k: sum("Traceback" in line for line in v)
                      for k, v in outage_logs.items()}
        print(f"\noutage {OUTAGE:.0f} s: log records {counts}, tracebacks {tracebacks}; "
              f"webhook during it {statuses}; recovered in {recovered_in:.1f} s; "
              f"load {os.getloadavg()[0]:.1f}")
        for kind, lines in outage_logs.items():
            for line in lines[:40]:
                print(f"  {kind}: {json.loads(line).get('message', line)[:160]}"
                      if line.startswith("{") else f"  {kind}: {line[:160]}")

        assert statuses == [503, 503]  # not acknowledged: Telegram will redeliver
        assert answered_during == answered_before  # no apology for an unsaved update
        assert worker_health[0] == 503 and worker_health[1]["database"] == "unreachable"
        assert scheduler_health[0] == 503
        assert scheduler_health[1]["database"] == "unreachable"
        assert after["roster"] == "ok" and after["sweeps"] == "ok"
        assert recovered_in < RECOVERY_WITHIN
        assert redelivered == 200 and len(fake.messages) == answered_before + 1
        assert all(n <= MAX_RECORDS for n in counts.values()), counts
        assert tracebacks["scheduler"] == 0
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in procs:
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        for db_name in (name, template):
            _admin(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")
