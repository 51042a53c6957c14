"""Demo data of this area: each field rep's day (a visit logged yesterday with its next step,
a meeting later this week), a promised delivery, deals won and lost in the last weeks and,
for the walkthrough rep, an open complaint, so `/reminders`, `/week`, `/complaints`, recent
reports and the scheduler's pushes show something on a fresh demo. Made through the same
core services as in chat where there is one; Sinar Jaya Abadi (the walkthrough customer) is
left untouched."""

from __future__ import annotations

import dataclasses
import random
from datetime import time, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.activities import log_activity
from core.complaints import register_complaint
from core.deliveries import schedule_delivery
from core.demo.pipeline import NEEDS, add_deal
from core.demo.world import DemoWorld
from core.followups import local_at, local_date
from core.models import Company, Contact, Stage, TerritoryRep, User

REPS = ("budi", "sari", "andi", "dewi", "rizky", "putri", "kevin")
VISIT_NOTES = ("Interested; wants a price for the upgrade", "Asked for the brochure and a demo",
               "Budget comes next quarter; call back", "Met the new purchasing head")
DELIVERIES = ("5 laptops and docking stations", "2 printers and toner",
              "Network switches for floor 2", "POS terminals, first batch")


def seed(session: Session, world: DemoWorld) -> None:
    """Give every field rep a visit with its next step, a meeting, a delivery; budi a
    complaint. Its own random stream, so the other seeders' data does not move."""
    if not world.options.day_plan:
        return
    rng = random.Random(world.options.seed * 7919 + 11)
    now = world.now
    walkthrough = world.companies[0].id if world.companies else None
    for login in REPS:
        rep = world.users.get(login)
        if rep is None:
            continue
        companies = _customers(session, world, rep, walkthrough)
        if not companies:
            continue
        rng.shuffle(companies)
        first, second, third = (companies * 3)[:3]
        today = local_date(rep.timezone, now)
        # Yesterday's visit; its next step is due later today (or tomorrow morning).
        due = local_at(rep.timezone, today, time(16, 0))
        if due <= now + timedelta(hours=1):
            due = local_at(rep.timezone, today + timedelta(days=1), time(10, 0))
        contact = _main_contact(session, first)
        log_activity(session, rep, company=first, contact=contact, kind="visit",
                     outcome="positive", notes=rng.choice(VISIT_NOTES),
                     now=now - timedelta(days=1), next_due=due, next_kind="follow_up",
                     next_note="Send the price for the upgrade")
        # A call two days ago that booked a meeting later this week.
        meeting = local_at(rep.timezone, today + timedelta(days=2), time(10, 30))
        log_activity(session, rep, company=second, contact=_main_contact(session, second),
                     kind="call", outcome="positive", notes="Booked a meeting",
                     now=now - timedelta(days=2), next_due=meeting, next_kind="meeting",
                     next_note="Meeting with the decision maker")
        schedule_delivery(session, rep, company_id=third.id, description=rng.choice(DELIVERIES),
                          when=local_at(rep.timezone, today + timedelta(days=3), time(9, 0)),
                          now=now, contact_id=(c.id if (c := _main_contact(session, third))
                                               else None))
        # Closed in the last weeks, so "won this month / quarter" reports have figures.
        recent = dataclasses.replace(world, rng=rng)
        for n, stage in enumerate((Stage.ORDER_PLACED, Stage.ORDER_PLACED, Stage.LOST)):
            add_deal(session, recent, rep, companies[(n + 3) % len(companies)], stage.value,
                  rng.choice(NEEDS), Decimal(rng.randrange(30, 300)) * Decimal("1000000"),
                  now - timedelta(days=rng.randint(32, 60)))
        if login == "budi":
            register_complaint(session, rep, company_id=second.id, severity="medium",
                               issue="Two laptops of the last delivery arrived without chargers",
                               now=now - timedelta(hours=3))
    session.flush()


def _customers(session: Session, world: DemoWorld, rep: User, walkthrough: int | None
               ) -> list[Company]:
    territories = set(session.scalars(select(TerritoryRep.territory_id).where(
        TerritoryRep.user_id == rep.id)))
    mine = [c for c in world.companies
            if c.territory_id in territories and c.id != walkthrough]
    owned = [c for c in mine if c.owner_id == rep.id]
    return owned if len(owned) >= 3 else mine


def _main_contact(session: Session, company: Company) -> Contact | None:
    return session.scalars(select(Contact).where(Contact.company_id == company.id)
                           .order_by(Contact.id).limit(1)).first()
