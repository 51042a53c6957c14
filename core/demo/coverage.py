"""Demo data of territories by industry: Surabaya's manufacturers and logistics firms form
their own territory (same team and reps), so territories show what they cover and new
accounts there are matched by region and industry. Runs before the deals are made, so the
deals of those accounts carry the new territory; it draws nothing from the world's random
generator (the rest of the demo stays as it was)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.demo.world import DemoWorld
from core.models import Territory, TerritoryRep
from core.models.coverage import TerritoryIndustry

# name, region it splits, industries it takes over
INDUSTRY_TERRITORIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Surabaya Industrial", "Surabaya", ("Manufacturing", "Logistics")),
)


def seed(session: Session, world: DemoWorld) -> None:
    """Add the industry territories and move their region's matching accounts to them."""
    for name, region, industries in INDUSTRY_TERRITORIES:
        general = next((t for t in world.territories if t.region == region), None)
        if general is None:
            continue
        territory = Territory(name=name, region=region, industry=industries[0],
                              team_id=general.team_id)
        session.add(territory)
        session.flush()
        world.territories.append(territory)
        for industry in industries:
            session.add(TerritoryIndustry(territory_id=territory.id, industry=industry))
        for user_id in session.scalars(select(TerritoryRep.user_id).where(
                TerritoryRep.territory_id == general.id)):
            session.add(TerritoryRep(territory_id=territory.id, user_id=user_id))
        wanted = {i.lower() for i in industries}
        for company in world.companies:
            if (company.territory_id == general.id and company.industry
                    and company.industry.lower() in wanted):
                company.territory_id = territory.id
    session.flush()
