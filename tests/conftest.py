"""Shared fixtures: a real database (SQLite in a temp dir, or PostgreSQL when
SFA_TEST_DATABASE_URL is set), a manual clock, the seeded demo world and the engine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text

import bot.tables  # noqa: F401  (every table, core's and the chat side's)
from bot.app import App, build_app
from core.clock import ManualClock
from core.contact_index import ContactIndex
from core.db import Database
from core.demo import DemoWorld, SeedOptions, seed_demo
from core.models import Base
from core.settings import Settings
from tests.support.chat import CollectingChat

PG_URL = os.environ.get("SFA_TEST_DATABASE_URL")

# CI replays the same examples every run (reproducible); local runs keep exploring new ones.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")
# Monday 2 March 2026, 09:00 in Jakarta.
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def pytest_report_header(config: pytest.Config) -> str:
    return f"database: {'PostgreSQL ' + PG_URL.split('@')[-1] if PG_URL else 'SQLite'}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_pg = pytest.mark.skip(reason="needs SFA_TEST_DATABASE_URL (PostgreSQL)")
    for item in items:
        if "postgres_only" in item.keywords and not PG_URL:
            item.add_marker(skip_pg)


@pytest.fixture(scope="session")
def _pg_database() -> Iterator[Database | None]:
    if not PG_URL:
        yield None
        return
    db = Database(PG_URL)
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    Base.metadata.create_all(db.engine)
    yield db
    db.dispose()


@pytest.fixture
def database(tmp_path: Path, _pg_database: Database | None) -> Iterator[Database]:
    """A database with the full schema, empty, private to this test."""
    if _pg_database is not None:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with _pg_database.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        yield _pg_database
        return
    db = Database(f"sqlite:///{tmp_path / 'test.db'}")
    Base.metadata.create_all(db.engine)
    yield db
    db.dispose()


@pytest.fixture
def contacts(database: Database) -> ContactIndex:
    """A contact lookup index of this test's database, wired as the app wires
    Services.contacts (the lookups in core.contacts and core.customers take it as an
    argument)."""
    index = ContactIndex(min_sync_interval=0.0)
    index.watch(database.sessionmaker)
    return index


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    # The abuse limit is off in tests driven by a frozen clock; its own test turns it on.
    return Settings(_env_file=None, database_url=database.url,  # type: ignore[call-arg]
                    data_dir=tmp_path / "data", rate_limit_messages=0)


@pytest.fixture
def world(database: Database, clock: ManualClock) -> DemoWorld:
    """The demo world (small): organisation, companies, contacts and every area's data."""
    with database.session() as session:
        return seed_demo(session, now=clock.now(),
                         options=SeedOptions(companies=40, contacts=100, seed=7,
                                             day_plan=False))


@pytest.fixture
def app(settings: Settings, database: Database, clock: ManualClock, world: DemoWorld) -> App:
    return build_app(settings, clock=clock, db=database, upgrade=False)


@pytest.fixture
def chat(app: App) -> CollectingChat:
    return CollectingChat(app.engine)
