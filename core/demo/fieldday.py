"""Demo data of the field day: every customer's head office becomes a site with its
coordinates (the base seed places companies in their city), and about one customer in four
gets a delivery site a few kilometres away (its industrial estate). Its own random stream, so
no other seeder's data moves."""

from __future__ import annotations

import math
import random

from sqlalchemy.orm import Session

from core.demo import DemoWorld
from core.sites import put_site


def seed(session: Session, world: DemoWorld) -> None:
    """Sites for every demo customer that has coordinates."""
    rng = random.Random(world.options.seed * 24 + 5)
    for company in world.companies:
        if company.lat is None or company.lon is None:
            continue
        put_site(session, company, company.lat, company.lon, now=company.updated_at,
                 source="demo", address=company.head_office_address)
        if rng.random() < 0.25 and company.delivery_address:
            km, bearing = rng.uniform(2.0, 6.0), rng.uniform(0, 2 * math.pi)
            dlat = km / 111.32 * math.cos(bearing)
            dlon = km / (111.32 * math.cos(math.radians(company.lat))) * math.sin(bearing)
            put_site(session, company, company.lat + dlat, company.lon + dlon,
                     now=company.updated_at, source="demo", kind="delivery",
                     address=company.delivery_address)
