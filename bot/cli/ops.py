"""`sfa` commands of the ops area: `sfa health` (what /healthz reports, from the shell)."""

from __future__ import annotations

import json

import click


def register(main: click.Group) -> None:
    """Add `sfa health`."""

    @main.command("health")
    def health_command() -> None:
        """Check the database and the migrations (exit 1 when not healthy)."""
        from bot.observability import HealthCheck
        from core.db import Database
        from core.settings import Settings

        db = Database(Settings().resolved_database_url())
        try:
            ok, checks = HealthCheck(db).run()
        finally:
            db.dispose()
        click.echo(json.dumps({"status": "ok" if ok else "fail", **checks}))
        if not ok:
            raise SystemExit(1)
