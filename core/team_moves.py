"""\"Optimise my team\": concrete moves (an uncontacted account with its open deals from an
overloaded rep to one with capacity in the same territory, a lead to a rep with less load
and a better win rate, a rep to cover a territory nobody covers), each re-checked and
applied on its own or all at once, with both reps told and the history kept
(ownership_moves).

Load is a rep's open deals. Capacity is the settings `deal_cap` (open deals), `account_cap`
(accounts owned) and the lead cap (a rep's own `lead_cap`, else the setting). A move never
goes to a rep outside the territory of what is moved, nor past a cap.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import and_, case, exists, func, or_, select, update
from sqlalchemy.orm import Session

from core.coverage import OPEN_STAGE_VALUES, UNWORKED_STAGES, Coverage, coverage
from core.errors import Conflict, DomainError, Forbidden, NotFound
from core.leads import LEAD_STAGES, reassign
from core.models import (
    Activity,
    Company,
    Contact,
    Deal,
    Role,
    Territory,
    TerritoryRep,
    User,
)
from core.models.coverage import OwnershipMove
from core.notices import enqueue_notice
from core.teams import team_of
from core.territory import setting

MOVE_IDLE_DAYS = 60  # an account not contacted for this long may be moved
MAX_MOVES = 12


# -- optimisation ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Move:
    """One proposed move. kind: account (a company and its open deals of `from_id`), lead
    (one deal), cover (add `to_id` to a territory nobody covers), flag (nobody to add)."""

    kind: str
    ref_id: int  # company id, deal id or territory id
    from_id: int | None
    to_id: int | None
    territory_id: int | None
    reason: str
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    deals: int = 0  # open deals that move with an account

    @property
    def key(self) -> str:
        return f"{self.kind[0]}:{self.ref_id}:{self.from_id or 0}:{self.to_id or 0}"


@dataclass
class Proposal:
    coverage: Coverage
    moves: list[Move]
    before: tuple[int, int]
    after: tuple[int, int]

    @property
    def digest(self) -> str:
        """A short fingerprint of the moves (the "apply all" button carries it)."""
        text = "|".join(m.key for m in self.moves if m.kind != "flag")
        return f"{zlib.crc32(text.encode()):08x}"


@dataclass
class _Sim:
    """Loads as the proposed moves would leave them."""

    load: dict[int, int]
    accounts: dict[int, int]
    leads: dict[int, int]
    deal_cap: int
    account_cap: int
    lead_caps: dict[int, int]

    def room_for_account(self, rep: int, deals: int, leads: int = 0) -> bool:
        return (self.accounts[rep] + 1 <= self.account_cap
                and self.load[rep] + deals <= self.deal_cap
                and (leads == 0 or self.leads[rep] + leads <= self.lead_caps[rep]))

    def room_for_lead(self, rep: int) -> bool:
        return (self.load[rep] + 1 <= self.deal_cap
                and self.leads[rep] + 1 <= self.lead_caps[rep])


def _spread(loads: dict[int, int], present: list[int]) -> tuple[int, int]:
    values = [loads[r] for r in present]
    return (max(values), min(values)) if values else (0, 0)

_Idle = tuple[int, str, datetime | None, int, int]


def _idle_accounts(session: Session, owner: int, territory_id: int, now: datetime
                   ) -> list[_Idle]:
    """(company id, name, last contacted, open deals of `owner`, of which leads) of the
    owner's accounts in the territory not contacted for MOVE_IDLE_DAYS, with at least one
    open deal of theirs."""
    deals = (select(Deal.company_id, func.count().label("n"),
                    func.sum(case((Deal.stage.in_(LEAD_STAGES), 1), else_=0)).label("leads"))
             .where(Deal.owner_id == owner, Deal.stage.in_(OPEN_STAGE_VALUES))
             .group_by(Deal.company_id).subquery())
    rows = session.execute(
        select(Company.id, Company.name, Company.last_contacted_at, deals.c.n, deals.c.leads)
        .join(deals, deals.c.company_id == Company.id)
        .where(Company.owner_id == owner, Company.territory_id == territory_id,
               or_(Company.last_contacted_at.is_(None),
                   Company.last_contacted_at < now - timedelta(days=MOVE_IDLE_DAYS)))
        .order_by(Company.last_contacted_at.is_not(None), Company.last_contacted_at,
                  Company.id)
        .limit(200)).all()
    return [(r[0], r[1], r[2], int(r[3]), int(r[4] or 0)) for r in rows]


def _unworked_leads(session: Session, territory_ids: list[int]) -> list[Deal]:
    """Leads of these territories nobody has contacted yet (owned or waiting for one)."""
    if not territory_ids:
        return []
    touched = exists().where(Activity.deal_id == Deal.id)
    since = exists().where(and_(Activity.company_id == Deal.company_id,
                                Activity.occurred_at >= Deal.allocated_at))
    return list(session.scalars(
        select(Deal).where(Deal.territory_id.in_(territory_ids), Deal.stage.in_(UNWORKED_STAGES),
                           ~touched, or_(Deal.allocated_at.is_(None), ~since))
        .order_by(Deal.created_at, Deal.id).limit(500)))


def propose(session: Session, user: User, now: datetime, team: str | int | None = None,
            limit: int = MAX_MOVES) -> Proposal:
    """Concrete moves that even out the team's load, each with its reason; the spread of
    open deals per rep before and after them."""
    cov = coverage(session, user, now, team)
    reps = {r.id: r for r in cov.reps}
    present = [r.id for r in cov.reps if not r.away]
    sim = _Sim(load={r.id: r.open_deals for r in cov.reps},
               accounts={r.id: r.accounts for r in cov.reps},
               leads=_lead_counts(session, list(reps)),
               deal_cap=setting(session, "deal_cap"), account_cap=setting(session, "account_cap"),
               lead_caps={r.id: r.lead_cap for r in cov.reps})
    before = _spread(sim.load, present)
    moves: list[Move] = []
    # 1. Territories nobody covers: add the team's least loaded rep (or flag it).
    for terr in cov.territories:
        if terr.reps:
            continue
        candidates = [r for r in present if sim.room_for_account(r, 0)]
        if candidates:
            rep = min(candidates, key=lambda r: (sim.load[r], r))
            moves.append(Move("cover", terr.id, None, rep, terr.id, "uncovered",
                              {"territory": terr.name, "to": reps[rep].name,
                               "accounts": terr.accounts, "load": sim.load[rep]}))
            terr.reps.append(rep)
        else:
            moves.append(Move("flag", terr.id, None, None, terr.id, "uncovered",
                              {"territory": terr.name, "accounts": terr.accounts}))
    # 2. Uncontacted accounts (with their open deals): the most loaded rep first, to the
    #    least loaded rep with room who covers the account's territory, while that narrows
    #    their gap.
    names = {t.id: t.name for t in cov.territories}
    covering: dict[int, list[int]] = defaultdict(list)  # rep -> the team territories
    members: dict[int, list[int]] = {}
    for terr in cov.territories:
        members[terr.id] = [r for r in terr.reps if r in reps and not reps[r].away]
        for r in members[terr.id]:
            covering[r].append(terr.id)
    done_pairs: set[tuple[int, int]] = set()  # (donor, territory) with nothing left to give
    pools: dict[tuple[int, int], list[_Idle]] = {}
    while len([m for m in moves if m.kind != "flag"]) < limit:
        chosen: tuple[int, int, int] | None = None  # (donor, receiver, territory)
        for donor in sorted(present, key=lambda r: (-sim.load[r], r)):
            options = [(sim.load[r], r, tid) for tid in covering[donor]
                       if (donor, tid) not in done_pairs for r in members[tid]
                       if r != donor and sim.room_for_account(r, 1)
                       and sim.load[donor] - sim.load[r] >= 2]
            if options:
                _load, receiver, tid = min(options)
                chosen = (donor, receiver, tid)
                break
        if chosen is None:
            break
        donor, receiver, tid = chosen
        gap = sim.load[donor] - sim.load[receiver]
        pool = pools.setdefault((donor, tid), _idle_accounts(session, donor, tid, now))
        fitting = [a for a in pool if 1 <= a[3] <= gap // 2
                   and sim.room_for_account(receiver, a[3], a[4])]
        if not fitting:
            done_pairs.add((donor, tid))
            continue
        pick = max(fitting, key=lambda a: a[3])
        pool.remove(pick)
        company_id, name, last, deals, leads = pick
        moves.append(Move(
            "account", company_id, donor, receiver, tid, "idle_account",
            {"company": name, "days": (now - last).days if last else None,
             "from": reps[donor].name, "to": reps[receiver].name,
             "from_load": sim.load[donor], "to_load": sim.load[receiver],
             "territory": names[tid]}, deals))
        sim.load[donor] -= deals
        sim.load[receiver] += deals
        sim.accounts[donor] -= 1
        sim.accounts[receiver] += 1
        sim.leads[donor] -= leads
        sim.leads[receiver] += leads
    # 3. Leads nobody has contacted yet: to the rep of the lead's territory with the least
    #    load (the better win rate first on a tie), when that narrows the gap by 2 or more.
    eligible = {t.id: [r for r in t.reps if r in reps and not reps[r].away]
                for t in cov.territories}
    # An account's open deals of its owner moved with it.
    moved = {(m.ref_id, m.from_id) for m in moves if m.kind == "account"}
    for deal in _unworked_leads(session, [t.id for t in cov.territories]):
        if len([m for m in moves if m.kind != "flag"]) >= limit:
            break
        assert deal.territory_id is not None  # selected by territory
        owner = deal.owner_id
        if (deal.company_id, owner) in moved:
            continue
        takers = [r for r in eligible.get(deal.territory_id, [])
                  if r != owner and sim.room_for_lead(r)]
        if not takers:
            continue
        best = min(takers, key=lambda r: (sim.load[r], -(reps[r].win_rate or 0), r))
        if owner is not None:
            if owner not in sim.load or sim.load[owner] - sim.load[best] < 2:
                continue
            if (reps[best].win_rate or 0) + 0.10 < (reps[owner].win_rate or 0):
                continue  # not to a clearly weaker closer
        moves.append(Move(
            "lead", deal.id, owner, best, deal.territory_id,
            "lead_load" if owner is not None else "lead_waiting",
            {"deal": deal.title, "from": reps[owner].name if owner else None,
             "to": reps[best].name,
             "from_load": sim.load[owner] if owner else None, "to_load": sim.load[best],
             "from_rate": _pct(reps[owner].win_rate) if owner else None,
             "to_rate": _pct(reps[best].win_rate)}, 1))
        if owner is not None:
            sim.load[owner] -= 1
            sim.leads[owner] -= 1
        sim.load[best] += 1
        sim.leads[best] += 1
    return Proposal(cov, moves, before, _spread(sim.load, present))


def _pct(rate: float | None) -> int | None:
    return None if rate is None else round(rate * 100)


def _lead_counts(session: Session, rep_ids: list[int]) -> dict[int, int]:
    counts = dict.fromkeys(rep_ids, 0)
    if rep_ids:
        counts.update({cast(int, uid): int(n) for uid, n in session.execute(
            select(Deal.owner_id, func.count()).where(
                Deal.owner_id.in_(rep_ids), Deal.stage.in_(LEAD_STAGES))
            .group_by(Deal.owner_id))})
    return counts


def _lead_cap(session: Session, rep: User) -> int:
    return rep.lead_cap if rep.lead_cap is not None else setting(session, "lead_cap")


def _lead_count(session: Session, rep_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Deal).where(
        Deal.owner_id == rep_id, Deal.stage.in_(LEAD_STAGES))) or 0

# -- applying -------------------------------------------------------------------------------
@dataclass
class Applied:
    move: Move
    history: OwnershipMove | None
    deals: list[int]


def _may_run(session: Session, user: User, territory: Territory | None) -> None:
    if user.role == Role.ADMIN.value and user.active:
        return
    own = team_of(session, user) if user.role == Role.MANAGER.value and user.active else None
    if own is None or territory is None or territory.team_id != own.id:
        raise Forbidden("coverage.not_your_team")


def _eligible(session: Session, rep: User | None, territory_id: int, now: datetime) -> bool:
    return (rep is not None and rep.active and rep.role == Role.REP.value
            and (rep.away_until is None or rep.away_until <= now)
            and session.get(TerritoryRep, (territory_id, rep.id)) is not None)


def _loads(session: Session, rep_id: int) -> tuple[int, int]:
    load = session.scalar(select(func.count()).select_from(Deal).where(
        Deal.owner_id == rep_id, Deal.stage.in_(OPEN_STAGE_VALUES))) or 0
    accounts = session.scalar(select(func.count()).select_from(Company).where(
        Company.owner_id == rep_id)) or 0
    return int(load), int(accounts)


def parse_key(key: str) -> tuple[str, int, int | None, int | None]:
    """"a:12:3:4" -> ("account", 12, 3, 4); anything malformed is refused."""
    kinds = {"a": "account", "l": "lead", "c": "cover"}
    parts = (key or "").split(":")
    if len(parts) != 4 or parts[0] not in kinds or not all(
            p.isascii() and p.isdigit() and len(p) <= 9 for p in parts[1:]):
        raise DomainError("coverage.bad_move")
    ref, src, dst = (int(p) for p in parts[1:])
    return kinds[parts[0]], ref, src or None, dst or None


def apply_move(session: Session, user: User, key: str, now: datetime) -> Applied:
    """Apply one move, checked against the records as they are now: the account or lead still
    belongs to `from`, the new owner covers its territory, is present and has room."""
    kind, ref, src, dst = parse_key(key)
    target = session.get(User, dst) if dst else None
    if kind == "cover":
        return _apply_cover(session, user, ref, target, now)
    if kind == "account":
        return _apply_account(session, user, ref, src, target, now)
    return _apply_lead(session, user, ref, src, target, now)


def _apply_account(session: Session, user: User, company_id: int, src: int | None,
                   target: User | None, now: datetime) -> Applied:
    company = session.get(Company, company_id)
    if company is None:
        raise NotFound("coverage.gone")
    territory = session.get(Territory, company.territory_id) if company.territory_id else None
    _may_run(session, user, territory)
    if company.owner_id != src or target is None or src is None:
        raise Conflict("coverage.changed_owner", name=company.name)
    assert territory is not None  # _may_run refuses a company without one
    if not _eligible(session, target, territory.id, now):
        raise DomainError("coverage.not_in_territory", name=target.name,
                          territory=territory.name)
    moving = session.execute(select(Deal.id, Deal.stage).where(
        Deal.company_id == company.id, Deal.owner_id == src,
        Deal.stage.in_(OPEN_STAGE_VALUES))).all()
    deal_ids = [row[0] for row in moving]
    leads = sum(1 for row in moving if row[1] in LEAD_STAGES)
    load, accounts = _loads(session, target.id)
    if (accounts + 1 > setting(session, "account_cap")
            or load + len(deal_ids) > setting(session, "deal_cap")
            or (leads and _lead_count(session, target.id) + leads > _lead_cap(session, target))):
        raise DomainError("coverage.no_capacity", name=target.name)
    company.owner_id = target.id
    company.updated_at = now
    session.execute(update(Contact).where(Contact.company_id == company.id,
                                          Contact.owner_id == src)
                    .values(owner_id=target.id, updated_at=now, version=Contact.version + 1)
                    .execution_options(synchronize_session="fetch"))
    if deal_ids:
        session.execute(update(Deal).where(Deal.id.in_(deal_ids))
                        .values(owner_id=target.id, updated_at=now, version=Deal.version + 1)
                        .execution_options(synchronize_session="fetch"))
    move = Move("account", company.id, src, target.id, territory.id, "idle_account",
                deals=len(deal_ids))
    history = _record(session, user, move, now, company_id=company.id,
                      details={"company": company.name, "deals": deal_ids})
    return Applied(move, history, deal_ids)


def _apply_lead(session: Session, user: User, deal_id: int, src: int | None,
                target: User | None, now: datetime) -> Applied:
    deal = session.get(Deal, deal_id)
    if deal is None:
        raise NotFound("coverage.gone")
    territory = session.get(Territory, deal.territory_id) if deal.territory_id else None
    _may_run(session, user, territory)
    if deal.owner_id != src or target is None or deal.stage not in UNWORKED_STAGES:
        raise Conflict("coverage.changed_owner", name=deal.title)
    assert territory is not None
    if not _eligible(session, target, territory.id, now):
        raise DomainError("coverage.not_in_territory", name=target.name,
                          territory=territory.name)
    load, _accounts = _loads(session, target.id)
    if (load + 1 > setting(session, "deal_cap")
            or _lead_count(session, target.id) + 1 > _lead_cap(session, target)):
        raise DomainError("coverage.no_capacity", name=target.name)
    reassign(session, user, deal.id, target.login, now)  # tells the new owner
    move = Move("lead", deal.id, src, target.id, territory.id, "lead_load", deals=1)
    history = _record(session, user, move, now, deal_id=deal.id,
                      details={"deal": deal.title})
    return Applied(move, history, [deal.id])


def _apply_cover(session: Session, user: User, territory_id: int, target: User | None,
                 now: datetime) -> Applied:
    territory = session.get(Territory, territory_id)
    if territory is None:
        raise NotFound("coverage.gone")
    _may_run(session, user, territory)
    if target is None or not target.active or target.role != Role.REP.value or (
            territory.team_id is not None and target.team_id != territory.team_id):
        raise DomainError("coverage.not_in_territory",
                          name=target.name if target else "-", territory=territory.name)
    covered = session.scalar(
        select(func.count()).select_from(TerritoryRep).join(User, User.id ==
                                                            TerritoryRep.user_id)
        .where(TerritoryRep.territory_id == territory.id, User.role == Role.REP.value,
               User.active, or_(User.away_until.is_(None), User.away_until <= now)))
    if covered:
        raise Conflict("coverage.already_covered", territory=territory.name)
    if session.get(TerritoryRep, (territory.id, target.id)) is None:
        session.add(TerritoryRep(territory_id=territory.id, user_id=target.id))
    move = Move("cover", territory.id, None, target.id, territory.id, "uncovered")
    history = _record(session, user, move, now, details={"territory": territory.name})
    return Applied(move, history, [])


def _record(session: Session, user: User, move: Move, now: datetime, *,
            company_id: int | None = None, deal_id: int | None = None,
            details: dict[str, Any]) -> OwnershipMove:
    row = OwnershipMove(kind=move.kind, company_id=company_id, deal_id=deal_id,
                        territory_id=move.territory_id, from_user_id=move.from_id,
                        to_user_id=move.to_id, by_user_id=user.id, reason=move.reason,
                        details=details, at=now)
    session.add(row)
    session.flush()
    for role, uid in (("from", move.from_id), ("to", move.to_id)):
        # A lead's new owner is told by the lead's own notice (core.leads.reassign).
        if uid is None or uid == user.id or (move.kind == "lead" and role == "to"):
            continue
        enqueue_notice(session, kind="coverage.moved", reason=f"move:{row.id}:{role}",
                       recipient_user_id=uid, due_at=now, now=now,
                       params={"move_id": row.id, "role": role})
    return row


def apply_all(session: Session, user: User, digest: str, now: datetime,
              team: str | int | None = None) -> list[Applied]:
    """Apply every move of the current proposal, when it is still the one shown (same
    digest); otherwise nothing changes and Conflict "coverage.changed" is raised."""
    proposal = propose(session, user, now, team)
    if proposal.digest != digest:
        raise Conflict("coverage.changed")
    done = []
    for move in proposal.moves:
        if move.kind != "flag":
            done.append(apply_move(session, user, move.key, now))
    return done


def history(session: Session, user: User, limit: int = 20) -> list[OwnershipMove]:
    """The latest moves applied in the user's team (every team for an admin)."""
    query = select(OwnershipMove).order_by(OwnershipMove.at.desc(), OwnershipMove.id.desc())
    if user.role != Role.ADMIN.value:
        own = team_of(session, user)
        ids = [t.id for t in session.scalars(select(Territory).where(
            Territory.team_id == (own.id if own else -1)))]
        query = query.where(OwnershipMove.territory_id.in_(ids))
    return list(session.scalars(query.limit(limit)))
