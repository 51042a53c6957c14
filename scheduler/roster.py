"""How many scheduler processes are alive right now, from PostgreSQL: they share each
platform's overall send budget (Telegram allows about 30 messages/s per bot in all, however
many processes send).

Each scheduler takes one session-level advisory lock out of a small key space and holds it
on a connection of its own for as long as it runs; the number of those locks granted is the
number of live schedulers, and each paces itself at the limit divided by that number. A
process that dies loses its connection and with it the lock (no table, no heartbeat rows to
expire). The key space is per database schema, so separate deployments (or test schemas) in
one database do not count each other.
"""

from __future__ import annotations

import logging
import zlib
from typing import Any

from sqlalchemy import text

from core.db import Database

log = logging.getLogger(__name__)

SLOTS = 256  # at most this many schedulers are counted


class SchedulerRoster:
    """One scheduler's place in the roster of live schedulers (PostgreSQL only)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.slot: int | None = None
        self._conn: Any = None
        self._key: int | None = None

    def _class_key(self, conn: Any) -> int:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        return zlib.crc32(f"sfa-scheduler-roster:{schema}".encode()) & 0x7FFFFFFF

    def join(self) -> int | None:
        """Take a free slot (None when all are taken: this process then counts as one more
        without a slot, see live())."""
        conn = self.db.engine.connect()
        try:
            self._key = self._class_key(conn)
            for slot in range(SLOTS):
                got = conn.execute(text("SELECT pg_try_advisory_lock(:k, :s)"),
                                   {"k": self._key, "s": slot}).scalar_one()
                if got:
                    self.slot = slot
                    break
            conn.commit()  # a session-level lock outlives the transaction
        except Exception:
            conn.close()
            raise
        self._conn = conn
        return self.slot

    @property
    def joined(self) -> bool:
        return self._conn is not None

    def live(self) -> int:
        """The number of live schedulers (this one included), at least 1. A failure (the
        database went away) drops this process's connection, and with it its place: the
        next call joins again, on a fresh connection (the old one would only ever answer
        PendingRollbackError)."""
        if self._conn is None:
            self.join()
        if self._conn is None or self._key is None:
            return 1
        try:
            count = self._conn.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = :k AND objsubid = 2 "
                "AND database = (SELECT oid FROM pg_database WHERE datname = "
                "current_database())"), {"k": self._key}).scalar_one()
            self._conn.commit()
        except Exception:
            self._drop()
            raise
        return max(1, int(count) + (0 if self.slot is not None else 1))

    def _drop(self) -> None:
        conn, self._conn, self.slot = self._conn, None, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception as exc:  # already broken: nothing more to give back
                log.debug("roster connection dropped: %s", exc.__class__.__name__)

    def leave(self) -> None:
        """Give the slot back (a clean shutdown); closing the connection would do it too."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if self.slot is not None:
                conn.execute(text("SELECT pg_advisory_unlock(:k, :s)"),
                             {"k": self._key, "s": self.slot})
                conn.commit()
        finally:
            # Not back to the pool: a pooled connection would keep a lock the unlock missed.
            conn.invalidate()
            conn.close()
            self.slot = None
