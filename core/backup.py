"""Backups: SQLite through its online backup API; PostgreSQL through pg_dump/pg_restore."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from core.errors import DomainError


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


def _pg_dsn(url: str) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def backup(url: str, dest: Path) -> Path:
    """Write a consistent copy of the database to `dest` while the bot keeps running."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    path = _sqlite_path(url)
    if path is not None:
        if not path.exists():
            raise DomainError("backup.no_database", path=str(path))
        with sqlite3.connect(path) as src, sqlite3.connect(dest) as dst:
            src.backup(dst)
        return dest
    if shutil.which("pg_dump") is None:
        raise DomainError("backup.pg_dump_missing")
    subprocess.run(["pg_dump", "--format=custom", "--no-owner", f"--file={dest}",
                    _pg_dsn(url)], check=True, capture_output=True, timeout=3600)
    return dest


def restore(url: str, source: Path) -> None:
    """Replace the database's contents with the backup in `source`."""
    if not source.is_file():
        raise DomainError("backup.no_file", path=str(source))
    path = _sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(source) as src:
            src.execute("PRAGMA quick_check")
            with sqlite3.connect(path) as dst:
                src.backup(dst)
        return
    if shutil.which("pg_restore") is None:
        raise DomainError("backup.pg_dump_missing")
    subprocess.run(["pg_restore", "--clean", "--if-exists", "--no-owner",
                    f"--dbname={_pg_dsn(url)}", str(source)],
                   check=True, capture_output=True, timeout=3600)
