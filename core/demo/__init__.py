"""Deterministic, realistic demo data (`sfa seed`, `sfa demo`); areas add their own parts."""

from __future__ import annotations

import importlib
import random
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import Company, Contact, Team, Territory, User

# Area seeders run after the base data, in this order; each defines seed(session, world).
AREA_SEEDERS: tuple[str, ...] = (
    "core.demo.coverage",
    "core.demo.pipeline",
    "core.demo.quotes",
    "core.demo.configurator",
    "core.demo.knowledge",
    "core.demo.scheduling",
    "core.demo.fieldservice",
    "core.demo.documents",
    "core.demo.fieldday",
)


@dataclass
class SeedOptions:
    companies: int = 120
    contacts: int = 360
    seed: int = 42
    areas: bool = True  # also run the area seeders (deals, products, documents, jobs)
    # the reps' day (follow-ups, a meeting, deliveries, a complaint); tests that count
    # those records start without it
    day_plan: bool = True


@dataclass
class DemoWorld:
    """What the base seed created, for the area seeders to build on."""

    rng: random.Random
    now: datetime
    options: SeedOptions
    users: dict[str, User] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    territories: list[Territory] = field(default_factory=list)
    companies: list[Company] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)


def database_is_empty(session: Session) -> bool:
    return (session.scalar(select(func.count()).select_from(User)) or 0) == 0


def seed_demo(session: Session, *, now: datetime, options: SeedOptions | None = None) -> DemoWorld:
    """Fill an empty database with the demo organisation, customers and area data."""
    from core.demo.base import seed_base

    options = options or SeedOptions()
    world = DemoWorld(rng=random.Random(options.seed), now=now, options=options)
    seed_base(session, world)
    if options.areas:
        for name in AREA_SEEDERS:
            module = importlib.import_module(name)
            module.seed(session, world)
            session.flush()
    return world
