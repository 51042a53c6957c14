"""Engine and session factory: a SQLite file by default, any SQLAlchemy URL by env."""

from __future__ import annotations

import sqlite3
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.orm import Session, sessionmaker

# The only database file whose directory is created on first run (the README's default); any
# other SQLite path must name an existing directory, so a mistyped path stops with one line
# instead of starting an empty demo database somewhere unexpected.
DEFAULT_SQLITE_PATH = Path("var") / "sfa.db"
PG_CONNECT_TIMEOUT = 10  # seconds: a wrong or unroutable host fails instead of hanging


class DatabaseUnavailable(RuntimeError):
    """The configured database URL is malformed or the server cannot be reached."""


def mask_url(url: str | URL) -> str:
    """Return the URL as text with any password replaced by ***."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return "<unparseable database URL>"
    return parsed.render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Autocommit at the driver level; SQLAlchemy's "begin" hook below issues BEGIN IMMEDIATE,
    # so a read-then-write transaction never fails half-way with "database is locked".
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # Straight on the driver connection: exec_driver_sql's result machinery cost ~30 us a
    # transaction for a statement that returns nothing. A driver error (the busy timeout
    # ran out: "database is locked") is wrapped as SQLAlchemy wraps its own, so callers
    # that catch DBAPIError/OperationalError see it.
    try:
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise DBAPIError.instance("BEGIN IMMEDIATE", None, exc, sqlite3.Error) from exc


def _sqlite_directory(db_path: str, url: str) -> None:
    """Create the default database's directory; refuse any other missing directory."""
    parent = Path(db_path).parent
    if parent.is_dir():
        return
    if Path(db_path).resolve() == DEFAULT_SQLITE_PATH.resolve():
        parent.mkdir(parents=True, exist_ok=True)
        return
    what = "is not a directory" if parent.exists() else "does not exist"
    raise DatabaseUnavailable(
        f"Cannot use database {mask_url(url)}: the directory {parent} {what}")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL mode, foreign keys and immediate transactions.

    Raises DatabaseUnavailable (one line, password masked) for a malformed URL, an unknown
    driver or a SQLite file in a directory that does not exist (the default one excepted)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseUnavailable(f"Invalid database URL: {mask_url(url)}") from exc
    if parsed.get_backend_name() == "sqlite":
        db_path = parsed.database
        if db_path and db_path != ":memory:" and not db_path.startswith("file:"):
            _sqlite_directory(db_path, url)
        engine = create_engine(
            parsed, connect_args={"check_same_thread": False, "timeout": 10}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # A connection the server dropped (restart, outage) is noticed at checkout and replaced.
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    if parsed.get_backend_name() == "postgresql":
        connect_args = dict(kwargs.pop("connect_args", {}) or {})
        connect_args.setdefault("connect_timeout", PG_CONNECT_TIMEOUT)
        kwargs["connect_args"] = connect_args
    try:
        return create_engine(parsed, **kwargs)
    except NoSuchModuleError as exc:
        raise DatabaseUnavailable(
            f"Cannot use database {mask_url(url)}: unknown database driver "
            f"{parsed.drivername!r} (use sqlite:/// or postgresql+psycopg://)") from exc
    except ImportError as exc:
        raise DatabaseUnavailable(
            f"Cannot use database {mask_url(url)}: its driver is not installed "
            f"({exc.name or exc.__class__.__name__})") from exc
    except Exception as exc:
        raise DatabaseUnavailable(
            f"Cannot use database {mask_url(url)}: {exc.__class__.__name__}"
        ) from exc


def reason_of(exc: BaseException, url: str | URL | None = None) -> str:
    """A short, one-line reason for a database error (never the password)."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    reason = (lines[0] if lines else orig.__class__.__name__)[:200]
    try:
        password = (make_url(url) if isinstance(url, str) else url).password if url else None
    except ArgumentError:
        password = None
    if password:
        reason = reason.replace(str(password), "***")
    return reason


def startup_lock(conn: Any, name: str) -> None:
    """Run the rest of this transaction alone among the processes starting at once (schema
    upgrade, seeding an empty database): a transaction-level advisory lock on PostgreSQL;
    SQLite's BEGIN IMMEDIATE already serialises writers. `conn`: a Connection or Session."""
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    if bind.dialect.name == "postgresql":
        key = zlib.crc32(f"sfa-startup:{name}".encode()) & 0x7FFFFFFF
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


class Availability:
    """Whether the database answers, as this process last saw it (no query of its own): a
    lost or refused connection marks it down, the next commit marks it up. While down, new
    work is held back for an exponential delay (capped at 5 s), after which one attempt
    goes through and finds out. Doors use it to leave a message with the platform (a
    Telegram webhook answers 503 so Telegram redelivers) instead of answering it with an
    apology."""

    def __init__(self) -> None:
        self.failures = 0  # connection failures seen in this process (an epoch counter)
        self.down_since: float | None = None
        self._retry_at = 0.0
        self._step = 0

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def unavailable(self) -> bool:
        """True while the database is known down and the next probe is not due yet."""
        return self.down_since is not None and time.monotonic() < self._retry_at

    def failed(self) -> None:
        now = time.monotonic()
        self.failures += 1
        if self.down_since is None:
            self.down_since, self._step = now, 0
        self._retry_at = now + min(0.5 * 2 ** self._step, 5.0)
        self._step += 1

    def succeeded(self) -> None:
        if self.down_since is not None:
            self.down_since, self._step, self._retry_at = None, 0, 0.0

    def retry_in(self) -> float:
        """Seconds until the next probe is due (0 when the database is not known down)."""
        return max(0.0, self._retry_at - time.monotonic()) if self.down else 0.0


def _watch_availability(engine: Engine, availability: Availability) -> None:
    def on_error(context: Any) -> None:
        exc = context.sqlalchemy_exception
        if context.is_disconnect or (
                engine.dialect.name != "sqlite"
                and isinstance(exc, OperationalError | InterfaceError)
                and (context.connection is None or context.connection.invalidated
                     or context.is_disconnect)):
            availability.failed()

    def on_commit(_conn: Any) -> None:
        if availability.down_since is not None:
            availability.succeeded()

    event.listen(engine, "handle_error", on_error)
    event.listen(engine, "commit", on_commit)
    event.listen(engine, "engine_connect", lambda conn: on_commit(conn))


class KeptConnection:
    """Sessions on one connection kept open between their transactions, for a caller that
    runs one transaction at a time (the conversation engine's writer on SQLite, under its
    writer lock). The pool's checkout and return cost ~27 us of the ~65 us of an empty
    session transaction. The sessions come from the database's own sessionmaker (its
    listeners, e.g. the contact index's flush hook, see them); a connection found closed or
    invalidated is replaced. With `max_idle`, a connection unused that long goes back to
    the pool and a fresh checkout (pre-pinged on PostgreSQL) replaces it: a busy writer
    skips the ping, an idle one finds a server that went away before its next update."""

    def __init__(self, db: Database, *, max_idle: float | None = None) -> None:
        self.db = db
        self.max_idle = max_idle
        self._conn: Connection | None = None
        self._used = 0.0

    def session(self) -> Session:
        conn = self._conn
        now = time.monotonic()
        stale = self.max_idle is not None and now - self._used > self.max_idle
        if conn is None or conn.closed or conn.invalidated or stale:
            if conn is not None:
                conn.close()
            conn = self._conn = self.db.engine.connect()
        elif conn.in_transaction():  # left open by a failure: not this session's to join
            conn.rollback()
        self._used = now
        return self.db.sessionmaker(bind=conn)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Database:
    """An engine plus a session factory; `session()` is one transaction."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.availability = Availability()
        _watch_availability(self.engine, self.availability)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def startup_guard(self) -> Iterator[None]:
        """Start-up work (schema upgrade, seeding) by one process at a time: on a SQLite file
        a lock file beside it (processes started together would otherwise wait on SQLite's
        busy timeout while the first one seeds); PostgreSQL uses `startup_lock` in the
        transactions themselves."""
        path = self.engine.url.database if self.dialect == "sqlite" else None
        if not path or path == ":memory:" or path.startswith("file:"):
            yield
            return
        from filelock import FileLock

        with FileLock(f"{path}.startup.lock", timeout=600):
            yield

    def check(self) -> None:
        """Connect once; raise DatabaseUnavailable with the masked URL when that fails."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except (DBAPIError, OSError) as exc:
            raise DatabaseUnavailable(
                f"Cannot connect to database {mask_url(self.url)}: {reason_of(exc, self.url)}"
            ) from exc

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Open a session in one transaction: commit on success, roll back on error."""
        with self.sessionmaker() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
