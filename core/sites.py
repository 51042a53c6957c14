"""Customer sites with coordinates: set from an import, the demo or the chat (by the
account's owner or a manager, logged), customers near a point, and visit check-ins verified
against the nearest site.

"Near" queries never read every company: the indexed prefilter is (grid_row, lon) of
`company_sites` (core.geo: 1.1 km latitude rows, a longitude range in each), the exact
distance is computed only for the few rows inside the bounding box.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session

from core import geo
from core.errors import DomainError, Forbidden, NotFound
from core.models import (
    OPEN_STAGES,
    Activity,
    Company,
    Deal,
    Role,
    User,
)
from core.models.fieldday import CompanySite, SiteChange, VisitCheckin
from core.scope import company_visible, territory_ids_for

SITE_KINDS = ("head_office", "delivery", "other")
SOURCES = ("import", "chat", "link", "demo")
CHECK_IN_WINDOW = timedelta(hours=3)  # as core.activities: the visit a location checks in


@dataclass(frozen=True)
class Near:
    """A customer near a point: its nearest site and the distance to it."""

    company: Company
    site: CompanySite
    km: float


def check_point(lat: float, lon: float) -> tuple[float, float]:
    """The point as floats, or DomainError("site.bad_location")."""
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        raise DomainError("site.bad_location") from None
    if not geo.valid_point(lat, lon):
        raise DomainError("site.bad_location")
    return lat, lon


def sites_of(session: Session, company_id: int) -> list[CompanySite]:
    """A company's sites, head office first."""
    rows = session.scalars(select(CompanySite).where(CompanySite.company_id == company_id)
                           .order_by(CompanySite.id)).all()
    return sorted(rows, key=lambda s: (SITE_KINDS.index(s.kind) if s.kind in SITE_KINDS
                                       else len(SITE_KINDS), s.id))


def main_site(session: Session, company_id: int) -> CompanySite | None:
    """The head office, else the first site the company has."""
    sites = sites_of(session, company_id)
    return sites[0] if sites else None


def may_set_site(session: Session, user: User, company: Company) -> bool:
    """The account's owner, a manager whose team covers the account, or an admin."""
    if user.role == Role.ADMIN.value:
        return True
    if company.owner_id == user.id:
        return True
    if user.role == Role.MANAGER.value:
        return bool(session.scalar(select(Company.id).where(
            Company.id == company.id, company_visible(session, user))))
    return False


def put_site(session: Session, company: Company, lat: float, lon: float, *, now: datetime,
             source: str, user: User | None = None, kind: str = "head_office",
             label: str = "", address: str | None = None) -> CompanySite:
    """Create or move the company's site of this kind (and label), logging the change; the
    head office also becomes the company's own coordinates (used by field service)."""
    lat, lon = check_point(lat, lon)
    if kind not in SITE_KINDS:
        raise DomainError("site.bad_kind", kind=kind[:20])
    if source not in SOURCES:
        raise ValueError(source)
    label = (label or "").strip()[:120]
    site = session.scalar(select(CompanySite).where(
        CompanySite.company_id == company.id, CompanySite.kind == kind,
        CompanySite.label == label))
    old = (site.lat, site.lon) if site is not None else (None, None)
    if site is None:
        site = CompanySite(company_id=company.id, kind=kind, label=label, lat=lat, lon=lon,
                           grid_row=geo.grid_row(lat), source=source, created_at=now,
                           updated_at=now)
        session.add(site)
    elif (site.lat, site.lon) == (lat, lon):
        return site
    site.lat, site.lon, site.grid_row = lat, lon, geo.grid_row(lat)
    site.source, site.updated_at = source, now
    site.set_by_id = user.id if user is not None else None
    if address:
        site.address = address[:500]
    elif site.address is None:
        site.address = (company.delivery_address if kind == "delivery"
                        else company.head_office_address)
    session.flush()
    session.add(SiteChange(site_id=site.id, company_id=company.id,
                           user_id=user.id if user is not None else None,
                           old_lat=old[0], old_lon=old[1], new_lat=lat, new_lon=lon,
                           source=source, at=now))
    if kind == "head_office":
        company.lat, company.lon = lat, lon
    return site


def set_site_from_chat(session: Session, user: User, company_id: int, lat: float, lon: float,
                       *, now: datetime, kind: str = "head_office", source: str = "chat"
                       ) -> CompanySite:
    """A rep standing at the customer sets its site: owner, covering manager or admin."""
    company = session.scalar(select(Company).where(Company.id == company_id,
                                                   company_visible(session, user)))
    if company is None:
        raise NotFound("contacts.not_found")
    if not may_set_site(session, user, company):
        raise Forbidden("site.not_allowed", company=company.name)
    return put_site(session, company, lat, lon, now=now, source=source, user=user, kind=kind)


def site_history(session: Session, company_id: int, limit: int = 5) -> list[SiteChange]:
    """The latest changes of a company's sites, newest first."""
    return list(session.scalars(select(SiteChange).where(SiteChange.company_id == company_id)
                                .order_by(SiteChange.at.desc(), SiteChange.id.desc())
                                .limit(limit)))


# -- near a point ------------------------------------------------------------------------------
# Built once with bound parameters: building these per call cost more than running them.
_IN_BOX = (
    CompanySite.grid_row.in_(bindparam("rows", expanding=True)),
    CompanySite.lon.between(bindparam("min_lon"), bindparam("max_lon")),
    CompanySite.lat.between(bindparam("min_lat"), bindparam("max_lat")),
)
_BOX = (select(CompanySite.id, CompanySite.company_id, CompanySite.lat, CompanySite.lon)
        .join(Company, Company.id == CompanySite.company_id))
_BOX_ANY = _BOX.where(*_IN_BOX)
_BOX_SCOPED = _BOX.where(*_IN_BOX, or_(
    Company.territory_id.in_(bindparam("territories", expanding=True)),
    Company.owner_id == bindparam("owner")))
_TOP = (select(CompanySite, Company).join(Company, Company.id == CompanySite.company_id)
        .where(CompanySite.id.in_(bindparam("ids", expanding=True))))
_OPEN_DEALS = (select(Deal.company_id, func.count(), func.sum(Deal.amount))
               .where(Deal.company_id.in_(bindparam("ids", expanding=True)),
                      Deal.stage.in_([s.value for s in OPEN_STAGES]))
               .group_by(Deal.company_id))


def _box_params(lat: float, lon: float, radius_km: float) -> list[dict[str, Any]]:
    """Bound values of the box around a point (two boxes across the antimeridian)."""
    min_lat, max_lat, min_lon, max_lon = geo.bounding_box(lat, lon, radius_km)
    common = {"rows": geo.grid_rows(min_lat, max_lat), "min_lat": min_lat, "max_lat": max_lat}
    if min_lon >= -180 and max_lon <= 180:
        return [{**common, "min_lon": min_lon, "max_lon": max_lon}]
    if min_lon < -180:
        return [{**common, "min_lon": min_lon + 360, "max_lon": 180.0},
                {**common, "min_lon": -180.0, "max_lon": max_lon}]
    return [{**common, "min_lon": min_lon, "max_lon": 180.0},
            {**common, "min_lon": -180.0, "max_lon": max_lon - 360}]


def near(session: Session, user: User | None, lat: float, lon: float, *, radius_km: float,
         limit: int = 8) -> list[Near]:
    """Customers `user` may see (None: any) with a site within `radius_km`, nearest first;
    one entry per customer (its nearest site)."""
    lat, lon = check_point(lat, lon)
    stmt, scope = _BOX_ANY, {}
    if user is not None:
        if not user.active:
            return []
        territories = territory_ids_for(session, user)
        if territories is not None:  # None: an admin sees everything
            stmt, scope = _BOX_SCOPED, {"territories": sorted(territories), "owner": user.id}
    # Look in a small box first and widen it only while it holds fewer than `limit`
    # customers: whatever lies within radius r is nearer than anything outside it, so the
    # first r with `limit` customers gives the answer (a city centre reads ~1/60 of the
    # full radius' box).
    steps = [r for r in (radius_km / 8, radius_km / 4, radius_km / 2) if r >= 0.25]
    best: dict[int, tuple[float, int]] = {}
    for step in [*steps, radius_km]:
        best = {}
        for params in _box_params(lat, lon, step):
            # Bare columns for the rows in the box (no ORM objects), records for the top.
            for site_id, company_id, site_lat, site_lon in session.execute(
                    stmt, {**params, **scope}):
                km = geo.haversine_km(lat, lon, site_lat, site_lon)
                if km <= step and (company_id not in best or km < best[company_id][0]):
                    best[company_id] = (km, site_id)
        if len(best) >= limit:
            break
    top = sorted(best.items(), key=lambda kv: (kv[1][0], kv[0]))[:limit]
    if not top:
        return []
    loaded = {site.id: (site, company) for site, company in session.execute(
        _TOP, {"ids": [sid for _, (_, sid) in top]})}
    return [Near(loaded[sid][1], loaded[sid][0], km) for _, (km, sid) in top]


def nearest_site(session: Session, company_id: int, lat: float, lon: float
                 ) -> tuple[CompanySite, float] | None:
    """The company's site nearest to the point, with its distance in km."""
    sites = sites_of(session, company_id)
    if not sites:
        return None
    scored = [(geo.haversine_km(lat, lon, s.lat, s.lon), s.id, s) for s in sites]
    km, _, site = min(scored)
    return site, km


# -- what a rep should know about nearby customers ------------------------------------------
@dataclass(frozen=True)
class NearInfo:
    """Last contact and open deals of a customer, for the "near me" list."""

    last_contacted_at: datetime | None
    open_deals: int
    open_amount: float


def near_info(session: Session, companies: list[Company]) -> dict[int, NearInfo]:
    """Last contact and open-deal counts of several companies (one query)."""
    if not companies:
        return {}
    company_ids = [c.id for c in companies]
    last = {c.id: c.last_contacted_at for c in companies}
    deals = {cid: (int(n), float(a or 0)) for cid, n, a in session.execute(
        _OPEN_DEALS, {"ids": company_ids}).all()}
    return {cid: NearInfo(last.get(cid), *deals.get(cid, (0, 0.0))) for cid in company_ids}


# -- verified check-in -----------------------------------------------------------------------
def latest_visit(session: Session, user: User, now: datetime) -> Activity | None:
    """The user's latest visit logged in the check-in window (the one a location checks in)."""
    return session.scalar(
        select(Activity).where(Activity.user_id == user.id, Activity.kind == "visit",
                               Activity.occurred_at >= now - CHECK_IN_WINDOW,
                               Activity.occurred_at <= now)
        .order_by(Activity.occurred_at.desc(), Activity.id.desc()).limit(1))


def verify_check_in(session: Session, user: User, activity: Activity, lat: float, lon: float,
                    *, radius_m: int, now: datetime) -> VisitCheckin:
    """Compare the shared location with the customer's nearest site: verified within
    `radius_m`; outside, kept and marked with the distance; no site: kept, no distance.
    A second share for the same visit replaces the first."""
    lat, lon = check_point(lat, lon)
    if activity.user_id != user.id:
        raise NotFound("visit.nothing_to_check_in")
    found = nearest_site(session, activity.company_id, lat, lon)
    site, km = found if found is not None else (None, None)
    distance_m = round(km * 1000) if km is not None else None
    row = session.get(VisitCheckin, activity.id)
    if row is None:
        row = VisitCheckin(activity_id=activity.id, user_id=user.id,
                           company_id=activity.company_id, lat=lat, lon=lon, at=now)
        session.add(row)
    row.lat, row.lon, row.at = lat, lon, now
    row.site_id = site.id if site is not None else None
    row.distance_m = distance_m
    row.verified = distance_m is not None and distance_m <= radius_m
    activity.lat, activity.lon = lat, lon
    user.last_lat, user.last_lon, user.last_location_at = lat, lon, now
    return row


def checkin_of(session: Session, activity_id: int) -> VisitCheckin | None:
    return session.get(VisitCheckin, activity_id)
