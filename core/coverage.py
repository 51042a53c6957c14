"""A manager's view of the team: coverage and workload per rep and per territory (accounts
owned and not contacted for 30 / 60 / 90 days, open deals and leads, visits against the
weekly norm, territories nobody covers). What to change is core.team_moves."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from core.errors import DomainError, Forbidden, NotFound
from core.models import (
    OPEN_STAGES,
    Activity,
    ActivityKind,
    Company,
    Deal,
    FollowUp,
    Role,
    Stage,
    Team,
    Territory,
    TerritoryRep,
    User,
)
from core.pipeline import rules as stage_rules
from core.teams import team_of
from core.territory import industries_of, setting

IDLE_DAYS = (30, 60, 90)
WIN_RATE_DAYS = 180

OPEN_STAGE_VALUES = [s.value for s in OPEN_STAGES]
# Leads not yet worked: a lead moves only before its owner contacted it.
UNWORKED_STAGES = (Stage.OPPORTUNITY.value, Stage.LEAD_ALLOCATED.value)

# -- the view -------------------------------------------------------------------------------
@dataclass
class RepLoad:
    id: int
    name: str
    login: str
    open_deals: int = 0
    open_value: Decimal = Decimal(0)
    weighted: Decimal = Decimal(0)
    leads_waiting: int = 0
    accounts: int = 0
    idle: dict[int, int] = field(default_factory=dict)  # days -> accounts not contacted
    overdue: int = 0
    visits_week: int = 0
    won: int = 0
    lost: int = 0
    away: bool = False
    lead_cap: int = 0

    @property
    def win_rate(self) -> float | None:
        closed = self.won + self.lost
        return self.won / closed if closed else None


@dataclass
class TerritoryCover:
    id: int
    name: str
    region: str
    industries: list[str]
    reps: list[int]  # eligible reps (active, present)
    accounts: int = 0
    no_owner: int = 0
    never_visited: int = 0


@dataclass
class Coverage:
    team: Team | None
    reps: list[RepLoad]
    territories: list[TerritoryCover]
    visit_norm: int
    week_start: datetime

    @property
    def spread(self) -> tuple[int, int]:
        """(max, min) open deals per rep over the reps present."""
        loads = [r.open_deals for r in self.reps if not r.away]
        return (max(loads), min(loads)) if loads else (0, 0)


def _week_start(now: datetime, tz: str) -> datetime:
    local = now.astimezone(ZoneInfo(tz or "Asia/Jakarta"))
    monday = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0,
                                                                microsecond=0)
    return monday


def _scope(session: Session, user: User, which: str | int | None = None
           ) -> tuple[Team | None, list[User], list[Territory]]:
    """The team a manager runs (an admin names one, by name or id, or sees every team)."""
    if user.role not in (Role.MANAGER.value, Role.ADMIN.value) or not user.active:
        raise Forbidden("deal.managers_only")
    if isinstance(which, str):
        which = which.strip() or None
    team: Team | None
    if which is None:
        team = team_of(session, user)
        if team is None and user.role != Role.ADMIN.value:
            raise DomainError("team.name_needed")
    else:
        team = (session.get(Team, which) if isinstance(which, int) else session.scalar(
            select(Team).where(func.lower(Team.name) == which.lower())))
        if team is None:
            raise NotFound("team.not_found", name=str(which)[:60])
        own = team_of(session, user)
        if user.role != Role.ADMIN.value and (own is None or own.id != team.id):
            raise Forbidden("team.not_yours", name=team.name)
    reps_q = select(User).where(User.role == Role.REP.value, User.active)
    terr_q = select(Territory)
    if team is not None:
        reps_q = reps_q.where(User.team_id == team.id)
        terr_q = terr_q.where(Territory.team_id == team.id)
    return (team, list(session.scalars(reps_q.order_by(User.name, User.id))),
            list(session.scalars(terr_q.order_by(Territory.name))))


def coverage(session: Session, user: User, now: datetime, team: str | int | None = None
             ) -> Coverage:
    """Per rep: open deals and their weighted value, leads waiting, accounts not contacted
    for 30/60/90 days, follow-ups overdue, visits this week (against the norm), won/lost in
    the last 180 days; per territory: accounts, without an owner, never visited."""
    found, users, territories = _scope(session, user, team)
    week = _week_start(now, user.timezone)
    default_cap = setting(session, "lead_cap")
    reps = {u.id: RepLoad(u.id, u.name, u.login,
                          away=u.away_until is not None and u.away_until > now,
                          lead_cap=u.lead_cap if u.lead_cap is not None else default_cap,
                          idle=dict.fromkeys(IDLE_DAYS, 0)) for u in users}
    ids = list(reps)
    _accounts = _account_pass(session, ids, [t.id for t in territories], now)
    if ids:
        probability = {stage: prob for stage, (_reqs, prob) in stage_rules(session).items()}
        for owner, stage, count, value in session.execute(
                select(Deal.owner_id, Deal.stage, func.count(),
                       func.coalesce(func.sum(Deal.amount), 0))
                .where(Deal.owner_id.in_(ids), Deal.stage.in_(OPEN_STAGE_VALUES))
                .group_by(Deal.owner_id, Deal.stage)):
            rep = reps[cast(int, owner)]
            rep.open_deals += int(count)
            rep.open_value += Decimal(value)
            rep.weighted += (Decimal(value) * probability.get(stage, 0) / 100).quantize(
                Decimal("0.01"))
            if stage in UNWORKED_STAGES:
                rep.leads_waiting += int(count)
        for owner, count, idle in _accounts.per_rep:
            reps[owner].accounts = count
            reps[owner].idle = idle
        for owner, count in session.execute(
                select(FollowUp.user_id, func.count())
                .where(FollowUp.user_id.in_(ids), FollowUp.status == "open",
                       FollowUp.due_at < now,
                       or_(FollowUp.snoozed_until.is_(None), FollowUp.snoozed_until < now))
                .group_by(FollowUp.user_id)):
            reps[owner].overdue = int(count)
        # Visits counted among the week's activities (a range of the activity time index;
        # a filter on the kind alone would walk every visit ever logged).
        for owner, count in session.execute(
                select(Activity.user_id,
                       func.sum(case((Activity.kind == ActivityKind.VISIT.value, 1), else_=0)))
                .where(Activity.user_id.in_(ids), Activity.occurred_at >= week,
                       Activity.occurred_at <= now)
                .group_by(Activity.user_id)):
            reps[owner].visits_week = int(count or 0)
        for owner, stage, count in session.execute(
                select(Deal.owner_id, Deal.stage, func.count())
                .where(Deal.owner_id.in_(ids),
                       Deal.stage.in_([Stage.ORDER_PLACED.value, Stage.LOST.value]),
                       Deal.closed_at >= now - timedelta(days=WIN_RATE_DAYS))
                .group_by(Deal.owner_id, Deal.stage)):
            if stage == Stage.ORDER_PLACED.value:
                reps[cast(int, owner)].won = int(count)
            else:
                reps[cast(int, owner)].lost = int(count)
    covers = _territory_covers(session, territories, _accounts.per_territory, now)
    return Coverage(found, list(reps.values()), covers, setting(session, "visit_norm"), week)


@dataclass
class _AccountPass:
    per_rep: list[tuple[int, int, dict[int, int]]]  # (rep, accounts, idle days -> accounts)
    per_territory: dict[int, tuple[int, int, int]]  # territory -> (accounts, no owner, never)


def _account_pass(session: Session, rep_ids: list[int], territory_ids: list[int],
                  now: datetime) -> _AccountPass:
    """The figures on accounts: per rep (grouped by owner) and per territory (grouped by
    territory), each read from one index in its order (see core.models.coverage)."""
    per_rep: list[tuple[int, int, dict[int, int]]] = []
    per_terr: dict[int, tuple[int, int, int]] = {}
    if rep_ids:
        idle = [func.sum(case((or_(Company.last_contacted_at.is_(None),
                                    Company.last_contacted_at < now - timedelta(days=d)), 1),
                              else_=0)) for d in IDLE_DAYS]
        for owner, count, *counts in session.execute(
                select(Company.owner_id, func.count(), *idle)
                .where(Company.owner_id.in_(rep_ids)).group_by(Company.owner_id)):
            per_rep.append((cast(int, owner), int(count), {
                d: int(n or 0) for d, n in zip(IDLE_DAYS, counts, strict=True)}))
    if territory_ids:
        # The visits, as a set the database builds once (not a lookup per account).
        visited = Company.id.in_(select(Activity.company_id).where(
            Activity.kind == ActivityKind.VISIT.value))
        for tid, count, no_owner, never in session.execute(
                select(Company.territory_id, func.count(),
                       func.sum(case((Company.owner_id.is_(None), 1), else_=0)),
                       func.sum(case((visited, 0), else_=1)))
                .where(Company.territory_id.in_(territory_ids))
                .group_by(Company.territory_id)):
            per_terr[cast(int, tid)] = (int(count), int(no_owner or 0), int(never or 0))
    return _AccountPass(per_rep, per_terr)


def _territory_covers(session: Session, territories: list[Territory],
                      accounts: dict[int, tuple[int, int, int]], now: datetime
                      ) -> list[TerritoryCover]:
    tids = [t.id for t in territories]
    if not tids:
        return []
    industries = industries_of(session, tids)
    eligible: dict[int, list[int]] = defaultdict(list)
    for tid, uid in session.execute(
            select(TerritoryRep.territory_id, TerritoryRep.user_id)
            .join(User, User.id == TerritoryRep.user_id)
            .where(TerritoryRep.territory_id.in_(tids), User.role == Role.REP.value,
                   User.active, or_(User.away_until.is_(None), User.away_until <= now))
            .order_by(TerritoryRep.territory_id, User.id)):
        eligible[tid].append(uid)
    out = []
    for t in territories:
        count, no_owner, never = accounts.get(t.id, (0, 0, 0))
        out.append(TerritoryCover(t.id, t.name, t.region, industries.get(t.id, []),
                                  eligible.get(t.id, []), count, no_owner, never))
    return out
