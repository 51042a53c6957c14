"""Field service: service jobs dispatched to the right technician, offers with time-outs,
manager escalation, manual assignment, re-dispatch, what a user sees, and the CSV import.

Dispatch rule: the best technician (core.technicians ranks them) gets an offer that times
out after a priority-dependent delay; a decline or a time-out moves the job to the next
candidate; when nobody is left the territory's manager is asked to assign by hand. The job
row is locked for every change, so a job is never held by two technicians. The
technician's progress on the job is core.job_status.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.errors import Conflict, DomainError, Forbidden, NotFound
from core.models import Company, Deal, Role, Team, Territory, User
from core.models.fieldservice import (
    ACTIVE,
    FINISHED,
    OPEN,
    PRIORITIES,
    SKILLS,
    JobOffer,
    ServiceJob,
)
from core.notices import enqueue_notice
from core.sweeps import sweep
from core.technicians import haversine_km, rank_technicians

# How long a technician has to answer an offer.
OFFER_TIMEOUT: dict[int, timedelta] = {
    1: timedelta(minutes=5), 2: timedelta(minutes=15),
    3: timedelta(minutes=30), 4: timedelta(minutes=60),
}
# How soon someone must be on site when no time window is requested.
RESPONSE_WINDOW: dict[int, timedelta] = {
    1: timedelta(hours=4), 2: timedelta(hours=8),
    3: timedelta(days=1), 4: timedelta(days=3),
}
ETA_CHOICES_MIN: tuple[int, ...] = (30, 60, 120, 240)
DISPATCHER_ROLES = (Role.MANAGER.value, Role.ADMIN.value)


# -- creating jobs ----------------
def _check_priority(priority: int) -> int:
    if priority not in PRIORITIES:
        raise DomainError("job.bad_priority")
    return priority


def create_job(
    session: Session,
    *,
    company: Company,
    skill: str,
    priority: int,
    description: str,
    now: datetime,
    created_by: User | None = None,
    contact_id: int | None = None,
    deal_id: int | None = None,
    equipment: str | None = None,
    window: tuple[datetime, datetime] | None = None,
    site: tuple[str | None, float | None, float | None] | None = None,
    kind: str = "service",
    external_id: str | None = None,
) -> ServiceJob:
    """Record a service job at the customer's site (delivery address unless `site` given).

    Without a requested window the job must be attended within its priority's response
    window from `now`.
    """
    skill = skill.strip().lower()
    if skill not in SKILLS:
        raise DomainError("job.bad_skill", skill=skill, skills=", ".join(SKILLS))
    _check_priority(priority)
    description = (description or "").strip()
    if not 3 <= len(description) <= 2000:
        raise DomainError("job.bad_description")
    if created_by is not None and created_by.role not in DISPATCHER_ROLES:
        raise Forbidden("job.not_dispatcher")
    if window is None:
        window = (now, now + RESPONSE_WINDOW[priority])
    if window[1] <= window[0]:
        raise DomainError("job.bad_window")
    address, lat, lon = site or (
        company.delivery_address or company.head_office_address, company.lat, company.lon)
    job = ServiceJob(
        company_id=company.id, contact_id=contact_id, deal_id=deal_id,
        territory_id=company.territory_id, kind=kind, skill=skill, priority=priority,
        site_address=address, site_lat=lat, site_lon=lon,
        window_start=window[0], window_end=window[1], description=description,
        equipment=(equipment or "").strip()[:300] or None, status="new",
        created_by_id=created_by.id if created_by else None, parts=[],
        external_id=external_id, created_at=now, updated_at=now,
    )
    session.add(job)
    session.flush()
    return job


def create_installation_job(session: Session, deal: Deal, now: datetime) -> ServiceJob:
    """The installation job of a deal that reached Order placed (once per deal), dispatched.

    Called by the pipeline when a deal moves to Order placed; a second call returns the
    existing job.
    """
    existing = session.scalar(select(ServiceJob).where(
        ServiceJob.deal_id == deal.id, ServiceJob.kind == "installation"))
    if existing is not None:
        return existing
    company = session.get(Company, deal.company_id)
    if company is None:
        raise NotFound("job.not_found")
    job = create_job(
        session, company=company, skill="installation", priority=3,
        description=deal.title, now=now, contact_id=deal.contact_id, deal_id=deal.id,
        window=(now, now + timedelta(days=3)), kind="installation",
        equipment=str(deal.facts.get("order_ref") or "")[:300] or None,
    )
    dispatch(session, job, now)
    return job

# -- dispatch ----------------
def lock_job(session: Session, job_id: int) -> ServiceJob:
    job = session.scalar(select(ServiceJob).where(ServiceJob.id == job_id).with_for_update()
                         .execution_options(populate_existing=True))
    if job is None:
        raise NotFound("job.not_found")
    return job


def managers_for(session: Session, job: ServiceJob) -> list[User]:
    """Who is asked when dispatch runs out: the territory team's manager, the job's creator
    when a manager or admin; an admin when there is neither."""
    out: list[User] = []
    if job.territory_id is not None:
        territory = session.get(Territory, job.territory_id)
        team = session.get(Team, territory.team_id) if territory and territory.team_id else None
        if team is not None and team.manager_id is not None:
            manager = session.get(User, team.manager_id)
            if manager is not None and manager.active:
                out.append(manager)
    if job.created_by_id is not None:
        creator = session.get(User, job.created_by_id)
        if (creator is not None and creator.active and creator.role in DISPATCHER_ROLES
                and creator not in out):
            out.append(creator)
    if not out:
        admin = session.scalar(select(User).where(User.role == Role.ADMIN.value, User.active)
                               .order_by(User.id).limit(1))
        if admin is not None:
            out.append(admin)
    return out


def dispatch(session: Session, job: ServiceJob, now: datetime) -> JobOffer | None:
    """Offer the job to the best technician not yet asked; escalate when nobody is left.

    Returns the new offer, or None when the job was escalated to its managers.
    """
    if job.status not in ("new", "offered", "escalated"):
        return None
    asked = list(session.scalars(select(JobOffer.technician_id).where(
        JobOffer.job_id == job.id)))
    ranked = rank_technicians(session, job, now, exclude=asked, limit=1)
    job.updated_at = now
    if not ranked:
        job.status = "escalated"
        job.escalated_at = now
        for manager in managers_for(session, job):
            enqueue_notice(session, kind="job.escalation", reason=f"job:{job.id}:escalate:"
                           f"{len(asked)}", recipient_user_id=manager.id, due_at=now, now=now,
                           params={"job_id": job.id}, urgent=job.priority <= 2)
        return None
    best = ranked[0]
    offer = JobOffer(job_id=job.id, technician_id=best.user_id, rank=len(asked) + 1,
                     distance_km=best.distance_km, status="pending", offered_at=now,
                     expires_at=now + OFFER_TIMEOUT[job.priority])
    session.add(offer)
    session.flush()
    job.status = "offered"
    enqueue_notice(session, kind="job.offer", reason=f"job:{job.id}:offer:{offer.id}",
                   recipient_user_id=best.user_id, due_at=now, now=now,
                   params={"job_id": job.id, "offer_id": offer.id}, urgent=job.priority <= 2)
    return offer


def start_dispatch(session: Session, job_id: int, now: datetime) -> JobOffer | None:
    """Dispatch a newly created (or re-opened) job."""
    return dispatch(session, lock_job(session, job_id), now)


def pending_offer(session: Session, job_id: int) -> JobOffer | None:
    return session.scalar(select(JobOffer).where(JobOffer.job_id == job_id,
                                                 JobOffer.status == "pending"))


def _lock_offer(session: Session, offer_id: int, user: User) -> tuple[JobOffer, ServiceJob]:
    offer = session.get(JobOffer, offer_id)
    if offer is None or offer.technician_id != user.id:
        raise NotFound("job.offer_not_found")
    job = lock_job(session, offer.job_id)
    session.refresh(offer)
    return offer, job


def _refuse_stale_offer(offer: JobOffer, job: ServiceJob, now: datetime) -> None:
    if offer.status == "accepted":
        raise Conflict("job.offer_already_accepted", job=job.id)
    if offer.status != "pending" or offer.expires_at <= now:
        raise Conflict("job.offer_gone", job=job.id)


def accept_offer(
    session: Session, *, offer_id: int, user: User, eta_minutes: int, now: datetime
) -> ServiceJob:
    """The technician takes the job; refused when the offer timed out or moved on."""
    offer, job = _lock_offer(session, offer_id, user)
    _refuse_stale_offer(offer, job, now)
    if eta_minutes not in ETA_CHOICES_MIN and not 5 <= eta_minutes <= 24 * 60:
        raise DomainError("job.bad_eta")
    if job.technician_id is not None:  # a manager assigned it meanwhile
        raise Conflict("job.offer_gone", job=job.id)
    offer.status, offer.answered_at = "accepted", now
    job.status, job.technician_id, job.assigned_at = "assigned", user.id, now
    job.eta_at = now + timedelta(minutes=eta_minutes)
    job.updated_at = now
    for manager in dispatchers_of(session, job):  # "you will hear when it is taken"
        enqueue_notice(session, kind="job.accepted", reason=f"job:{job.id}:accepted:{offer.id}",
                       recipient_user_id=manager.id, due_at=now, now=now,
                       params={"job_id": job.id, "technician_id": user.id})
    return job


def dispatchers_of(session: Session, job: ServiceJob) -> list[User]:
    """Who dispatched the job: its creator when a manager or admin, else its managers."""
    if job.created_by_id is not None:
        creator = session.get(User, job.created_by_id)
        if creator is not None and creator.active and creator.role in DISPATCHER_ROLES:
            return [creator]
    return managers_for(session, job)


def customer_rep(session: Session, job: ServiceJob) -> User | None:
    """The rep of the job's customer: the deal's owner, else the account's owner."""
    rep_id = None
    if job.deal_id is not None:
        deal = session.get(Deal, job.deal_id)
        rep_id = deal.owner_id if deal else None
    if rep_id is None:
        company = session.get(Company, job.company_id)
        rep_id = company.owner_id if company else None
    rep = session.get(User, rep_id) if rep_id else None
    return rep if rep is not None and rep.active else None


def decline_offer(
    session: Session, *, offer_id: int, user: User, now: datetime
) -> JobOffer | None:
    """The technician passes; the job goes to the next candidate (returned) or escalates."""
    offer, job = _lock_offer(session, offer_id, user)
    _refuse_stale_offer(offer, job, now)
    offer.status, offer.answered_at = "declined", now
    session.flush()
    return dispatch(session, job, now)


@sweep("fieldservice.offers", every=timedelta(minutes=1))
def expire_offers(session: Session, now: datetime) -> int:
    """Time out unanswered offers (next candidate, or the manager)."""
    stmt = (select(JobOffer.id).where(JobOffer.status == "pending", JobOffer.expires_at <= now)
            .order_by(JobOffer.expires_at).limit(500))
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    count = 0
    for offer_id in list(session.scalars(stmt)):
        offer = session.get(JobOffer, offer_id)
        assert offer is not None
        job = lock_job(session, offer.job_id)
        session.refresh(offer)
        if offer.status != "pending":
            continue
        offer.status, offer.answered_at = "expired", now
        session.flush()
        dispatch(session, job, now)
        count += 1
    return count

# -- manual assignment ----------------
def assign_job(
    session: Session, *, job_id: int, technician_id: int, by: User, now: datetime
) -> ServiceJob:
    """A manager or admin gives the job to a technician by hand; the first one wins."""
    if by.role not in DISPATCHER_ROLES:
        raise Forbidden("job.not_dispatcher")
    job = lock_job(session, job_id)
    if job.technician_id is not None or job.status not in OPEN:
        holder = session.get(User, job.technician_id) if job.technician_id else None
        who = session.get(User, job.assigned_by_id) if job.assigned_by_id else None
        raise Conflict("job.already_assigned", job=job.id,
                       tech=holder.name if holder else "—", by=who.name if who else "—")
    tech = session.get(User, technician_id)
    if tech is None or tech.role != Role.TECHNICIAN.value or not tech.active:
        raise NotFound("job.technician_not_found")
    for offer in session.scalars(select(JobOffer).where(JobOffer.job_id == job.id,
                                                        JobOffer.status == "pending")):
        offer.status, offer.answered_at = "withdrawn", now
    job.status, job.technician_id, job.assigned_at = "assigned", tech.id, now
    job.assigned_by_id = by.id
    job.updated_at = now
    enqueue_notice(session, kind="job.assigned", reason=f"job:{job.id}:assigned",
                   recipient_user_id=tech.id, due_at=now, now=now,
                   params={"job_id": job.id}, urgent=job.priority <= 2)
    return job


def redispatch(session: Session, *, job_id: int, by: User, now: datetime) -> JobOffer | None:
    """A manager re-opens a job that could not be completed: it is offered again to the
    technicians not asked yet (or escalated back). The first press wins."""
    if by.role not in DISPATCHER_ROLES:
        raise Forbidden("job.not_dispatcher")
    job = lock_job(session, job_id)
    if job.status != "cannot_complete":
        raise Conflict("job.bad_status", job=job.id, status=job.status)
    job.status, job.technician_id, job.eta_at = "new", None, None
    job.assigned_at = job.en_route_at = job.arrived_at = job.finished_at = None
    job.assigned_by_id = None
    job.delay_noted_at = None
    job.updated_at = now
    session.flush()
    return dispatch(session, job, now)

# -- reading ----------------
def get_job(session: Session, job_id: int, user: User) -> ServiceJob:
    """A job the user may see: their own (technicians), any in scope (managers, admins)."""
    job = session.get(ServiceJob, job_id)
    if job is None:
        raise NotFound("job.not_found")
    if user.role == Role.ADMIN.value:
        return job
    if user.role == Role.TECHNICIAN.value:
        offered = session.scalar(select(JobOffer.id).where(
            JobOffer.job_id == job.id, JobOffer.technician_id == user.id))
        if job.technician_id == user.id or offered is not None:
            return job
        raise NotFound("job.not_found")
    from core.scope import territory_ids_for

    ids = territory_ids_for(session, user) or set()
    if job.territory_id in ids or job.created_by_id == user.id:
        return job
    if user.role == Role.REP.value:
        company = session.get(Company, job.company_id)
        if company is not None and company.owner_id == user.id:
            return job
    raise NotFound("job.not_found")


def pending_offers_for(session: Session, user: User, now: datetime) -> list[JobOffer]:
    return list(session.scalars(select(JobOffer).where(
        JobOffer.technician_id == user.id, JobOffer.status == "pending",
        JobOffer.expires_at > now).order_by(JobOffer.expires_at)))


def route_for_today(session: Session, user: User, now: datetime) -> list[ServiceJob]:
    """The technician's active jobs due today (or overdue) as a sensible route.

    Jobs with a time window ending today come first, by the end of their window; the rest
    follow nearest-next from where the route so far ends (the technician's last location
    at the start).
    """
    tz = ZoneInfo(user.timezone)
    local = now.astimezone(tz)
    day_end = (local.replace(hour=0, minute=0, second=0, microsecond=0)
               + timedelta(days=1)).astimezone(now.tzinfo)
    jobs = list(session.scalars(select(ServiceJob).where(
        ServiceJob.technician_id == user.id, ServiceJob.status.in_(ACTIVE),
        or_(ServiceJob.window_start.is_(None), ServiceJob.window_start < day_end),
    ).order_by(ServiceJob.id)))
    # The job the technician is at comes first whatever its window.
    here = [j for j in jobs if j.status == "on_site"]
    timed = sorted((j for j in jobs if j.status != "on_site" and j.window_end is not None
                    and j.window_end <= day_end),
                   key=lambda j: (j.window_end, j.priority, j.id))
    rest = [j for j in jobs if j not in here and j not in timed]
    route = here + timed
    pos: tuple[float, float] | None = None
    for job in reversed(route):
        if job.site_lat is not None and job.site_lon is not None:
            pos = (job.site_lat, job.site_lon)
            break
    if pos is None and user.last_lat is not None and user.last_lon is not None:
        pos = (user.last_lat, user.last_lon)
    while rest:
        def cost(j: ServiceJob, at: tuple[float, float] | None = pos) -> tuple[float, int, int]:
            if at is None or j.site_lat is None or j.site_lon is None:
                return (1e9, j.priority, j.id)
            return (haversine_km(at[0], at[1], j.site_lat, j.site_lon), j.priority, j.id)

        nxt = min(rest, key=cost)
        rest.remove(nxt)
        route.append(nxt)
        if nxt.site_lat is not None and nxt.site_lon is not None:
            pos = (nxt.site_lat, nxt.site_lon)
    return route


def open_jobs_for_manager(session: Session, user: User, limit: int = 20) -> list[ServiceJob]:
    """Jobs not finished in the manager's scope (admins: all), unassigned first."""
    stmt = select(ServiceJob).where(ServiceJob.status.not_in(FINISHED))
    if user.role != Role.ADMIN.value:
        from core.scope import territory_ids_for

        ids = territory_ids_for(session, user) or set()
        stmt = stmt.where(or_(ServiceJob.territory_id.in_(ids),
                              ServiceJob.created_by_id == user.id))
    rows = list(session.scalars(stmt.order_by(ServiceJob.priority, ServiceJob.id).limit(200)))
    order = {"escalated": 0, "new": 1, "offered": 2}
    rows.sort(key=lambda j: (order.get(j.status, 3), j.priority, j.id))
    return rows[:limit]

# -- import ----------------
@dataclass
class ImportResult:
    created: list[int] = field(default_factory=list)
    skipped: int = 0
    errors: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)

IMPORT_COLUMNS = ("company", "skill", "priority", "description")


def _parse_when(text: str) -> datetime | None:
    text = (text or "").strip()
    if not text:
        return None
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("naive")
    return value


def import_jobs(
    session: Session, data: str, *, now: datetime, by: User | None = None,
    dispatch_now: bool = True,
) -> ImportResult:
    """Import jobs from CSV text (a small importer of this area's own).

    Columns: company (name or external id), skill, priority (1-4 or P1-P4), description;
    optional: equipment, address, lat, lon, window_start, window_end (ISO with offset),
    external_id. A row whose external_id exists is skipped; a bad row is reported by line
    and written nowhere; the good rows are kept.
    """
    reader = csv.DictReader(io.StringIO(data.lstrip("\ufeff")))
    headers = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in IMPORT_COLUMNS if c not in headers]
    if missing:
        raise DomainError("job.import_columns", columns=", ".join(missing))
    result = ImportResult()
    for line, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        ext = row.get("external_id") or None
        if ext and session.scalar(select(ServiceJob.id).where(ServiceJob.external_id == ext)):
            result.skipped += 1
            continue
        try:
            with session.begin_nested():
                job = _import_row(session, row, ext, now, by)
                if dispatch_now:
                    dispatch(session, job, now)
        except DomainError as exc:
            result.errors.append((line, exc.code, exc.params))
            continue
        result.created.append(job.id)
    return result


def _import_row(
    session: Session, row: dict[str, str], ext: str | None, now: datetime, by: User | None
) -> ServiceJob:
    name = row["company"]
    company = session.scalar(select(Company).where(Company.external_id == name)) or \
        session.scalar(select(Company).where(func.lower(Company.name) == name.lower())
                       .order_by(Company.id).limit(1))
    if company is None:
        raise DomainError("job.import_company", company=name)
    try:
        priority = int(row["priority"].upper().lstrip("P"))
        start, end = _parse_when(row.get("window_start", "")), _parse_when(
            row.get("window_end", ""))
        lat = float(row["lat"]) if row.get("lat") else None
        lon = float(row["lon"]) if row.get("lon") else None
    except ValueError:
        raise DomainError("job.import_value") from None
    if (start is None) != (end is None):
        raise DomainError("job.bad_window")
    site = None
    if row.get("address") or lat is not None:
        if (lat is None) != (lon is None) or (
                lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180)):  # type: ignore[operator]
            raise DomainError("job.bad_location")
        site = (row.get("address") or company.delivery_address, lat, lon)
    return create_job(
        session, company=company, skill=row["skill"], priority=_check_priority(priority),
        description=row["description"], now=now, created_by=by,
        equipment=row.get("equipment"), window=(start, end) if start and end else None,
        site=site, external_id=ext,
    )
