"""The migrations build exactly the schema the models describe, from empty."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from core import migrate
from core.db import Database
from core.models import Base

PG_URL = os.environ.get("SFA_TEST_DATABASE_URL")


def _check(db: Database) -> None:
    migrate.upgrade(db.engine)
    assert migrate.is_current(db.engine)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
    migrate.upgrade(db.engine)  # idempotent


def test_upgrade_from_empty_sqlite(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    assert not migrate.is_current(db.engine)
    _check(db)


@pytest.mark.postgres_only
def test_upgrade_from_empty_postgres() -> None:
    assert PG_URL
    admin = Database(PG_URL)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS migration_check CASCADE"))
        conn.execute(text("CREATE SCHEMA migration_check"))
    admin.dispose()
    db = Database(PG_URL, connect_args={"options": "-csearch_path=migration_check"})
    try:
        _check(db)
    finally:
        db.dispose()
        admin = Database(PG_URL)
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS migration_check CASCADE"))
        admin.dispose()
