"""The technician's progress on a job: on the way, arrived (a location at the site),
done (notes, parts, a photo), cannot complete (a reason), a new ETA; a job slipping past
its window asks the rep to tell the customer (once per ETA, also found by a sweep).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict, DomainError, NotFound
from core.fieldservice import ACTIVE, customer_rep, lock_job, managers_for
from core.models import User
from core.models.fieldservice import ServiceJob
from core.notices import enqueue_notice
from core.sweeps import sweep
from core.technicians import haversine_km, record_location

ARRIVAL_RADIUS_KM = 0.5  # an "on site" location share must be this close to the site


# -- the technician's status flow ----------------
def own_job(session: Session, job_id: int, user: User, *allowed: str) -> ServiceJob:
    job = lock_job(session, job_id)
    if job.technician_id != user.id:
        raise NotFound("job.not_found")
    if job.status not in allowed:
        raise Conflict("job.bad_status", job=job.id, status=job.status)
    return job


def start_travel(session: Session, *, job_id: int, user: User, now: datetime) -> ServiceJob:
    """Assigned -> en route."""
    job = own_job(session, job_id, user, "assigned")
    job.status, job.en_route_at, job.updated_at = "en_route", now, now
    return job


def distance_to_site(job: ServiceJob, lat: float, lon: float) -> float | None:
    if job.site_lat is None or job.site_lon is None:
        return None
    return haversine_km(lat, lon, job.site_lat, job.site_lon)


def arrive(
    session: Session, *, job_id: int, user: User, lat: float, lon: float, now: datetime
) -> ServiceJob:
    """Assigned / en route -> on site, when the shared location is at the site."""
    job = own_job(session, job_id, user, "assigned", "en_route")
    record_location(user, lat, lon, now)
    dist = distance_to_site(job, lat, lon)
    if dist is not None and dist > ARRIVAL_RADIUS_KM:
        raise DomainError("job.too_far", km=f"{dist:.1f}",
                          radius=int(ARRIVAL_RADIUS_KM * 1000))
    if job.en_route_at is None:
        job.en_route_at = now
    job.status, job.arrived_at, job.updated_at = "on_site", now, now
    rep = customer_rep(session, job)
    if rep is not None:  # the customer's rep hears the technician is there
        enqueue_notice(session, kind="job.arrived", reason=f"job:{job.id}:arrived",
                       recipient_user_id=rep.id, due_at=now, now=now,
                       params={"job_id": job.id})
    return job


def parse_parts(text: str) -> list[dict[str, Any]]:
    """"2x filter, belt; 3 fuse" -> [{"qty": 2, "item": "filter"}, ...]."""
    out: list[dict[str, Any]] = []
    for raw in text.replace(";", ",").replace("\n", ",").split(","):
        item = raw.strip()
        if not item:
            continue
        qty = 1
        head, _, rest = item.partition(" ")
        digits = head.lower().rstrip("x×")
        if rest and digits.isdigit() and 0 < int(digits) <= 10_000:
            qty, item = int(digits), rest.strip()
        if len(item) > 120:
            raise DomainError("job.bad_parts")
        out.append({"qty": qty, "item": item})
    if len(out) > 50:
        raise DomainError("job.bad_parts")
    return out


def complete_job(
    session: Session,
    *,
    job_id: int,
    user: User,
    notes: str,
    parts: list[dict[str, Any]],
    now: datetime,
    photo: tuple[str, str, bytes] | None = None,
) -> ServiceJob:
    """On site -> done, with notes, parts used and an optional photo; rep and manager told."""
    job = own_job(session, job_id, user, "on_site")
    notes = (notes or "").strip()
    if not notes:
        raise DomainError("job.notes_missing")
    job.status, job.finished_at, job.updated_at = "done", now, now
    job.notes = notes[:4000]
    job.parts = list(parts)
    if photo is not None:
        job.photo_name, job.photo_mime, job.photo = photo
    for recipient in told_of_outcome(session, job):
        enqueue_notice(session, kind="job.completed", reason=f"job:{job.id}:completed",
                       recipient_user_id=recipient.id, due_at=now, now=now,
                       params={"job_id": job.id})
    return job


def cannot_complete(
    session: Session, *, job_id: int, user: User, reason: str, now: datetime
) -> ServiceJob:
    """Assigned / en route / on site -> cannot complete (reason); the managers are told."""
    job = own_job(session, job_id, user, *ACTIVE)
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise DomainError("job.reason_missing")
    job.status, job.finished_at, job.updated_at = "cannot_complete", now, now
    job.failure_reason = reason[:2000]
    for recipient in told_of_outcome(session, job):
        enqueue_notice(session, kind="job.cannot_complete", reason=f"job:{job.id}:failed",
                       recipient_user_id=recipient.id, due_at=now, now=now,
                       params={"job_id": job.id}, urgent=job.priority <= 2)
    return job


def told_of_outcome(session: Session, job: ServiceJob) -> list[User]:
    """The rep (deal owner, else account owner) and the managers."""
    rep = customer_rep(session, job)
    out: list[User] = [rep] if rep is not None else []
    for manager in managers_for(session, job):
        if manager not in out:
            out.append(manager)
    return out

# -- delays ----------------
def is_late(job: ServiceJob, now: datetime) -> bool:
    """The expected arrival is past the window's end (and the technician is not there)."""
    if job.status not in ("assigned", "en_route") or job.window_end is None:
        return False
    expected = max(job.eta_at or now, now)
    return expected > job.window_end


def set_eta(
    session: Session, *, job_id: int, user: User, minutes: int, now: datetime
) -> ServiceJob:
    """The technician gives a new ETA (running late); a slip past the window is noted."""
    job = own_job(session, job_id, user, "assigned", "en_route")
    if not 5 <= minutes <= 24 * 60:
        raise DomainError("job.bad_eta")
    job.eta_at = now + timedelta(minutes=minutes)
    job.updated_at = now
    note_delay(session, job, now)
    return job


def note_delay(session: Session, job: ServiceJob, now: datetime) -> bool:
    """When the job is late, ask the rep (and managers) to send the customer the drafted
    delay notice; once per ETA. True when noted."""
    if not is_late(job, now):
        return False
    eta = max(job.eta_at or now, now)
    stamp = int(eta.timestamp()) // 60
    noted = False
    for recipient in told_of_outcome(session, job):
        row = enqueue_notice(session, kind="job.delay", reason=f"job:{job.id}:delay:{stamp}",
                             recipient_user_id=recipient.id, due_at=now, now=now,
                             params={"job_id": job.id, "eta": eta.isoformat()})
        noted = noted or row is not None
    if noted:
        job.delay_noted_at = now
    return noted


@sweep("fieldservice.late_jobs", every=timedelta(minutes=1))
def note_late_jobs(session: Session, now: datetime) -> int:
    """Jobs whose window ended with nobody on site yet and no delay noted: note them."""
    rows = session.scalars(select(ServiceJob).where(
        ServiceJob.status.in_(("assigned", "en_route")), ServiceJob.window_end < now,
        ServiceJob.delay_noted_at.is_(None)).limit(500))
    return sum(1 for job in rows if note_delay(session, job, now))
