"""Schedulers count each other through PostgreSQL advisory locks and share the platform's
overall limit: N live schedulers each pace at 1/N; one that dies (its connection closes)
stops counting at once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from core.db import Database
from scheduler.pacing import Pacer, PlatformLimits
from scheduler.roster import SchedulerRoster


@pytest.fixture
def roster_db(database: Database) -> Iterator[Database]:
    """The test's database seen through a schema of its own: the roster's key space is per
    schema, so a scheduler that another test on this worker left running is not counted."""
    schema = f"roster_{uuid.uuid4().hex[:12]}"
    with database.engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = Database(database.url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        with db.engine.connect() as conn:  # the schema must exist to be current
            assert conn.execute(text("SELECT current_schema()")).scalar_one() == schema
        yield db
    finally:
        db.dispose()
        with database.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.mark.postgres_only
def test_live_schedulers_are_counted_and_a_dead_one_drops_out(roster_db: Database) -> None:
    database = roster_db
    first, second, third = (SchedulerRoster(database) for _ in range(3))
    try:
        assert first.live() == 1  # not joined: counts itself only
        assert first.join() is not None and second.join() is not None
        assert first.slot != second.slot
        assert first.live() == second.live() == 2
        third.join()
        assert first.live() == 3
        # A process killed with SIGKILL: its connection goes away without an unlock.
        third._conn.invalidate()
        third._conn = None
        assert first.live() == second.live() == 2
        second.leave()
        assert first.live() == 1
        again = SchedulerRoster(database)  # a freed slot is taken again
        assert again.join() is not None
        assert first.live() == 2
        again.leave()
    finally:
        for roster in (first, second, third):
            roster.leave()


def test_the_overall_pace_is_divided_by_the_live_schedulers() -> None:
    now = [100.0]
    pacer = Pacer({"telegram": PlatformLimits(overall=0.1)}, monotonic=lambda: now[0])
    pacer.take("telegram", "1", now[0])
    assert pacer.ready_at("telegram", "2") == pytest.approx(100.1)
    pacer.share = 3
    now[0] = 100.1
    pacer.take("telegram", "2", now[0])
    assert pacer.ready_at("telegram", "3") == pytest.approx(100.4)


def test_late_requests_keep_their_spacing() -> None:
    """A slot is taken before the row's "sending" mark commits; the request goes out after
    it. A slow commit must not bring two requests closer than the limits."""
    pacer = Pacer({"telegram": PlatformLimits(overall=0.1, per_chat=1.0)},
                  monotonic=lambda: 0.0)
    pacer.take("telegram", "7", 10.0)
    assert pacer.ready_at("telegram", "7") == pytest.approx(11.0)
    assert pacer.sending("telegram", "7", 10.25) == 0  # the mark's commit took 250 ms
    assert pacer.ready_at("telegram", "7") == pytest.approx(11.25)
    pacer.take("telegram", "8", 10.1)  # reserved on time, its mark was quick
    assert pacer.sending("telegram", "8", 10.26) == pytest.approx(0.09)  # waits for 10.35
