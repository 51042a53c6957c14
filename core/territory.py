"""Teams and territories: their settings, the industries a territory covers, matching
accounts to territories and the areas a manager asks about (leads are core.leads)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, true
from sqlalchemy.orm import Session

from core.errors import Conflict, DomainError, Forbidden, NotFound
from core.models import Company, Contact, Role, Team, Territory, TerritoryRep, User
from core.models.coverage import (
    TerritoryIndustry,
    forget_territory_table,
    match_territory_id,
    territory_table,
)
from core.models.pipeline import PipelineSetting

DEFAULTS: dict[str, int] = {
    "claim_minutes": 60,  # how long a lead waits for a claim before allocation by rule
    "contact_by_days": 1,  # working days to a first logged activity
    "lead_cap": 25,  # open leads per rep (a rep's own lead_cap wins)
    "visit_norm": 8,  # visits a rep is expected to log per week (the coverage view)
    "deal_cap": 40,  # open deals per rep that "optimise my team" never goes past
    "account_cap": 250,  # accounts per rep that "optimise my team" never goes past
}


# -- settings -------------------------------------------------------------------------------
def setting(session: Session, key: str) -> int:
    row = session.get(PipelineSetting, key)
    if row is None:
        return DEFAULTS[key]
    return int(row.value.get("v", DEFAULTS[key]))


def cached_setting(session: Session, key: str) -> int:
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
    from core.contact_records import normalise

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
