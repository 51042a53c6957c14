"""Deterministic, realistic demo data (`sfa seed`, `sfa demo`); areas add their own parts."""

from __future__ import annotations

import random
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.demo import (
    configurator,
    coverage,
    documents,
    fieldday,
    fieldservice,
    knowledge,
    pipeline,
    quotes,
    scheduling,
)
from core.demo.base import seed_base
from core.demo.world import DemoWorld, SeedOptions
from core.models import User

__all__ = ["DemoWorld", "SeedOptions", "database_is_empty", "seed_demo"]

# Area seeders run after the base data, in this order; each defines seed(session, world).
AREA_SEEDERS = (coverage, pipeline, quotes, configurator, knowledge, scheduling, fieldservice,
                documents, fieldday)


def database_is_empty(session: Session) -> bool:
    return (session.scalar(select(func.count()).select_from(User)) or 0) == 0


def seed_demo(session: Session, *, now: datetime, options: SeedOptions | None = None) -> DemoWorld:
    """Fill an empty database with the demo organisation, customers and area data."""
    options = options or SeedOptions()
    world = DemoWorld(rng=random.Random(options.seed), now=now, options=options)
    seed_base(session, world)
    if options.areas:
        for area in AREA_SEEDERS:
            area.seed(session, world)
            session.flush()
    return world
