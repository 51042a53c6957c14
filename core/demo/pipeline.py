"""Demo data of this area: deals in every stage with their history, so demos and reports
have a pipeline. Sinar Jaya Abadi (the walkthrough customer) is left without deals."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.demo.world import DemoWorld
from core.models import STAGE_SEQUENCE, Contact, Deal, DealStageChange, Stage, TerritoryRep

NEEDS = ("20 laptops for the new office", "Server refresh", "Network upgrade for 3 floors",
         "Printers and a service contract", "Backup and storage", "CCTV for the warehouse",
         "Point-of-sale terminals", "Wi-Fi for the guest rooms")
# Stages per rep, in the order their deals are made (budi has the fewest open leads).
PLAN: dict[str, tuple[str, ...]] = {
    "budi": ("lead_allocated", "qualified", "solution", "order_placed", "lost"),
    "sari": ("opportunity", "lead_allocated", "contacted", "qualified", "solution",
             "order_placed", "lost"),
    "andi": ("contacted", "qualified", "solution", "order_placed"),
    "dewi": ("lead_allocated", "contacted", "solution", "order_placed", "lost"),
    "rizky": ("contacted", "qualified", "order_placed"),
    "putri": ("lead_allocated", "qualified", "solution"),
    "kevin": ("contacted", "solution", "lost"),
}
LOST = ("price", "competitor", "no_budget", "timing")


def seed(session: Session, world: DemoWorld) -> None:
    """Add deals (with stage history and the facts their gates need) for every rep."""
    rng, now = world.rng, world.now
    walkthrough = world.companies[0].id if world.companies else None
    for login, stages in PLAN.items():
        rep = world.users.get(login)
        if rep is None:
            continue
        territories = set(session.scalars(select(TerritoryRep.territory_id).where(
            TerritoryRep.user_id == rep.id)))
        companies = [c for c in world.companies
                     if c.territory_id in territories and c.id != walkthrough]
        if not companies:
            continue
        for n, stage in enumerate(stages):
            company = companies[n % len(companies)]
            # closed deals closed before this quarter (reports of "this quarter" start
            # empty); open ones started in the last months
            closed = stage in (Stage.ORDER_PLACED.value, Stage.LOST.value)
            age = rng.randint(150, 300) if closed else rng.randint(20, 120)
            add_deal(session, world, rep, company, stage, rng.choice(NEEDS),
                  Decimal(rng.randrange(20, 400)) * Decimal("1000000"),
                  now - timedelta(days=age))
    session.flush()


def add_deal(session: Session, world: DemoWorld, rep, company, stage: str, need: str,
             amount: Decimal, created) -> Deal:
    """A demo deal at `stage` with the stage history and the facts its gates need."""
    rng = world.rng
    lost = stage == Stage.LOST.value
    # a lost deal died at some open stage
    reached = (STAGE_SEQUENCE[rng.randint(1, 3)].value if lost else stage)
    order = [s.value for s in STAGE_SEQUENCE]
    path = order[: order.index(reached) + 1]
    contact = session.scalar(select(Contact).where(Contact.company_id == company.id)
                             .order_by(Contact.is_decision_maker.desc(), Contact.id).limit(1))
    facts: dict = {"need": need}
    if Stage.QUALIFIED.value in path:
        facts.update(budget=f"IDR {int(amount / 1_000_000) + 50} million",
                     timeline=rng.choice(["Q2", "Q3", "before Lebaran", "next month"]))
        if contact is not None:
            facts["decision_maker_contact_id"] = contact.id
    if Stage.SOLUTION.value in path:
        facts["solution"] = need
    if Stage.ORDER_PLACED.value in path:
        facts["order_ref"] = f"PO-{rng.randint(10000, 99999)}"
    step = timedelta(days=rng.randint(2, 6))
    at = created
    deal = Deal(title=f"{company.name}: {need}"[:200], company_id=company.id,
                contact_id=contact.id if contact else None,
                owner_id=None if reached == Stage.OPPORTUNITY.value else rep.id,
                team_id=rep.team_id, territory_id=company.territory_id, stage=stage,
                amount=amount, currency="IDR", source=rng.choice(
                    ["website", "referral", "event", "cold_call"]),
                need=need, facts=facts, created_at=created, updated_at=created)
    session.add(deal)
    session.flush()
    previous = None
    for s in path:
        session.add(DealStageChange(deal_id=deal.id, user_id=rep.id, from_stage=previous,
                                    to_stage=s, at=at))
        if s == Stage.LEAD_ALLOCATED.value:
            deal.allocated_at = at
            deal.contact_by = at + timedelta(days=1)
        previous, at = s, at + step
    if lost:
        reason = rng.choice(LOST)
        session.add(DealStageChange(deal_id=deal.id, user_id=rep.id, from_stage=previous,
                                    to_stage=Stage.LOST.value, reason=reason, at=at))
        deal.lost_reason, deal.closed_at = reason, at
    elif stage == Stage.ORDER_PLACED.value:
        deal.closed_at = at - step
    deal.updated_at = min(at, world.now)
    if stage in (Stage.LEAD_ALLOCATED.value,):
        # a fresh lead: allocated yesterday, to be contacted today
        deal.allocated_at = world.now - timedelta(days=1)
        deal.contact_by = world.now + timedelta(days=2)
    return deal
