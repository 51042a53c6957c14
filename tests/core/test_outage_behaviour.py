"""Outage behaviour without an outage: the backoff and its log lines (core.health), the
database availability a door reads (core.db), and the Telegram webhook's 503 while the
database is down (tests/process/test_db_outage.py does it for real on PostgreSQL)."""

from __future__ import annotations

import logging
import sqlite3

import aiohttp
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from bot.app import App
from bot.handlers.telegram import SECRET_HEADER, TelegramDoor
from core.db import Database, DatabaseUnavailable
from core.health import RETRY_CAP, Components
from tests.handlers.fake_telegram import FakeTelegram
from tests.handlers.telegram_fixtures import fake_fixture, link  # noqa: F401

BUDI = FakeTelegram.user(6101, "Budi")


def test_one_line_per_backoff_step_then_one_recovery_line(caplog: pytest.LogCaptureFixture
                                                          ) -> None:
    now = [0.0]
    components = Components(monotonic=lambda: now[0])
    components.register("outbox")
    error = OperationalError("SELECT 1", {}, Exception("connection refused"))
    attempts = 0
    with caplog.at_level(logging.WARNING, logger="sfa.health"):
        while now[0] < 30.0:  # a loop that tries every 0.1 s unless told to wait
            if not components.waiting("outbox"):
                attempts += 1
                components.failed("outbox", error)
            now[0] += 0.1
        assert components.snapshot()["outbox"].startswith("failing for 30 s: connection")
        components.ok("outbox")
    lines = [r.getMessage() for r in caplog.records]
    assert attempts <= 12  # waits grow 0.5, 1, 2, 4, then every RETRY_CAP seconds
    assert len(lines) == 5, lines  # failures 1, 2, 4, 8 and the recovery
    assert lines[0].startswith("outbox failing: OperationalError: connection refused")
    assert lines[-1].startswith("outbox recovered after 30 s")
    assert components.snapshot() == {"outbox": "ok"}
    assert components.delay("outbox", 2.0) == 2.0 and RETRY_CAP <= 5.0


def test_a_refused_connection_marks_the_database_unavailable() -> None:
    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        assert not db.availability.down
        with pytest.raises(Exception):  # noqa: B017  (the driver's own error)
            db.check()
        assert db.availability.down and db.availability.unavailable()
        assert 0 < db.availability.retry_in() <= 0.5
    finally:
        db.dispose()


def test_a_locked_sqlite_file_is_a_clear_database_error(tmp_path) -> None:
    """SQLite's BEGIN IMMEDIATE goes straight to the driver (core.db._sqlite_begin); when the
    busy timeout runs out its error is still SQLAlchemy's OperationalError (what the
    scheduler's outage check and `sfa`'s one-line errors catch), not a raw sqlite3 error
    that ended `sfa run` with a traceback."""
    path = tmp_path / "locked.db"
    db = Database(f"sqlite:///{path}")
    event.listen(db.engine, "connect",
                 lambda conn, _record: conn.execute("PRAGMA busy_timeout=50"))
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        db.check()  # creates the file, in WAL mode
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="database is locked"), db.session() as s:
            s.execute(text("SELECT 1"))
        with pytest.raises(DatabaseUnavailable, match="database is locked"):
            db.check()
        holder.execute("ROLLBACK")
        db.check()
    finally:
        holder.close()
        db.dispose()


async def test_webhook_answers_503_while_the_database_is_down(app: App, fake: FakeTelegram
                                                              ) -> None:
    link(app, "budi", BUDI)
    door = TelegramDoor(app.engine, fake.token, api_url=fake.url, port=0, listen="127.0.0.1",
                        webhook_url="https://bot.example.com/tg", webhook_secret="s3cret-hook",
                        set_commands=False)
    await door.start()
    try:
        url = f"http://127.0.0.1:{door.bound_port}/tg"
        update = {"update_id": 77, **fake.build_text(BUDI, "/whoami")}

        async def post() -> int:
            async with aiohttp.ClientSession() as http, http.post(
                    url, json=update, headers={SECRET_HEADER: "s3cret-hook"}) as response:
                return response.status

        availability = app.db.availability
        back = availability.succeeded
        # As a lost connection would; and while it is lost nothing succeeds (else a
        # background connection of the door's intake, its takeover pass, would mark the
        # database up again: an outage only a test can fake).
        availability.succeeded = lambda: None  # type: ignore[method-assign]
        availability.failed()
        availability._retry_at += 30  # the next probe is not due during the test
        try:
            assert await post() == 503
            assert fake.sent_to(BUDI["id"]) == []  # not handled, not apologised for
        finally:
            availability.succeeded = back  # type: ignore[method-assign]
        availability.succeeded()  # the database answers again
        assert await post() == 200  # Telegram's redelivery is handled once
        sent = await fake.wait_sent(BUDI["id"], 1)
        assert "Budi Santoso" in sent[0]["text"]
    finally:
        await door.stop()
