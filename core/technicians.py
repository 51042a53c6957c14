"""Technicians: their profiles (skills, territories' coverage, shift, load cap), last known
location, and the ranking that picks who gets a job's offer.

Eligible technicians have the job's skill, cover its territory, are on shift (their working
days and hours, in their own time zone) and are below their load cap. They are ranked by
haversine distance from their last known location plus a penalty per job they already hold.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy.orm import Session

from core.errors import DomainError
from core.models import Role, TerritoryRep, User
from core.models.fieldservice import (
    ACTIVE,
    SKILLS,
    ServiceJob,
    TechnicianProfile,
    TechnicianSkill,
)

LOAD_PENALTY_KM = 5.0  # one job already held counts like 5 km more travel
EARTH_RADIUS_KM = 6371.0088

# -- geometry and time ----------------
def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def on_shift(profile: TechnicianProfile | _ProfileRow, timezone: str, now: datetime) -> bool:
    """True when `now` falls in the technician's working days and hours (their zone)."""
    local = now.astimezone(ZoneInfo(timezone))
    return in_shift(profile.shift_start_min, profile.shift_end_min, profile.work_days,
                     local.weekday(), local.hour * 60 + local.minute)


def in_shift(start: int, end: int, days: str, day: int, minute: int) -> bool:
    if start <= end:
        return str(day) in days and start <= minute < end
    # A night shift: the part after midnight belongs to the previous day's shift.
    if minute >= start:
        return str(day) in days
    return minute < end and str((day - 1) % 7) in days

# -- technician profiles ----------------
def set_profile(
    session: Session,
    user: User,
    *,
    skills: Iterable[str],
    now: datetime,
    shift: tuple[int, int] = (8 * 60, 17 * 60),
    work_days: str = "01234",
    load_cap: int = 4,
    home_base: str | None = None,
) -> TechnicianProfile:
    """Create or replace a technician's dispatch profile and skills."""
    if user.role != Role.TECHNICIAN.value:
        raise DomainError("job.not_technician", name=user.name)
    clean = sorted({s.strip().lower() for s in skills if s.strip()})
    for skill in clean:
        if skill not in SKILLS:
            raise DomainError("job.bad_skill", skill=skill, skills=", ".join(SKILLS))
    if load_cap < 1 or not (0 <= shift[0] < 1440 and 0 < shift[1] <= 1440):
        raise DomainError("job.bad_profile")
    profile = session.get(TechnicianProfile, user.id)
    if profile is None:
        profile = TechnicianProfile(user_id=user.id, updated_at=now)
        session.add(profile)
    profile.shift_start_min, profile.shift_end_min = shift
    profile.work_days = "".join(sorted(set(work_days)))
    profile.load_cap = load_cap
    profile.home_base = home_base
    profile.dispatchable = True
    profile.updated_at = now
    existing = set(session.scalars(select(TechnicianSkill.skill).where(
        TechnicianSkill.user_id == user.id)))
    for skill in existing - set(clean):
        session.delete(session.get(TechnicianSkill, (user.id, skill)))
    for skill in set(clean) - existing:
        session.add(TechnicianSkill(user_id=user.id, skill=skill))
    session.flush()
    return profile


def record_location(user: User, lat: float, lon: float, now: datetime) -> None:
    """Remember a shared location as the user's last known position."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise DomainError("job.bad_location")
    user.last_lat, user.last_lon, user.last_location_at = lat, lon, now

# -- ranking ----------------
@dataclass(frozen=True)
class _ProfileRow:
    shift_start_min: int
    shift_end_min: int
    work_days: str


@dataclass(frozen=True)
class Candidate:
    """A technician who could take the job, with why they rank where they do."""

    user_id: int
    name: str
    distance_km: float | None
    load: int
    load_cap: int
    on_shift: bool
    score: float

    @property
    def eligible(self) -> bool:
        return self.on_shift and self.load < self.load_cap


def _rank_statement(by_territory: bool) -> Any:
    """The eligibility query, built once: technicians with the skill (covering the
    territory), active and dispatchable, with their current load (a correlated count of
    active jobs on an index)."""
    load = (select(func.count(ServiceJob.id))
            .where(ServiceJob.technician_id == User.id, ServiceJob.status.in_(ACTIVE))
            .correlate(User).scalar_subquery())
    columns = (User.id, User.name, User.timezone, User.last_lat, User.last_lon,
               TechnicianProfile.shift_start_min, TechnicianProfile.shift_end_min,
               TechnicianProfile.work_days, TechnicianProfile.load_cap, load)
    if by_territory:  # start from the territory's people
        stmt = (select(*columns).select_from(TerritoryRep)
                .join(TechnicianSkill, and_(TechnicianSkill.user_id == TerritoryRep.user_id,
                                            TechnicianSkill.skill == bindparam("skill")))
                .where(TerritoryRep.territory_id == bindparam("territory_id")))
    else:
        stmt = select(*columns).select_from(TechnicianSkill).where(
            TechnicianSkill.skill == bindparam("skill"))
    return (stmt.join(User, User.id == TechnicianSkill.user_id)
            .join(TechnicianProfile, TechnicianProfile.user_id == User.id)
            .where(User.active.is_(True), User.role == Role.TECHNICIAN.value,
                   TechnicianProfile.dispatchable.is_(True)))

_RANK_IN_TERRITORY = _rank_statement(True)

_RANK_ANYWHERE = _rank_statement(False)


def rank_technicians(
    session: Session,
    job: ServiceJob,
    now: datetime,
    *,
    exclude: Sequence[int] = (),
    eligible_only: bool = True,
    limit: int | None = None,
) -> list[Candidate]:
    """Technicians with the job's skill covering its territory, best first.

    Args:
        exclude: technicians not to consider (already offered this job).
        limit: return only the best `limit` (dispatch needs one).
        eligible_only: drop those off shift or at their load cap (the manager's manual
            assignment list keeps them, marked, at the end).
    """
    if job.territory_id is not None:
        rows = session.connection().execute(
            _RANK_IN_TERRITORY, {"skill": job.skill, "territory_id": job.territory_id})
    else:
        rows = session.connection().execute(_RANK_ANYWHERE, {"skill": job.skill})
    skip = set(exclude)
    has_site = job.site_lat is not None and job.site_lon is not None
    site_lat = math.radians(job.site_lat) if has_site else 0.0  # type: ignore[arg-type]
    site_lon = math.radians(job.site_lon) if has_site else 0.0  # type: ignore[arg-type]
    cos_site = math.cos(site_lat)
    radians, sin, cos, asin, sqrt = math.radians, math.sin, math.cos, math.asin, math.sqrt
    local_by_zone: dict[str, tuple[int, int]] = {}
    keyed: list[tuple[bool, float, int, int, Any]] = []
    for row in rows.fetchall():
        uid, _name, tz, lat, lon, s_start, s_end, days, cap, load = row
        if uid in skip:
            continue
        local = local_by_zone.get(tz)
        if local is None:
            when = now.astimezone(ZoneInfo(tz))
            local = local_by_zone[tz] = (when.weekday(), when.hour * 60 + when.minute)
        shift_ok = in_shift(s_start, s_end, days, local[0], local[1])
        eligible = shift_ok and load < cap
        if eligible_only and not eligible:
            continue
        if has_site and lat is not None and lon is not None:
            # haversine_km, inlined: this loop runs for every candidate of every dispatch.
            p1 = radians(lat)
            a = (sin((site_lat - p1) / 2) ** 2
                 + cos(p1) * cos_site * sin((site_lon - radians(lon)) / 2) ** 2)
            dist: float | None = 2 * EARTH_RADIUS_KM * asin(min(1.0, sqrt(a)))
        else:
            dist = None
        # Unknown distance ranks behind every known one.
        score = (dist if dist is not None else 10_000.0) + LOAD_PENALTY_KM * load
        keyed.append((not eligible, score, load, uid, (row, dist, shift_ok)))
    best = heapq.nsmallest(limit, keyed) if limit else sorted(keyed)
    return [Candidate(row[0], row[1], dist, int(row[9]), row[8], shift_ok, score)
            for _ineligible, score, _load, _uid, (row, dist, shift_ok) in best]
