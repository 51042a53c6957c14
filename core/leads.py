"""Leads: creation, announcement to the team channel, claims (first wins, atomically),
allocation by rule, reassignment, contact-by dates and the escalation sweep."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, and_, case, exists, func, or_, select, update
from sqlalchemy.orm import Session

from core.errors import Conflict, DomainError, Forbidden, NotFound
from core.models import (
    Activity,
    Company,
    Contact,
    Deal,
    DealStageChange,
    Role,
    Stage,
    Team,
    Territory,
    TerritoryRep,
    User,
)
from core.models.pipeline import LeadAnnouncement
from core.notices import enqueue_notice
from core.pipeline import get_deal
from core.sweeps import sweep
from core.territory import cached_setting, match_territory, setting, user_by_login

LEAD_STAGES = (Stage.OPPORTUNITY.value, Stage.LEAD_ALLOCATED.value, Stage.CONTACTED.value)
WORKDAY_START = time(9, 0)


# -- working days ---------------------------------------------------------------------------
def contact_by_date(start: datetime, tz: str, working_days: int = 1) -> datetime:
    """`working_days` working days (Mon-Fri) after `start`, same local time of day. A start
    on a weekend counts from Monday 09:00 local."""
    zone = ZoneInfo(tz)
    local = start.astimezone(zone)
    if local.weekday() >= 5:
        monday = local.date() + timedelta(days=7 - local.weekday())
        local = datetime.combine(monday, WORKDAY_START, zone)
    day = local.date()
    added = 0
    while added < working_days:
        day += timedelta(days=1)
        if day.weekday() < 5:
            added += 1
    return datetime.combine(day, local.timetz().replace(tzinfo=None), zone).astimezone(UTC)



# -- leads ----------------------------------------------------------------------------------
@dataclass
class NewLead:
    deal: Deal
    territory: Territory | None
    announced: bool  # to a team channel
    queued: bool  # no territory: the manager's queue


def _manager_of_team(session: Session, team_id: int | None) -> User | None:
    team = session.get(Team, team_id) if team_id else None
    return session.get(User, team.manager_id) if team and team.manager_id else None


def _any_admin(session: Session) -> User | None:
    return session.scalar(select(User).where(User.role == Role.ADMIN.value, User.active)
                          .order_by(User.id).limit(1))


def create_lead(session: Session, user: User, *, company: Company, now: datetime,
                contact: Contact | None = None, need: str | None = None,
                source: str | None = None, title: str | None = None,
                amount: Decimal | None = None) -> NewLead:
    """Record a new lead (a deal at Opportunity generated), match its territory and offer it
    to the team channel (claimable for the configured time), or queue it for a manager."""
    need = (need or "").strip() or None
    source = (source or "").strip()[:60] or None
    if need and len(need) > 500:
        raise DomainError("deal.answer_too_long", limit=500)
    if contact is not None and contact.company_id != company.id:
        raise DomainError("deal.contact_not_of_company")
    if amount is not None and amount < 0:
        raise DomainError("lead.bad_amount")
    territory = match_territory(session, company)
    team_id = territory.team_id if territory is not None else user.team_id
    deal = Deal(title=(title or (f"{company.name}: {need}" if need else company.name))[:200],
                company_id=company.id, contact_id=contact.id if contact else None,
                team_id=team_id, territory_id=territory.id if territory else None,
                stage=Stage.OPPORTUNITY.value, amount=amount or Decimal(0), currency="IDR",
                source=source, need=need, facts={"need": need} if need else {},
                created_at=now, updated_at=now)
    session.add(deal)
    session.flush()
    session.add(DealStageChange(deal_id=deal.id, user_id=user.id, from_stage=None,
                                to_stage=Stage.OPPORTUNITY.value, reason=source, at=now))
    team = session.get(Team, team_id) if team_id else None
    announced = queued = False
    if territory is None:
        queued = True
        session.add(LeadAnnouncement(deal_id=deal.id, team_id=team_id, announced_at=now,
                                     claim_until=now, status="queue"))
        _notify_queue(session, deal, now)
    else:
        claim_until = now + timedelta(minutes=cached_setting(session, "claim_minutes"))
        session.add(LeadAnnouncement(deal_id=deal.id, team_id=team_id, announced_at=now,
                                     claim_until=claim_until, status="open"))
        if team is not None and team.channel_platform and team.channel_id:
            enqueue_notice(session, kind="lead.announce", reason=f"lead:{deal.id}:announce",
                           channel=(team.channel_platform, team.channel_id), due_at=now,
                           now=now, params={"deal_id": deal.id}, urgent=True)
            announced = True
    session.flush()
    return NewLead(deal, territory, announced, queued)


def _notify_queue(session: Session, deal: Deal, now: datetime) -> None:
    target = _manager_of_team(session, deal.team_id) or _any_admin(session)
    if target is not None:
        enqueue_notice(session, kind="lead.unassigned", reason=f"lead:{deal.id}:queue",
                       recipient_user_id=target.id, due_at=now, now=now,
                       params={"deal_id": deal.id}, urgent=True)


def _tz_of(session: Session, user: User | None) -> str:
    return (user.timezone if user is not None else None) or "Asia/Jakarta"


def _give(session: Session, deal_id: int, owner: User, now: datetime, *,
          only_if_free: bool) -> bool:
    """Set the owner (atomically when `only_if_free`); move Opportunity -> Lead allocated."""
    days = cached_setting(session, "contact_by_days")
    contact_by = contact_by_date(now, _tz_of(session, owner), days)
    stmt = (update(Deal).where(Deal.id == deal_id)
            .values(owner_id=owner.id, allocated_at=now, contact_by=contact_by, updated_at=now,
                    stage=case((Deal.stage == Stage.OPPORTUNITY.value,
                                Stage.LEAD_ALLOCATED.value), else_=Deal.stage),
                    version=Deal.version + 1)
            .execution_options(synchronize_session=False))
    if only_if_free:
        stmt = stmt.where(Deal.owner_id.is_(None), Deal.stage == Stage.OPPORTUNITY.value)
    else:
        stmt = stmt.where(Deal.stage.in_(LEAD_STAGES))
    result = cast(CursorResult[Any], session.execute(stmt))
    if result.rowcount != 1:
        return False
    deal = session.get(Deal, deal_id)
    if deal is not None:
        session.refresh(deal)
    return True


def _settle(session: Session, deal: Deal, owner: User, how: str, now: datetime,
            by: User | None, from_stage: str | None) -> None:
    ann = session.get(LeadAnnouncement, deal.id)
    if ann is not None:
        ann.status, ann.how, ann.owner_id, ann.settled_at = "settled", how, owner.id, now
    if from_stage == Stage.OPPORTUNITY.value:
        session.add(DealStageChange(deal_id=deal.id, user_id=(by or owner).id,
                                    from_stage=from_stage, to_stage=Stage.LEAD_ALLOCATED.value,
                                    reason=how, at=now))
    session.flush()


@dataclass
class ClaimResult:
    won: bool
    deal: Deal
    owner: User | None


def may_claim(session: Session, user: User, deal: Deal) -> bool:
    if not user.active or user.role not in (Role.REP.value, Role.MANAGER.value):
        return False
    if deal.territory_id is not None and session.get(
            TerritoryRep, (deal.territory_id, user.id)) is not None:
        return True
    return deal.team_id is not None and user.team_id == deal.team_id


def claim_lead(session: Session, user: User, deal_id: int | str, now: datetime) -> ClaimResult:
    """First claim wins (one conditional UPDATE); a later claim learns who has it."""
    try:
        did = int(deal_id)
    except (TypeError, ValueError):
        raise NotFound("deal.not_found", ref=str(deal_id)[:20]) from None
    deal = session.get(Deal, did)
    if deal is None:
        raise NotFound("deal.not_found", ref=str(did))
    if not may_claim(session, user, deal):
        raise Forbidden("lead.not_your_territory")
    if _give(session, did, user, now, only_if_free=True):
        _settle(session, deal, user, "claim", now, user, Stage.OPPORTUNITY.value)
        return ClaimResult(True, deal, user)
    session.refresh(deal)
    owner = session.get(User, deal.owner_id) if deal.owner_id else None
    return ClaimResult(False, deal, owner)


def _open_lead_counts(session: Session, user_ids: list[int]) -> dict[int, int]:
    rows = session.execute(select(Deal.owner_id, func.count()).where(
        Deal.owner_id.in_(user_ids), Deal.stage.in_(LEAD_STAGES)).group_by(Deal.owner_id))
    counts = dict.fromkeys(user_ids, 0)
    counts.update({uid: int(n) for uid, n in rows if uid is not None})
    return counts


def eligible_reps(session: Session, territory_id: int, now: datetime) -> list[User]:
    return list(session.scalars(
        select(User).join(TerritoryRep, TerritoryRep.user_id == User.id)
        .where(TerritoryRep.territory_id == territory_id, User.role == Role.REP.value,
               User.active, or_(User.away_until.is_(None), User.away_until <= now))
        .order_by(User.id)))


@dataclass
class _Pool:
    """A territory's eligible reps and their open-lead counts (kept current while a sweep
    allocates many leads)."""

    reps: list[User]
    counts: dict[int, int]
    caps: dict[int, int]


def _pool(session: Session, territory_id: int, now: datetime) -> _Pool:
    reps = eligible_reps(session, territory_id, now)
    default_cap = setting(session, "lead_cap")
    return _Pool(reps, _open_lead_counts(session, [r.id for r in reps]),
                 {r.id: r.lead_cap if r.lead_cap is not None else default_cap for r in reps})


def pick_rep(session: Session, deal: Deal, now: datetime, pool: _Pool | None = None
             ) -> User | None:
    """The territory's active, present rep with the fewest open leads, under the cap."""
    if deal.territory_id is None:
        return None
    pool = pool or _pool(session, deal.territory_id, now)
    room = [r for r in pool.reps if pool.counts[r.id] < pool.caps[r.id]]
    if not room:
        return None
    return min(room, key=lambda r: (pool.counts[r.id], r.id))


def allocate_by_rule(session: Session, deal: Deal, now: datetime, pool: _Pool | None = None
                     ) -> User | None:
    """Allocate an unclaimed lead by rule; None (and the manager's queue) when nobody fits."""
    rep = pick_rep(session, deal, now, pool)
    if rep is None or not _give(session, deal.id, rep, now, only_if_free=True):
        if rep is None:
            ann = session.get(LeadAnnouncement, deal.id)
            if ann is not None and ann.status == "open":
                ann.status, ann.settled_at = "queue", now
            _notify_queue(session, deal, now)
        return None
    if pool is not None:
        pool.counts[rep.id] += 1
    _settle(session, deal, rep, "rule", now, None, Stage.OPPORTUNITY.value)
    enqueue_notice(session, kind="lead.assigned", reason=f"lead:{deal.id}:assigned:{rep.id}",
                   recipient_user_id=rep.id, due_at=now, now=now,
                   params={"deal_id": deal.id, "how": "rule"}, urgent=True)
    return rep


@sweep("lead.allocation", every=timedelta(minutes=1))
def allocate_unclaimed(session: Session, now: datetime) -> int:
    """Allocate every lead whose claim window has passed; returns how many got an owner."""
    ids = list(session.scalars(select(LeadAnnouncement.deal_id).where(
        LeadAnnouncement.status == "open", LeadAnnouncement.claim_until <= now)
        .order_by(LeadAnnouncement.claim_until, LeadAnnouncement.deal_id).limit(500)))
    done = 0
    pools: dict[int, _Pool] = {}
    for deal_id in ids:
        deal = session.get(Deal, deal_id)
        if deal is None:
            continue
        if deal.owner_id is not None:
            ann = session.get(LeadAnnouncement, deal_id)
            if ann is not None:
                ann.status, ann.settled_at = "settled", now
            continue
        pool = None
        if deal.territory_id is not None:
            pool = pools.get(deal.territory_id)
            if pool is None:
                pool = pools[deal.territory_id] = _pool(session, deal.territory_id, now)
        if allocate_by_rule(session, deal, now, pool) is not None:
            done += 1
    return done


def _may_manage(session: Session, user: User, deal: Deal) -> bool:
    if user.role == Role.ADMIN.value:
        return True
    if user.role != Role.MANAGER.value:
        return False
    team = session.get(Team, deal.team_id) if deal.team_id else None
    return (team is not None and team.manager_id == user.id) or deal.team_id == user.team_id


def reassign(session: Session, user: User, deal_id: int | str, login: str,
             now: datetime) -> Deal:
    """A manager (of the lead's team) or an admin gives a lead to a rep."""
    deal = get_deal(session, user, deal_id)
    if not _may_manage(session, user, deal):
        raise Forbidden("lead.managers_only")
    rep = user_by_login(session, login)
    if not rep.active or rep.role not in (Role.REP.value, Role.MANAGER.value):
        raise DomainError("lead.not_a_rep", login=login)
    if deal.stage not in LEAD_STAGES:
        raise DomainError("lead.not_a_lead")
    if deal.owner_id == rep.id:
        raise DomainError("lead.same_owner", name=rep.name)
    from_stage = deal.stage
    if not _give(session, deal.id, rep, now, only_if_free=False):
        raise Conflict("deal.changed", by="?", deal=deal.title)
    _settle(session, deal, rep, "manager", now, user, from_stage)
    enqueue_notice(session, kind="lead.assigned",
                   reason=f"lead:{deal.id}:assigned:{rep.id}:{now.isoformat()}",
                   recipient_user_id=rep.id, due_at=now, now=now,
                   params={"deal_id": deal.id, "how": "manager"}, urgent=True)
    return deal


def extend_contact_by(session: Session, user: User, deal_id: int | str, now: datetime,
                      days: int = 1) -> Deal:
    """A manager gives the rep `days` more working days to contact the lead."""
    deal = get_deal(session, user, deal_id)
    if not _may_manage(session, user, deal):
        raise Forbidden("lead.managers_only")
    if deal.owner_id is None or deal.stage not in LEAD_STAGES:
        raise DomainError("lead.not_a_lead")
    owner = session.get(User, deal.owner_id)
    start = max(now, deal.contact_by or now)
    deal.contact_by = contact_by_date(start, _tz_of(session, owner), days)
    deal.updated_at = now
    session.flush()
    return deal


def remind_rep(session: Session, user: User, deal_id: int | str, now: datetime) -> Deal:
    """A manager nudges the lead's owner (a pushed reminder)."""
    deal = get_deal(session, user, deal_id)
    if not _may_manage(session, user, deal):
        raise Forbidden("lead.managers_only")
    if deal.owner_id is None:
        raise DomainError("lead.not_a_lead")
    enqueue_notice(session, kind="lead.reminder",
                   reason=f"lead:{deal.id}:remind:{now.isoformat()}",
                   recipient_user_id=deal.owner_id, due_at=now, now=now,
                   params={"deal_id": deal.id, "by": user.name}, urgent=True)
    return deal


def _no_activity_since_allocation():  # a SQL expression
    return ~exists().where(
        or_(Activity.deal_id == Deal.id,
            and_(Activity.company_id == Deal.company_id,
                 Activity.occurred_at >= Deal.allocated_at)))


def due_escalations(session: Session, now: datetime, *, limit: int = 1000) -> list[Deal]:
    """Allocated leads past their contact-by date with no logged activity since allocation."""
    return list(session.scalars(
        select(Deal).where(Deal.owner_id.is_not(None), Deal.contact_by.is_not(None),
                           Deal.contact_by <= now,
                           Deal.stage.in_([Stage.OPPORTUNITY.value, Stage.LEAD_ALLOCATED.value]),
                           _no_activity_since_allocation())
        .order_by(Deal.contact_by, Deal.id).limit(limit)))


@sweep("lead.escalation", every=timedelta(minutes=5))
def escalate_uncontacted(session: Session, now: datetime) -> int:
    """Enqueue a "lead.escalation" notice to the manager for every lead due (once per
    contact-by date); returns how many were enqueued."""
    count = 0
    for deal in due_escalations(session, now):
        target = _manager_of_team(session, deal.team_id) or _any_admin(session)
        if target is None:
            continue
        assert deal.contact_by is not None  # due_escalations selects leads with a date
        day = deal.contact_by.astimezone(UTC).date().isoformat()
        row = enqueue_notice(session, kind="lead.escalation",
                             reason=f"lead:{deal.id}:contact_by:{day}",
                             recipient_user_id=target.id, due_at=now, now=now,
                             params={"deal_id": deal.id, "owner_id": deal.owner_id})
        count += row is not None
    return count


# -- import ---------------------------------------------------------------------------------
def import_lead_row(session: Session, user: User, row: dict[str, Any], now: datetime) -> Deal:
    """One CSV row (company, contact, need, source, amount) -> a new lead."""
    name = str(row.get("company") or "").strip()
    if not name:
        raise DomainError("lead.import_no_company")
    company = session.scalar(select(Company).where(func.lower(Company.name) == name.lower()))
    if company is None:
        raise DomainError("lead.import_unknown_company", name=name)
    contact = None
    contact_name = str(row.get("contact") or "").strip()
    if contact_name:
        contact = session.scalar(select(Contact).where(
            Contact.company_id == company.id, func.lower(Contact.name) == contact_name.lower()))
        if contact is None:
            raise DomainError("lead.import_unknown_contact", name=contact_name)
    amount = None
    raw = str(row.get("amount") or "").strip().replace(",", "")
    if raw:
        try:
            amount = Decimal(raw)
        except InvalidOperation:
            raise DomainError("lead.bad_amount") from None
    return create_lead(session, user, company=company, contact=contact, now=now,
                       need=str(row.get("need") or ""), source=str(row.get("source") or ""),
                       amount=amount).deal
