"""Apply and inspect the Alembic schema history (`sfa db upgrade`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from core.db import startup_lock

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    """Return an Alembic config for the project's migrations against `url`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["url"] = url
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema up to every head of the history."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        startup_lock(conn, "migrate")  # processes starting together upgrade one at a time
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")


def current_heads(engine: Engine) -> set[str]:
    """Return the revisions the database is at."""
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def expected_heads() -> set[str]:
    """Return the head revisions of the migration scripts."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return set(script.get_heads())


def is_current(engine: Engine) -> bool:
    """True when the database has every migration applied."""
    return current_heads(engine) == expected_heads()
