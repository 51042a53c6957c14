"""Teams, territories and leads: creation, announcement, claims (first wins, atomically),
allocation by rule, reassignment, contact-by dates and the escalation sweep."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    and_,
    case,
    delete,
    exists,
    func,
    or_,
    select,
    true,
    update,
)
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
from core.models.coverage import (
    TerritoryIndustry,
    forget_territory_table,
    match_territory_id,
    territory_table,
)
from core.models.pipeline import LeadAnnouncement, PipelineSetting
from core.notices import enqueue_notice
from core.sweeps import sweep

DEFAULTS: dict[str, int] = {
    "claim_minutes": 60,  # how long a lead waits for a claim before allocation by rule
    "contact_by_days": 1,  # working days to a first logged activity
    "lead_cap": 25,  # open leads per rep (a rep's own lead_cap wins)
    "visit_norm": 8,  # visits a rep is expected to log per week (the coverage view)
    "deal_cap": 40,  # open deals per rep that "optimise my team" never goes past
    "account_cap": 250,  # accounts per rep that "optimise my team" never goes past
}
LEAD_STAGES = (Stage.OPPORTUNITY.value, Stage.LEAD_ALLOCATED.value, Stage.CONTACTED.value)
WORKDAY_START = time(9, 0)


# -- settings -------------------------------------------------------------------------------
def setting(session: Session, key: str) -> int:
    row = session.get(PipelineSetting, key)
    if row is None:
        return DEFAULTS[key]
    return int(row.value.get("v", DEFAULTS[key]))


def _setting_cache(session: Session, key: str) -> int:
    """`setting` read once per session (sweeps and imports allocate many leads)."""
    cache = session.info.setdefault("pipeline_settings", {})
    if key not in cache:
        cache[key] = setting(session, key)
    return cache[key]


def set_setting(session: Session, user: User, key: str, value: int, now: datetime) -> None:
    if user.role != Role.ADMIN.value:
        raise Forbidden("deal.admin_only")
    if key not in DEFAULTS:
        raise DomainError("lead.bad_setting", key=key, known=", ".join(DEFAULTS))
    if not 0 < int(value) <= 10_000:
        raise DomainError("lead.bad_setting_value", key=key, value=value)
    session.info.pop("pipeline_settings", None)
    row = session.get(PipelineSetting, key)
    if row is None:
        session.add(PipelineSetting(key=key, value={"v": int(value)}, updated_at=now))
    else:
        row.value = {"v": int(value)}
        row.updated_at = now
    session.flush()


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


# -- teams and territories ------------------------------------------------------------------
def _admin(user: User) -> None:
    if user.role != Role.ADMIN.value:
        raise Forbidden("deal.admin_only")


def user_by_login(session: Session, login: str) -> User:
    user = session.scalar(select(User).where(func.lower(User.login) == (login or "").lower()))
    if user is None:
        raise NotFound("user.not_found", login=login)
    return user


def team_by_name(session: Session, name: str) -> Team:
    team = session.scalar(select(Team).where(func.lower(Team.name) == (name or "").lower()))
    if team is None:
        raise NotFound("lead.no_team", name=name)
    return team


def territory_by_name(session: Session, name: str) -> Territory:
    row = session.scalar(select(Territory).where(
        func.lower(Territory.name) == (name or "").lower()))
    if row is None:
        raise NotFound("lead.no_territory", name=name)
    return row


def upsert_team(session: Session, user: User, name: str, *, manager: str | None = None,
                channel: tuple[str, str] | None = None,
                threshold: Decimal | None = None) -> Team:
    """Admin: create or update a team (manager login, channel, approval threshold)."""
    _admin(user)
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise DomainError("lead.bad_name")
    team = session.scalar(select(Team).where(func.lower(Team.name) == name.lower()))
    if team is None:
        team = Team(name=name, approval_threshold=Decimal("500000000"), currency="IDR")
        session.add(team)
        session.flush()
    if manager:
        boss = user_by_login(session, manager)
        if boss.role not in (Role.MANAGER.value, Role.ADMIN.value):
            raise DomainError("lead.not_a_manager", login=manager)
        team.manager_id = boss.id
        if boss.team_id is None:
            boss.team_id = team.id
    if channel is not None:
        team.channel_platform, team.channel_id = channel
    if threshold is not None:
        if threshold < 0:
            raise DomainError("lead.bad_threshold")
        team.approval_threshold = threshold
    session.flush()
    return team


def upsert_territory(session: Session, user: User, name: str, *, region: str,
                     industry: str | None = None, team: str | None = None,
                     industries: Iterable[str] | None = None) -> Territory:
    """Admin: create or update a territory (region, the industries it covers, team).

    `industry` (one) is kept for older callers; `industries` (several) wins when given. On an
    existing territory, giving neither keeps its industries. Two territories of one region
    may not share an industry, nor both cover every industry (none listed)."""
    _admin(user)
    name, region = (name or "").strip(), (region or "").strip()
    if not name or not region or len(name) > 120 or len(region) > 80:
        raise DomainError("lead.bad_name")
    wanted = clean_industries(industries if industries is not None
                              else ([industry] if industry else None))
    row = session.scalar(select(Territory).where(func.lower(Territory.name) == name.lower()))
    if row is None:
        _check_clash(session, region, wanted or [], None)
        row = Territory(name=name, region=region)
        session.add(row)
        session.flush()
    else:
        current = industries_of(session, [row.id]).get(row.id, [])
        _check_clash(session, region, current if wanted is None else wanted, row.id)
        row.region = region
    if wanted is not None:
        _write_industries(session, row, wanted)
    if team:
        row.team_id = team_by_name(session, team).id
    session.flush()
    return row


def assign_rep(session: Session, user: User, territory: str, login: str,
               remove: bool = False) -> None:
    """Admin: add (or remove) a rep to a territory."""
    _admin(user)
    row = territory_by_name(session, territory)
    rep = user_by_login(session, login)
    link = session.get(TerritoryRep, (row.id, rep.id))
    if remove:
        if link is not None:
            session.delete(link)
    elif link is None:
        session.add(TerritoryRep(territory_id=row.id, user_id=rep.id))
    session.flush()


def set_away(session: Session, user: User, login: str, until: datetime | None) -> User:
    """A rep (for themself), their manager or an admin marks a rep away until a time."""
    rep = user_by_login(session, login)
    if user.id != rep.id and user.role != Role.ADMIN.value and not (
            user.role == Role.MANAGER.value and user.team_id == rep.team_id):
        raise Forbidden("lead.not_your_team")
    rep.away_until = until
    session.flush()
    return rep


# -- industries: what a territory covers, and matching accounts to territories ---------------
INDUSTRY_LIMIT = 80


def clean_industries(values: Iterable[str] | None) -> list[str] | None:
    """Industries as given, trimmed, without repeats (case-insensitive); None stays None."""
    if values is None:
        return None
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        text = " ".join(str(value or "").split())
        if not text:
            continue
        if len(text) > INDUSTRY_LIMIT:
            raise DomainError("lead.bad_industry", value=text[:40])
        if text.lower() not in seen:
            seen.add(text.lower())
            out.append(text)
    return out


def parse_industries(text: str | None) -> list[str]:
    """"Manufacturing, Logistics" (or separated by ; or |) -> the industries."""
    return clean_industries(re.split(r"[,;|]", text or "")) or []


def industries_of(session: Session, territory_ids: Iterable[int]) -> dict[int, list[str]]:
    """Each territory's industries (sorted, case aside); a territory without any is
    absent."""
    ids = list(set(territory_ids))
    out: dict[int, list[str]] = {}
    if not ids:
        return out
    for tid, industry in session.execute(
            select(TerritoryIndustry.territory_id, TerritoryIndustry.industry)
            .where(TerritoryIndustry.territory_id.in_(ids))):
        out.setdefault(tid, []).append(industry)
    for names in out.values():  # the same order on every database
        names.sort(key=lambda name: (name.lower(), name))
    return out


def _check_clash(session: Session, region: str, industries: list[str],
                 own_id: int | None) -> None:
    others = [t for t in session.scalars(select(Territory).where(
        func.lower(Territory.region) == region.lower())) if t.id != own_id]
    if not others:
        return
    covered = industries_of(session, [t.id for t in others])
    wanted = {i.lower() for i in industries}
    for other in others:
        theirs = {i.lower() for i in covered.get(other.id, [])}
        if (not wanted and not theirs) or wanted & theirs:
            raise Conflict("lead.territory_exists", name=other.name)


def _write_industries(session: Session, row: Territory, industries: list[str]) -> None:
    session.execute(delete(TerritoryIndustry).where(TerritoryIndustry.territory_id == row.id))
    for industry in industries:
        session.add(TerritoryIndustry(territory_id=row.id, industry=industry))
    # The single column older readers use mirrors the first industry.
    row.industry = industries[0] if industries else None
    forget_territory_table(session)
    session.flush()


def set_industries(session: Session, user: User, territory: str,
                   industries: Iterable[str]) -> Territory:
    """Admin: the industries a territory covers (empty: every industry of its region that
    no other territory there covers)."""
    _admin(user)
    row = territory_by_name(session, territory)
    wanted = clean_industries(industries) or []
    _check_clash(session, row.region, wanted, row.id)
    _write_industries(session, row, wanted)
    return row


def match_territory(session: Session, company: Company) -> Territory | None:
    """The company's territory, else the one of its city that covers its industry, else the
    city's territory that covers every other industry (core.models.coverage matches every
    account flushed without one the same way)."""
    if company.territory_id is not None:
        return session.get(Territory, company.territory_id)
    found = match_territory_id(territory_table(session), company.city, company.industry)
    return session.get(Territory, found) if found is not None else None


# -- areas: "contacts in Jakarta", "customers in manufacturing in Java West" ----------------
# Words of a question that name neither a place nor an industry.
_AREA_NOISE = frozenset({
    "account", "accounts", "ada", "akun", "all", "and", "apa", "are", "area", "at", "bidang",
    "client", "clients", "companies", "company", "contact", "contacts", "customer", "customers",
    "daerah", "daftar", "dalam", "dari", "di", "every", "for", "from", "give", "in", "industri",
    "industry", "is", "kasih", "klien", "kontak", "lihat", "list", "me", "my", "of", "our",
    "pelanggan", "people", "perusahaan", "please", "region", "saja", "sector", "sektor", "semua",
    "show", "siapa", "tampilkan", "team", "territory", "the", "tim", "tolong", "untuk", "what",
    "which", "who", "wilayah", "with", "within", "yang",
})
# Indonesian (and common) words for the demo's industries.
INDUSTRY_WORDS = {
    "manufaktur": "Manufacturing", "pabrik": "Manufacturing", "ritel": "Retail",
    "eceran": "Retail", "toko": "Retail",
    "perhotelan": "Hospitality", "hotel": "Hospitality", "hotels": "Hospitality",
    "logistik": "Logistics", "pengiriman": "Logistics", "kesehatan": "Healthcare",
    "rumah sakit": "Healthcare", "hospital": "Healthcare", "pendidikan": "Education",
    "sekolah": "Education", "school": "Education",
}
AREA_MATCH = 85.0


@dataclass(frozen=True)
class Area:
    """Where and what: a place (a team, a region or a territory) and/or an industry."""

    place: str | None = None
    place_kind: str | None = None  # team, region, territory
    territory_ids: tuple[int, ...] = ()
    industry: str | None = None

    @property
    def empty(self) -> bool:
        return self.place is None and self.industry is None


def _best(tokens: list[str], names: dict[str, tuple[str, str]], taken: set[int]
          ) -> tuple[float, int, str, str, set[int]] | None:
    """The name (normalised -> (kind, canonical)) best found in `tokens`: (score, length,
    kind, canonical, positions)."""
    from rapidfuzz import fuzz

    best: tuple[float, int, str, str, set[int]] | None = None
    for key, (kind, canonical) in names.items():
        words = key.split()
        n = len(words)
        for start in range(len(tokens) - n + 1):
            span = set(range(start, start + n))
            if span & taken:
                continue
            gram = " ".join(tokens[start:start + n])
            score = 100.0 if gram == key else (
                fuzz.ratio(gram, key) if len(key) >= 5 else 0.0)
            if score < AREA_MATCH:
                continue
            rank = (score, n)
            if best is None or rank > (best[0], best[1]):
                best = (score, n, kind, canonical, span)
    return best


def resolve_area(session: Session, text: str) -> Area:
    """Read a place and an industry from free words ("manufacturing in Java West",
    "wilayah Bandung", "Jakarta"); typos and missing diacritics are fine."""
    from core.contact_index import normalise

    tokens = [w for w in normalise(text) if w not in _AREA_NOISE]
    if not tokens:
        return Area()
    places: dict[str, tuple[str, str]] = {}
    kind_rank = {"team": 0, "region": 1, "territory": 2}

    def words(name: str | None) -> str:
        return " ".join(w for w in normalise(name or "") if w not in _AREA_NOISE)

    def add(kind: str, name: str | None) -> None:
        key = words(name)
        if key and (key not in places or kind_rank[kind] < kind_rank[places[key][0]]):
            places[key] = (kind, name or "")

    for name in session.scalars(select(Team.name)):
        add("team", name)
    for name, region in session.execute(select(Territory.name, Territory.region)):
        add("region", region)
        add("territory", name)
    for city in session.scalars(select(Company.city).where(Company.city.is_not(None))
                                .distinct().limit(2000)):
        add("region", city)
    industries: dict[str, tuple[str, str]] = {}
    known: set[str] = {i for i in session.scalars(select(Company.industry).where(
        Company.industry.is_not(None)).distinct().limit(500)) if i}
    known |= set(session.scalars(select(TerritoryIndustry.industry).distinct()))
    for industry in known:
        if key := words(industry):
            industries[key] = ("industry", industry)
    by_lower = {k.lower(): k for k in known}
    for word, canonical in INDUSTRY_WORDS.items():
        if canonical.lower() in by_lower:
            industries.setdefault(word, ("industry", by_lower[canonical.lower()]))
    found_industry = _best(tokens, industries, set())
    place = _best(tokens, places, set())
    if place is not None and found_industry is not None and place[4] & found_industry[4]:
        if (place[0], place[1]) >= (found_industry[0], found_industry[1]):
            found_industry = _best(tokens, industries, place[4])
        else:
            place = _best(tokens, places, found_industry[4])
    area_place: str | None = None
    area_kind: str | None = None
    ids: tuple[int, ...] = ()
    if place is not None:
        area_kind, area_place = place[2], place[3]
        if area_kind == "team":
            ids = tuple(session.scalars(select(Territory.id).join(Team, Team.id ==
                                                                   Territory.team_id)
                                        .where(Team.name == area_place)))
        elif area_kind == "territory":
            ids = tuple(session.scalars(select(Territory.id).where(
                Territory.name == area_place)))
    return Area(area_place, area_kind, ids, found_industry[3] if found_industry else None)


def _area_clause(session: Session, area: Area) -> ColumnElement[bool]:
    clauses: list[ColumnElement[bool]] = []
    if area.place_kind == "region" and area.place:
        region = area.place.lower()
        clauses.append(or_(func.lower(Company.city) == region, Company.territory_id.in_(
            select(Territory.id).where(func.lower(Territory.region) == region))))
    elif area.place_kind in ("team", "territory"):
        clauses.append(Company.territory_id.in_(list(area.territory_ids) or [-1]))
    if area.industry:
        clauses.append(func.lower(Company.industry) == area.industry.lower())
    return and_(*clauses) if clauses else true()


@dataclass
class AreaList:
    area: Area
    companies: int
    contacts: int
    # (label, count): by territory for an industry, by industry for a place
    breakdown: list[tuple[str, int]]


def area_counts(session: Session, user: User, area: Area) -> AreaList:
    """How many customers and contacts the user may see in the area, and a breakdown."""
    from core.scope import company_visible

    where = and_(company_visible(session, user), _area_clause(session, area))
    companies = session.scalar(select(func.count()).select_from(Company).where(where)) or 0
    contacts = session.scalar(select(func.count()).select_from(Contact).join(
        Company, Company.id == Contact.company_id).where(where)) or 0
    if area.industry and not area.place:
        label: Any = func.coalesce(Territory.name, "-")
        query = select(label, func.count()).select_from(Company).outerjoin(
            Territory, Territory.id == Company.territory_id)
    else:
        label = func.coalesce(Company.industry, "-")
        query = select(label, func.count()).select_from(Company)
    rows = session.execute(query.where(where).group_by(label)
                           .order_by(func.count().desc(), label).limit(8)).all()
    return AreaList(area, int(companies), int(contacts), [(str(k), int(n)) for k, n in rows])


def area_companies(session: Session, user: User, area: Area, limit: int | None = None
                   ) -> Iterator[Company]:
    """The customers of the area the user may see, by name."""
    from core.scope import company_visible

    query = (select(Company).where(company_visible(session, user),
                                   _area_clause(session, area))
             .order_by(Company.name, Company.id))
    if limit is not None:
        query = query.limit(limit)
    yield from session.scalars(query.execution_options(yield_per=1000))


def area_contacts(session: Session, user: User, area: Area, limit: int | None = None
                  ) -> Iterator[tuple[Contact, Company]]:
    """The contacts of the area's customers the user may see, by company and name."""
    from core.scope import company_visible

    query = (select(Contact, Company).join(Company, Company.id == Contact.company_id)
             .where(company_visible(session, user), _area_clause(session, area))
             .order_by(Company.name, Contact.name, Contact.id))
    if limit is not None:
        query = query.limit(limit)
    for row in session.execute(query.execution_options(yield_per=1000)):
        yield row[0], row[1]


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
        claim_until = now + timedelta(minutes=_setting_cache(session, "claim_minutes"))
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
    days = _setting_cache(session, "contact_by_days")
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
    from core.pipeline import get_deal

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
    from core.pipeline import get_deal

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
    from core.pipeline import get_deal

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
