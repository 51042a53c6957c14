"""/healthz and /metrics over real HTTP."""

from __future__ import annotations

import aiohttp

from bot.app import App
from bot.observability import HealthCheck, register_outbox_metrics, start_ops_server
from core.db import Database
from tests.support.chat import CollectingChat


async def test_healthz_and_metrics(app: App, chat: CollectingChat, tmp_path: object) -> None:
    await chat.as_user("budi").say("/whoami")
    register_outbox_metrics(app.db, app.clock)
    runner = await start_ops_server(HealthCheck(app.db), "127.0.0.1", 0)
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                body = await resp.json()
                # The test schema is built without Alembic: migrations are reported behind.
                assert body["database"] == "ok" and "migrations" in body
            async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                text = await resp.text()
                assert resp.status == 200
                assert 'sfa_updates_total{door="console",outcome="ok"}' in text
                assert "sfa_update_seconds_bucket" in text
                assert "sfa_outbox_depth" in text
    finally:
        await runner.cleanup()


async def test_healthz_fails_when_the_database_is_gone(tmp_path: object) -> None:
    broken = Database("postgresql+psycopg://nobody@127.0.0.1:1/none")
    runner = await start_ops_server(HealthCheck(broken), "127.0.0.1", 0)
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as http, \
                http.get(f"http://127.0.0.1:{port}/healthz") as resp:
            assert resp.status == 503
            assert (await resp.json())["database"] == "unreachable"
    finally:
        await runner.cleanup()
