"""The guided sales process: stages, entry requirements (gates) as data, moves, Lost,
history, the weighted pipeline and optimistic concurrency on Deal.version.

Gates read `Deal.facts` (see docs/DEVELOPING.md "Deal facts"). An admin may override a
stage's requirement list and win probability (core.models.pipeline.StageRule); without an
override the defaults below apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from core.errors import Conflict, DomainError, Forbidden, NotFound
from core.models import (
    OPEN_STAGES,
    STAGE_SEQUENCE,
    Activity,
    ApprovalRequest,
    Company,
    Contact,
    Deal,
    DealStageChange,
    FollowUp,
    Role,
    Stage,
    Team,
    Territory,
    User,
)
from core.models.pipeline import StageRule
from core.scope import deal_visible

# -- requirements ---------------------------------------------------------------------------
OWNER = "owner"
ACTIVITY = "activity"
BUDGET = "budget"
NEED = "need"
TIMELINE = "timeline"
DECISION_MAKER = "decision_maker"
SOLUTION = "solution"  # a configured solution or a quote
ORDER = "order"  # an accepted quote or an order reference
APPROVAL = "approval"  # management approval when the amount is above the team threshold

REQUIREMENTS: tuple[str, ...] = (OWNER, ACTIVITY, BUDGET, NEED, TIMELINE, DECISION_MAKER,
                                 SOLUTION, ORDER, APPROVAL)
# Requirements answered with a typed text (stored in facts under the same key).
TEXT_FACTS = (BUDGET, NEED, TIMELINE)

DEFAULT_RULES: dict[str, tuple[tuple[str, ...], int]] = {
    Stage.OPPORTUNITY.value: ((), 5),
    Stage.LEAD_ALLOCATED.value: ((OWNER,), 10),
    Stage.CONTACTED.value: ((ACTIVITY,), 20),
    Stage.QUALIFIED.value: ((BUDGET, DECISION_MAKER, NEED, TIMELINE), 40),
    Stage.SOLUTION.value: ((SOLUTION,), 60),
    Stage.ORDER_PLACED.value: ((ORDER, APPROVAL), 100),
    Stage.LOST.value: ((), 0),
}
LOST_REASONS: tuple[str, ...] = ("price", "competitor", "no_budget", "no_decision", "timing",
                                 "no_response")
MAX_TEXT = 500

# What fits after reaching a stage (follow-up kinds; the bot words them).
NEXT_STEPS: dict[str, tuple[str, ...]] = {
    Stage.OPPORTUNITY.value: ("follow_up",),
    Stage.LEAD_ALLOCATED.value: ("call", "meeting", "follow_up"),
    Stage.CONTACTED.value: ("meeting", "presentation", "demo"),
    Stage.QUALIFIED.value: ("configure", "proposal", "demo"),
    Stage.SOLUTION.value: ("contract", "approval", "documents"),
    Stage.ORDER_PLACED.value: ("documents", "follow_up"),
}


def stage_index(stage: str) -> int:
    values = [s.value for s in STAGE_SEQUENCE]
    if stage not in values:
        raise DomainError("deal.bad_stage", stage=stage)
    return values.index(stage)


def parse_stage(text: str) -> str:
    """A stage value from its value or a loose name ("qualified", "order placed")."""
    raw = (text or "").strip().lower().replace(" ", "_").replace("-", "_")
    aliases = {"opportunity_generated": "opportunity", "allocated": "lead_allocated",
               "prospect_contacted": "contacted", "prospect_qualified": "qualified",
               "solution_identified": "solution", "order": "order_placed", "won": "order_placed"}
    raw = aliases.get(raw, raw)
    if raw not in {s.value for s in Stage}:
        raise DomainError("deal.bad_stage", stage=text)
    return raw


def rules(session: Session) -> dict[str, tuple[tuple[str, ...], int]]:
    """Stage -> (requirements, probability %), overrides applied."""
    merged = dict(DEFAULT_RULES)
    for row in session.scalars(select(StageRule)):
        reqs, prob = merged.get(row.stage, ((), 0))
        merged[row.stage] = (tuple(row.requirements) if row.requirements is not None else reqs,
                             row.probability if row.probability is not None else prob)
    return merged


def set_stage_rule(session: Session, user: User, stage: str, *, now: datetime,
                   requirements: list[str] | None = None, probability: int | None = None
                   ) -> StageRule:
    """Admin: change a stage's entry requirements and/or its win probability."""
    if user.role != Role.ADMIN.value:
        raise Forbidden("deal.admin_only")
    stage = parse_stage(stage)
    if requirements is not None:
        unknown = [r for r in requirements if r not in REQUIREMENTS]
        if unknown:
            raise DomainError("deal.bad_requirement", requirement=", ".join(unknown),
                              known=", ".join(REQUIREMENTS))
    if probability is not None and not 0 <= probability <= 100:
        raise DomainError("deal.bad_probability", value=probability)
    row = session.get(StageRule, stage)
    if row is None:
        row = StageRule(stage=stage, requirements=list(DEFAULT_RULES[stage][0]),
                        probability=None, updated_at=now)
        session.add(row)
    if requirements is not None:
        row.requirements = list(dict.fromkeys(requirements))
    if probability is not None:
        row.probability = probability
    row.updated_by_id = user.id
    row.updated_at = now
    session.flush()
    return row


def team_of(session: Session, deal: Deal) -> Team | None:
    if deal.team_id is not None:
        return session.get(Team, deal.team_id)
    if deal.owner_id is not None:
        owner = session.get(User, deal.owner_id)
        if owner is not None and owner.team_id is not None:
            return session.get(Team, owner.team_id)
    return None


def needs_approval(session: Session, deal: Deal) -> bool:
    team = team_of(session, deal)
    return team is not None and Decimal(deal.amount or 0) > Decimal(team.approval_threshold)


def approval_state(session: Session, deal: Deal) -> str | None:
    """None when no contract approval exists; else pending / approved / rejected."""
    request = session.scalar(select(ApprovalRequest).where(
        ApprovalRequest.kind == "contract", ApprovalRequest.ref_id == deal.id)
        .order_by(ApprovalRequest.id.desc()).limit(1))
    return request.status if request is not None else None


def requirement_met(session: Session, deal: Deal, requirement: str) -> bool:
    """True when `deal` satisfies one requirement."""
    facts = deal.facts or {}
    if requirement == OWNER:
        return deal.owner_id is not None
    if requirement == ACTIVITY:
        since = deal.allocated_at or deal.created_at
        found = session.scalar(select(Activity.id).where(
            or_(Activity.deal_id == deal.id,
                (Activity.company_id == deal.company_id) & (Activity.occurred_at >= since)))
            .limit(1))
        return found is not None
    if requirement in TEXT_FACTS:
        return bool(str(facts.get(requirement) or "").strip())
    if requirement == DECISION_MAKER:
        cid = facts.get("decision_maker_contact_id")
        if not isinstance(cid, int):
            return False
        contact = session.get(Contact, cid)
        return contact is not None and contact.company_id == deal.company_id
    if requirement == SOLUTION:
        return bool(facts.get("quote_id")) or bool(str(facts.get("solution") or "").strip())
    if requirement == ORDER:
        return bool(facts.get("accepted_quote_id")) or bool(
            str(facts.get("order_ref") or "").strip())
    if requirement == APPROVAL:
        if not needs_approval(session, deal):
            return True
        aid = facts.get("contract_approval_id")
        request = session.get(ApprovalRequest, aid) if isinstance(aid, int) else None
        return (request is not None and request.kind == "contract"
                and request.ref_id == deal.id and request.status == "approved")
    raise DomainError("deal.bad_requirement", requirement=requirement,
                      known=", ".join(REQUIREMENTS))


def missing_for(session: Session, deal: Deal, to_stage: str) -> list[tuple[str, str]]:
    """(stage, requirement) pairs not met on the way from the deal's stage to `to_stage`,
    in order: the gates of every stage passed, the target's last."""
    current, target = stage_index(deal.stage), stage_index(to_stage)
    table = rules(session)
    missing: list[tuple[str, str]] = []
    for stage in STAGE_SEQUENCE[current + 1: target + 1]:
        for req in table[stage.value][0]:
            if not requirement_met(session, deal, req):
                missing.append((stage.value, req))
    return missing


def probability(session: Session, stage: str) -> int:
    return rules(session).get(stage, ((), 0))[1]


# -- reading --------------------------------------------------------------------------------
def get_deal(session: Session, user: User, deal_id: int | str, *, lock: bool = False) -> Deal:
    """The deal if the user may see it (else NotFound, never "forbidden")."""
    try:
        did = int(deal_id)
    except (TypeError, ValueError):
        raise NotFound("deal.not_found", ref=str(deal_id)[:20]) from None
    query = select(Deal).where(Deal.id == did, deal_visible(session, user))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    deal = session.scalar(query)
    if deal is None:
        raise NotFound("deal.not_found", ref=str(deal_id)[:20])
    return deal


FUZZY_DEAL_CUTOFF = 75
FUZZY_DEAL_SCAN = 5_000  # deals read for a fuzzy match (a rep sees a few dozen)
_NOISE_WORDS = frozenset({"pt", "cv", "tbk", "for", "untuk", "the", "deal"})


def find_deals(session: Session, user: User, text: str = "", *, open_only: bool = True,
               region: str | None = None, limit: int = 10, open_first: bool = False
               ) -> list[Deal]:
    """Deals the user may see whose title or company matches `text` (all when empty).

    Every word must appear in the title or the company name; when no deal has them all, the
    words are matched fuzzily (typos, word order, missing letters: "samudar mulya").
    """
    base = (select(Deal).join(Company, Company.id == Deal.company_id)
            .where(deal_visible(session, user)))
    if open_only:
        base = base.where(Deal.stage.in_([s.value for s in OPEN_STAGES]))
    if region:
        base = base.join(Territory, Territory.id == Deal.territory_id).where(
            func.lower(Territory.region) == region.lower())
    order: list[Any] = [Deal.updated_at.desc(), Deal.id.desc()]
    if open_first:
        order.insert(0, Deal.stage.in_([Stage.ORDER_PLACED.value, Stage.LOST.value]))
    words = [w for w in (text or "").lower().replace(",", " ").split()
             if w not in _NOISE_WORDS][:5]
    query = base
    for word in words:
        like = f"%{word}%"
        query = query.where(or_(func.lower(Deal.title).like(like),
                                func.lower(Company.name).like(like)))
    found = list(session.scalars(query.order_by(*order).limit(limit)))
    if found or not words:
        return found
    return _fuzzy_deals(session, base, " ".join(words), limit)


def _fuzzy_deals(session: Session, base: Any, text: str, limit: int) -> list[Deal]:
    """The visible deals whose "company title" is closest to `text`, best first."""
    from rapidfuzz import fuzz, process

    from core.contact_records import normalise

    rows = session.execute(base.with_only_columns(Deal.id, Company.name, Deal.title)
                           .order_by(Deal.updated_at.desc()).limit(FUZZY_DEAL_SCAN)).all()
    if not rows:
        return []
    choices = {r[0]: " ".join(normalise(f"{r[1]} {r[2]}")) for r in rows}
    best = process.extract(" ".join(normalise(text)), choices, scorer=fuzz.WRatio,
                           score_cutoff=FUZZY_DEAL_CUTOFF, limit=limit)
    if not best:
        return []
    top = best[0][1]
    ids = [deal_id for _label, score, deal_id in best if score >= top - 10]
    deals = {d.id: d for d in session.scalars(select(Deal).where(Deal.id.in_(ids)))}
    return [deals[i] for i in ids if i in deals]


def history(session: Session, deal: Deal) -> list[DealStageChange]:
    return list(session.scalars(select(DealStageChange).where(
        DealStageChange.deal_id == deal.id).order_by(DealStageChange.at, DealStageChange.id)))


def last_changer(session: Session, deal: Deal) -> str:
    change = session.scalar(select(DealStageChange).where(DealStageChange.deal_id == deal.id)
                            .order_by(DealStageChange.id.desc()).limit(1))
    user = session.get(User, change.user_id) if change and change.user_id else None
    return user.name if user is not None else "?"


# -- moves ----------------------------------------------------------------------------------
def _load_for_change(session: Session, deal_or_id: Deal | int, user: User,
                     expected_version: int | None) -> Deal:
    if isinstance(deal_or_id, Deal):
        session.flush()  # keep the caller's pending changes (e.g. new facts)
        deal = deal_or_id
        session.refresh(deal, with_for_update=True)
        if user.role != Role.ADMIN.value and session.scalar(
                select(Deal.id).where(Deal.id == deal.id, deal_visible(session, user))) is None:
            raise NotFound("deal.not_found", ref=str(deal.id))
    else:
        deal = get_deal(session, user, deal_or_id, lock=True)
    if expected_version is not None and deal.version != expected_version:
        raise Conflict("deal.changed", by=last_changer(session, deal), deal=deal.title)
    return deal


def _check_facts(session: Session, deal: Deal, facts: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for key, value in facts.items():
        if key in TEXT_FACTS or key in ("solution", "order_ref"):
            text = str(value or "").strip()
            if not text:
                raise DomainError("deal.empty_answer")
            if len(text) > MAX_TEXT:
                raise DomainError("deal.answer_too_long", limit=MAX_TEXT)
            clean[key] = text
        elif key == "decision_maker_contact_id":
            contact = session.get(Contact, int(value))
            if contact is None or contact.company_id != deal.company_id:
                raise DomainError("deal.contact_not_of_company")
            clean[key] = contact.id
        else:
            clean[key] = value
    return clean


def _save(session: Session, deal: Deal) -> None:
    try:
        session.flush()
    except StaleDataError:
        raise Conflict("deal.changed", by="?", deal=deal.title) from None


def record_facts(session: Session, deal_or_id: Deal | int, user: User, facts: dict[str, Any],
                 now: datetime, expected_version: int | None = None) -> Deal:
    """Store gate answers on the deal (each value checked), under the row lock."""
    deal = _load_for_change(session, deal_or_id, user, expected_version)
    deal.facts = {**(deal.facts or {}), **_check_facts(session, deal, facts)}
    deal.updated_at = now
    _save(session, deal)
    return deal


def advance_deal(session: Session, deal_or_id: Deal | int, to_stage: str | Stage, user: User,
                 now: datetime, reason: str | None = None, expected_version: int | None = None,
                 facts: dict[str, Any] | None = None) -> DealStageChange:
    """Move a deal forward to `to_stage` when every gate on the way is met.

    Raises Conflict("deal.changed") when `expected_version` is given and someone moved the
    deal meanwhile; DomainError("deal.gate_missing"/"deal.gate_skipped") naming what is
    missing; DomainError("deal.closed") for a won or lost deal.
    """
    to_stage = str(to_stage.value if isinstance(to_stage, Stage) else parse_stage(to_stage))
    if to_stage == Stage.LOST.value:
        return mark_lost(session, deal_or_id, user, now, reason or "",
                         expected_version=expected_version)
    deal = _load_for_change(session, deal_or_id, user, expected_version)
    if deal.stage in (Stage.ORDER_PLACED.value, Stage.LOST.value):
        raise DomainError("deal.closed", stage=deal.stage)
    if stage_index(to_stage) <= stage_index(deal.stage):
        raise DomainError("deal.not_forward", stage=deal.stage, to=to_stage)
    with session.no_autoflush:  # one UPDATE (one version step) per move
        if facts:
            deal.facts = {**(deal.facts or {}), **_check_facts(session, deal, facts)}
        missing = missing_for(session, deal, to_stage)
    if missing:
        first_stage = missing[0][0]
        code = "deal.gate_missing" if first_stage == to_stage else "deal.gate_skipped"
        raise DomainError(code, stage=first_stage, to=to_stage,
                          missing=", ".join(r for s, r in missing if s == first_stage))
    change = DealStageChange(deal_id=deal.id, user_id=user.id, from_stage=deal.stage,
                             to_stage=to_stage, reason=(reason or "").strip()[:MAX_TEXT] or None,
                             at=now)
    deal.stage = to_stage
    deal.updated_at = now
    if to_stage == Stage.ORDER_PLACED.value:
        deal.closed_at = now
    session.add(change)
    _save(session, deal)
    if to_stage == Stage.ORDER_PLACED.value and needs_installation(session, deal):
        from core.fieldservice import create_installation_job

        create_installation_job(session, deal, now)
    return change


# Orders with products of these categories get an installation job (field service).
INSTALLED_CATEGORIES = frozenset({"servers", "appliances"})


def needs_installation(session: Session, deal: Deal) -> bool:
    """True when the deal asks for it, or its accepted quote has products that get installed."""
    from core.models.quotes import Product, Quote, QuoteLine, QuoteVersion

    facts = deal.facts or {}
    if facts.get("installation"):
        return True
    quote_id = facts.get("accepted_quote_id")
    if not quote_id:
        return False
    return (session.scalar(
        select(func.count()).select_from(QuoteLine)
        .join(QuoteVersion, QuoteVersion.id == QuoteLine.version_id)
        .join(Quote, and_(Quote.id == QuoteVersion.quote_id,
                          Quote.current_version == QuoteVersion.number))
        .join(Product, Product.sku == QuoteLine.sku)
        .where(Quote.id == int(quote_id), Product.category.in_(INSTALLED_CATEGORIES))
    ) or 0) > 0


def mark_lost(session: Session, deal_or_id: Deal | int, user: User, now: datetime, reason: str,
              expected_version: int | None = None) -> DealStageChange:
    """Close an open deal as Lost with a reason (one of LOST_REASONS or typed text)."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("deal.lost_needs_reason")
    if len(reason) > 200:
        raise DomainError("deal.answer_too_long", limit=200)
    deal = _load_for_change(session, deal_or_id, user, expected_version)
    if deal.stage in (Stage.ORDER_PLACED.value, Stage.LOST.value):
        raise DomainError("deal.closed", stage=deal.stage)
    change = DealStageChange(deal_id=deal.id, user_id=user.id, from_stage=deal.stage,
                             to_stage=Stage.LOST.value, reason=reason, at=now)
    deal.stage = Stage.LOST.value
    deal.lost_reason = reason
    deal.closed_at = now
    deal.updated_at = now
    session.add(change)
    _save(session, deal)
    return change


def schedule_next_step(session: Session, user: User, deal: Deal, kind: str, due_at: datetime,
                       now: datetime, note: str | None = None) -> FollowUp:
    """Store the proposed next step as a dated follow-up on the deal."""
    if due_at <= now:
        raise DomainError("deal.date_in_past")
    fu = FollowUp(user_id=user.id, company_id=deal.company_id, contact_id=deal.contact_id,
                  deal_id=deal.id, kind=kind, note=(note or deal.title)[:MAX_TEXT],
                  due_at=due_at, status="open", created_at=now)
    session.add(fu)
    session.flush()
    return fu


# -- pipeline views -------------------------------------------------------------------------
@dataclass
class StageRow:
    stage: str
    count: int = 0
    value: Decimal = Decimal(0)
    weighted: Decimal = Decimal(0)


@dataclass
class Pipeline:
    stages: list[StageRow] = field(default_factory=list)
    oldest: list[Deal] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((s.value for s in self.stages), Decimal(0))

    @property
    def weighted(self) -> Decimal:
        return sum((s.weighted for s in self.stages), Decimal(0))


def my_pipeline(session: Session, user: User, *, oldest: int = 5) -> Pipeline:
    """Counts, values and weighted values per open stage of the user's deals, plus the
    deals untouched the longest."""
    table = rules(session)
    open_values = [s.value for s in OPEN_STAGES]
    total = func.coalesce(func.sum(Deal.amount), 0)
    rows = session.execute(select(Deal.stage, func.count(), total)
                           .where(Deal.owner_id == user.id, Deal.stage.in_(open_values))
                           .group_by(Deal.stage)).all()
    by_stage = {stage: (count, Decimal(value)) for stage, count, value in rows}
    result = Pipeline()
    for stage in open_values:
        count, value = by_stage.get(stage, (0, Decimal(0)))
        weighted = (value * table[stage][1] / 100).quantize(Decimal("0.01"))
        result.stages.append(StageRow(stage, count, value, weighted))
    touched = func.coalesce(Deal.last_activity_at, Deal.updated_at)
    result.oldest = list(session.scalars(
        select(Deal).where(Deal.owner_id == user.id, Deal.stage.in_(open_values))
        .order_by(touched.asc(), Deal.id).limit(oldest)))
    return result


@dataclass
class TeamRow:
    key: str  # rep name / territory name
    stage: str
    count: int
    value: Decimal


def team_pipeline(session: Session, user: User, *, by: str = "rep") -> list[TeamRow]:
    """Managers: open deals in scope grouped by rep (or territory) and stage."""
    if user.role not in (Role.MANAGER.value, Role.ADMIN.value):
        raise Forbidden("deal.managers_only")
    if by not in ("rep", "territory", "stage"):
        raise DomainError("deal.bad_grouping", by=by)
    open_values = [s.value for s in OPEN_STAGES]
    label: Any
    if by == "territory":
        label = func.coalesce(Territory.name, "-")
        query = select(label, Deal.stage, func.count(), func.coalesce(func.sum(Deal.amount), 0)
                       ).select_from(Deal).outerjoin(Territory, Territory.id == Deal.territory_id)
    elif by == "rep":
        label = func.coalesce(User.name, "-")
        query = select(label, Deal.stage, func.count(), func.coalesce(func.sum(Deal.amount), 0)
                       ).select_from(Deal).outerjoin(User, User.id == Deal.owner_id)
    else:
        label = Deal.stage
        query = select(label, Deal.stage, func.count(), func.coalesce(func.sum(Deal.amount), 0)
                       ).select_from(Deal)
    query = query.where(deal_visible(session, user), Deal.stage.in_(open_values)).group_by(
        label, Deal.stage)
    order = {s: i for i, s in enumerate(open_values)}
    rows = [TeamRow(str(k), stage, int(c), Decimal(v))
            for k, stage, c, v in session.execute(query)]
    # By stage: in the pipeline's order (the key is the stage itself); else by name, then stage.
    return sorted(rows, key=lambda r: ("" if by == "stage" else r.key, order.get(r.stage, 99)))


# -- contract approval ----------------------------------------------------------------------
def request_contract_approval(session: Session, user: User, deal: Deal, now: datetime,
                              reason: str | None = None) -> ApprovalRequest:
    """Ask the team manager to approve the contract of a deal above the team threshold."""
    from core.approvals import request_approval

    if not needs_approval(session, deal):
        raise DomainError("deal.no_approval_needed")
    if approval_state(session, deal) == "approved" and requirement_met(session, deal, APPROVAL):
        raise DomainError("deal.already_approved")
    team = team_of(session, deal)
    return request_approval(session, kind="contract", ref_id=deal.id, requester=user, now=now,
                            amount=Decimal(deal.amount), deal_id=deal.id, reason=reason,
                            details={"deal_title": deal.title,
                                     "threshold": str(team.approval_threshold if team else 0),
                                     "currency": deal.currency})


def on_contract_decided(session: Session, request: ApprovalRequest, now: datetime) -> None:
    """An approved contract unlocks the Order placed gate."""
    if request.status != "approved":
        return
    deal = session.get(Deal, request.ref_id)
    if deal is not None:
        deal.facts = {**(deal.facts or {}), "contract_approval_id": request.id}
        deal.updated_at = now
