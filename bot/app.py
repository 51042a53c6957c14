"""Composition root: settings, database, indexes, registry, engine (and later the doors)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.conversations.engine import Engine, Services
from bot.conversations.registry import Registry, build_registry
from core import migrate
from core.clock import SystemClock
from core.db import Database
from core.demo import SeedOptions, database_is_empty, seed_demo
from core.ports import Clock
from core.settings import Settings, get_settings


@dataclass
class App:
    settings: Settings
    db: Database
    clock: Clock
    registry: Registry
    engine: Engine
    services: Services
    # Factories of per-door tick hooks (the scheduler's sweeps run by `@advance` / idle).
    tick_hooks: list[Any] = field(default_factory=list)


def knowledge_index(settings: Settings, db: Database) -> Any | None:
    """Build the knowledge search index for this process (the knowledge area wires it)."""
    return None


def contact_index(settings: Settings, db: Database) -> Any | None:
    """Build the in-memory contact lookup index (the contacts area wires it)."""
    return None


def build_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    db: Database | None = None,
    upgrade: bool = True,
    seed_if_empty: bool = False,
) -> App:
    """Wire everything; migrate the schema and seed demo data when asked."""
    settings = settings or get_settings()
    clock = clock or SystemClock()
    db = db or Database(settings.resolved_database_url())
    db.check()
    if upgrade:
        migrate.upgrade(db.engine)
    if seed_if_empty:
        with db.session() as session:
            if database_is_empty(session):
                seed_demo(session, now=clock.now(), options=SeedOptions())
    services = Services(settings=settings)
    services.knowledge = knowledge_index(settings, db)
    services.contacts = contact_index(settings, db)
    registry = build_registry()
    engine = Engine(db, registry, settings=settings, clock=clock, services=services)
    return App(settings=settings, db=db, clock=clock, registry=registry, engine=engine,
               services=services)
