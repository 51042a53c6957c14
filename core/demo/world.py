"""What a demo seed is asked for (SeedOptions) and what the base seed made (DemoWorld)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

from core.models import Company, Contact, Team, Territory, User


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
