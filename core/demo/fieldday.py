"""Demo data of the field day: every customer's head office becomes a site with its
coordinates (the base seed places companies in their city), and about one customer in four
gets a delivery site a few kilometres away (its industrial estate). Its own random stream, so
no other seeder's data moves."""

from __future__ import annotations

import math
import random

from sqlalchemy import update
from sqlalchemy.orm import Session

from core.demo.world import DemoWorld
from core.models.fieldservice import ServiceJob
from core.sites import put_site

# The base seed scatters customers in a box around each city centre; on the coast part of
# that box is sea. Points past the coastline (a straight line near the centre: good enough
# for a demo) are mirrored back onto land.
COASTS: dict[str, tuple[str, float]] = {
    "Jakarta": ("lat_max", -6.125),  # Jakarta Bay to the north
    "Surabaya": ("lat_max", -7.215),  # the Madura Strait to the north
    "Semarang": ("lat_max", -6.965),  # the Java Sea to the north
    "Makassar": ("lon_min", 119.415),  # the Makassar Strait to the west
}


def on_land(city: str | None, lat: float, lon: float) -> tuple[float, float]:
    """The point, mirrored across the city's coastline when it lies in the sea."""
    rule = COASTS.get(city or "")
    if rule is None:
        return lat, lon
    side, limit = rule
    if side == "lat_max" and lat > limit:
        return 2 * limit - lat, lon
    if side == "lon_min" and lon < limit:
        return lat, 2 * limit - lon
    return lat, lon


def seed(session: Session, world: DemoWorld) -> None:
    """Sites for every demo customer that has coordinates (moved onto land first)."""
    rng = random.Random(world.options.seed * 24 + 5)
    for company in world.companies:
        if company.lat is None or company.lon is None:
            continue
        lat, lon = on_land(company.city, company.lat, company.lon)
        if (lat, lon) != (company.lat, company.lon):  # jobs took the old point as their site
            session.execute(update(ServiceJob).where(
                ServiceJob.company_id == company.id, ServiceJob.site_lat == company.lat,
                ServiceJob.site_lon == company.lon).values(site_lat=lat, site_lon=lon))
            company.lat, company.lon = lat, lon
        put_site(session, company, company.lat, company.lon, now=company.updated_at,
                 source="demo", address=company.head_office_address)
        if rng.random() < 0.25 and company.delivery_address:
            km, bearing = rng.uniform(2.0, 6.0), rng.uniform(0, 2 * math.pi)
            dlat = km / 111.32 * math.cos(bearing)
            dlon = km / (111.32 * math.cos(math.radians(company.lat))) * math.sin(bearing)
            put_site(session, company, *on_land(company.city, company.lat + dlat,
                                                company.lon + dlon),
                     now=company.updated_at, source="demo", kind="delivery",
                     address=company.delivery_address)
