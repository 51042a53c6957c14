"""Shared fixtures: a real database (SQLite in a temp dir, or PostgreSQL when
SFA_TEST_DATABASE_URL is set), a manual clock, the seeded demo world and the engine.

The suite runs in parallel (pytest-xdist, `-n auto` in pyproject's addopts). Each worker
process builds, once, an empty database and the seeded demo world (with its knowledge
index) and gives every test a private copy of them: on SQLite a copy of the template file
per test, on PostgreSQL a database of the worker's own (`<name>_<worker>_<pid>`, created
from SFA_TEST_DATABASE_URL's server and dropped at the end; the URL is pointed at it for the
worker) whose tables are emptied, or refilled from a snapshot of the seeded world, per test.
docs/DEVELOPING.md (Testing) describes the fixtures."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.engine import make_url

import bot.tables  # noqa: F401  (every table, core's and the chat side's)
from bot.app import App, build_app, knowledge_index
from bot.conversations.understanding.understander import Understanders
from core.clock import ManualClock
from core.contact_index import ContactIndex
from core.db import Database
from core.demo import DemoWorld, SeedOptions, seed_demo
from core.models import Base
from core.settings import Settings
from tests.support.chat import CollectingChat

PG_URL = os.environ.get("SFA_TEST_DATABASE_URL")
_SERVER_URL = PG_URL  # the URL given; PG_URL becomes this worker's own database's

# CI replays the same examples every run (reproducible); local runs keep exploring new ones.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")
# Monday 2 March 2026, 09:00 in Jakarta.
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
WORLD_OPTIONS = SeedOptions(companies=40, contacts=100, seed=7, day_plan=False)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker per core, and at least 3. The process tests (scale-out with
    kill -9, outage, start race, index sync) spend most of their time waiting on the
    processes they start; on 2 cores a third worker cut the PostgreSQL run from 5:41 to
    5:03 wall (4 workers: 4:56), the SQLite run unchanged (3:07)."""
    return max(3, os.cpu_count() or 1)


def pytest_report_header(config: pytest.Config) -> str:
    where = _SERVER_URL.split("@")[-1] if _SERVER_URL else ""
    return f"database: {'PostgreSQL ' + where if _SERVER_URL else 'SQLite'}"


def _runs_tests(config: pytest.Config) -> bool:
    """False in xdist's controller process (its workers run the tests)."""
    if hasattr(config, "workerinput"):
        return True
    return not config.getoption("numprocesses", default=None)


def _admin(sql: str) -> None:
    assert _SERVER_URL
    db = Database(_SERVER_URL)
    try:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(sql))
    finally:
        db.dispose()


def pytest_configure(config: pytest.Config) -> None:
    """On PostgreSQL each process that runs tests gets a database of its own, named after
    the given one, the xdist worker and the pid (runs side by side never share one); the
    environment's SFA_TEST_DATABASE_URL points at it for this process's tests."""
    global PG_URL
    if not _SERVER_URL or not _runs_tests(config):
        return
    url = make_url(_SERVER_URL)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    base = (url.database or "test").lower()
    name = f"{base}_{worker}_{os.getpid()}".lower()
    _drop_orphans(base)
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}"')
    PG_URL = url.set(database=name).render_as_string(hide_password=False)
    os.environ["SFA_TEST_DATABASE_URL"] = PG_URL
    config.stash[_PG_DATABASE] = name


_PG_DATABASE = pytest.StashKey[str]()


def _drop_orphans(base: str) -> None:
    """Drop the databases of earlier runs on this machine whose process is gone (a run
    killed before its end could not drop its own)."""
    assert _SERVER_URL
    db = Database(_SERVER_URL)
    try:
        with db.engine.connect() as conn:
            names = list(conn.execute(text("SELECT datname FROM pg_database")).scalars())
    finally:
        db.dispose()
    for name in names:
        found = re.fullmatch(rf"{re.escape(base)}_(gw\d+|main)_(\d+)", name)
        if found is None:
            continue
        try:
            os.kill(int(found.group(2)), 0)
        except ProcessLookupError:
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except PermissionError:
            pass  # alive, another user's


def pytest_sessionfinish(session: pytest.Session) -> None:
    # Here, not in pytest_unconfigure: an xdist worker may be ended before that runs.
    name = session.config.stash.get(_PG_DATABASE, None)
    if name:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_pg = pytest.mark.skip(reason="needs SFA_TEST_DATABASE_URL (PostgreSQL)")
    for item in items:
        if "postgres_only" in item.keywords and not PG_URL:
            item.add_marker(skip_pg)
    # The longest tests (real processes) first: with --dist worksteal they head the first
    # worker's queue, one after the other, while the other workers take the short ones and
    # steal the rest; a long test started last would stretch the run by its own length.
    items.sort(key=lambda item: "process" not in item.keywords)


class _PgTables:
    """Empties the public tables of the worker's database, or refills them with the seeded
    world's rows kept in a schema beside them, sequences included, in one round trip each.

    Rows go by DELETE with foreign-key triggers off (session_replication_role = replica:
    teams and users point at each other; the rows copied back are the seeded ones, already
    checked): on tables this small that is several times faster than TRUNCATE, which makes
    and syncs new files for every table. It needs a superuser (the tests' `postgres`);
    otherwise the tables are truncated and every test seeds the world itself."""

    SCHEMA = "world_snapshot"

    def __init__(self, db: Database) -> None:
        self.db = db
        self.tables = list(Base.metadata.sorted_tables)
        with db.engine.begin() as conn:
            self.superuser = bool(conn.execute(text(
                "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar())
            self.sequences = list(conn.execute(text(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")).scalars())
        names = ", ".join(f'public."{t.name}"' for t in self.tables)
        self.truncate = f"TRUNCATE {names} RESTART IDENTITY CASCADE"
        self.delete = ["SET LOCAL session_replication_role = replica"]
        self.delete += [f'DELETE FROM public."{t.name}"' for t in reversed(self.tables)]
        self.empty_sql = ";\n".join([*self.delete, self._setval({})])
        self.restore_sql: str | None = None

    def _setval(self, values: dict[str, int]) -> str:
        calls = ", ".join(
            f"setval('public.\"{name}\"', {values[name]}, true)" if name in values
            else f"setval('public.\"{name}\"', 1, false)" for name in self.sequences)
        return f"SELECT {calls}" if calls else "SELECT 1"

    def empty(self) -> None:
        with self.db.engine.begin() as conn:
            if self.superuser:
                conn.exec_driver_sql(self.empty_sql)
            else:
                conn.execute(text(self.truncate))

    def snapshot(self) -> None:
        """Keep the public tables' rows (the seeded world) for `restore`."""
        if not self.superuser:
            return
        statements = [f"DROP SCHEMA IF EXISTS {self.SCHEMA} CASCADE",
                      f"CREATE SCHEMA {self.SCHEMA}"]
        restore = list(self.delete)
        for table in self.tables:
            columns = ", ".join(f'"{c.name}"' for c in table.columns if c.computed is None)
            statements.append(f'CREATE TABLE {self.SCHEMA}."{table.name}" AS '
                              f'SELECT {columns} FROM public."{table.name}"')
            restore.append(f'INSERT INTO public."{table.name}" ({columns}) OVERRIDING SYSTEM '
                           f'VALUE SELECT {columns} FROM {self.SCHEMA}."{table.name}"')
        with self.db.engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
            values: dict[str, int] = {name: int(value) for name, value in conn.execute(text(
                "SELECT sequencename, last_value FROM pg_sequences "
                "WHERE schemaname = 'public' AND last_value IS NOT NULL")).all()}
        restore.append(self._setval(values))
        self.restore_sql = ";\n".join(restore)

    def restore(self) -> bool:
        """Refill the tables with the snapshot; False when there is none."""
        if self.restore_sql is None:
            return False
        with self.db.engine.begin() as conn:
            conn.exec_driver_sql(self.restore_sql)
        return True


class _Templates:
    """What every test starts from, built once per worker process: the empty schema and the
    seeded demo world (with the knowledge index built from it)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.world: DemoWorld | None = None
        self.index: Path | None = None
        self.pg: Database | None = None
        self.pg_tables: _PgTables | None = None
        self.empty_file: Path | None = None
        self.world_file: Path | None = None
        if PG_URL:
            self.pg = Database(PG_URL)
            with self.pg.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            Base.metadata.create_all(self.pg.engine)
            self.pg_tables = _PgTables(self.pg)
        else:
            self.empty_file = root / "empty.db"
            db = Database(f"sqlite:///{self.empty_file}")
            Base.metadata.create_all(db.engine)
            db.dispose()  # the last connection closed: the WAL is checkpointed into the file

    def _build_world(self, db: Database) -> None:
        with db.session() as session:
            self.world = seed_demo(session, now=START, options=WORLD_OPTIONS)
        # The index as the app builds it at start-up, under a data_dir of the templates'.
        data_dir = self.root / "world_data"
        knowledge_index(Settings(_env_file=None, database_url=db.url,  # type: ignore[call-arg]
                                 data_dir=data_dir), db)
        self.index = data_dir / "index" / "knowledge"

    def empty_database(self, path: Path) -> Database:
        if self.pg is not None:
            assert self.pg_tables is not None
            self.pg_tables.empty()
            return self.pg
        assert self.empty_file is not None
        shutil.copyfile(self.empty_file, path)
        return Database(f"sqlite:///{path}")

    def fill_with_world(self, db: Database) -> DemoWorld:
        """Replace db's content by the seeded world's."""
        if self.world is None:
            if self.pg is not None:
                assert self.pg_tables is not None
                self.pg_tables.empty()
                self._build_world(self.pg)
                self.pg_tables.snapshot()
            else:
                self.world_file = self.root / "world.db"
                shutil.copyfile(self.empty_file, self.world_file)  # type: ignore[arg-type]
                template = Database(f"sqlite:///{self.world_file}")
                self._build_world(template)
                template.dispose()
        if self.pg is not None:
            assert self.pg_tables is not None
            if not self.pg_tables.restore():
                self.pg_tables.empty()
                with db.session() as session:
                    return seed_demo(session, now=START, options=WORLD_OPTIONS)
        else:
            source = sqlite3.connect(self.world_file)  # type: ignore[arg-type]
            target = sqlite3.connect(db.engine.url.database)  # type: ignore[arg-type]
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
        assert self.world is not None
        return self.world

    def copy_index(self, data_dir: Path) -> None:
        """The world's knowledge index, built once, where the app looks for it (the app's
        start-up sync then brings it in step with whatever the test changed since)."""
        target = data_dir / "index" / "knowledge"
        if self.index is not None and not target.exists():
            shutil.copytree(self.index, target)

    def close(self) -> None:
        if self.pg is not None:
            self.pg.dispose()


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Templates]:
    templates = _Templates(tmp_path_factory.mktemp("templates"))
    yield templates
    templates.close()


@pytest.fixture
def database(tmp_path: Path, _templates: _Templates) -> Iterator[Database]:
    """A database with the full schema, empty, private to this test."""
    db = _templates.empty_database(tmp_path / "test.db")
    yield db
    if _templates.pg is None:
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
def world(database: Database, clock: ManualClock, _templates: _Templates) -> DemoWorld:
    """The demo world (small): organisation, companies, contacts and every area's data,
    seeded at START. Seeded once per worker and copied into this test's database: the
    DemoWorld returned is shared by the worker's tests (read it, do not change it)."""
    if clock.now() != START:  # a clock moved before the world was asked for: seed it here
        with database.session() as session:
            return seed_demo(session, now=clock.now(), options=WORLD_OPTIONS)
    return _templates.fill_with_world(database)


@pytest.fixture(scope="session")
def understanders() -> Understanders:
    """The understanders of this worker process: the intents are trained once, not per app."""
    return Understanders()


@pytest.fixture
def app(settings: Settings, database: Database, clock: ManualClock, world: DemoWorld,
        _templates: _Templates, understanders: Understanders) -> App:
    _templates.copy_index(settings.data_dir)
    return build_app(settings, clock=clock, db=database, upgrade=False,
                     understanders=understanders)


@pytest.fixture
def chat(app: App) -> CollectingChat:
    return CollectingChat(app.engine)
