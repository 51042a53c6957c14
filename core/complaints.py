"""Complaints: recorded with a severity and an owner, a follow-up half-way to the SLA, the
manager pinged when the SLA passes unresolved (the escalation sweep)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict, DomainError, Forbidden, NotFound
from core.models import Company, Contact, FollowUp, FollowUpStatus, Role, Team, User
from core.models.scheduling import Complaint
from core.notices import cancel_notices, enqueue_notice
from core.scope import company_visible
from core.sweeps import sweep

# Complaint severity -> time to resolve before the manager is pinged.
COMPLAINT_SLA: dict[str, timedelta] = {
    "critical": timedelta(hours=4),
    "high": timedelta(hours=24),
    "medium": timedelta(hours=72),
    "low": timedelta(days=7),
}


def _visible_company(session: Session, user: User, company_id: int) -> Company:
    company = session.scalar(select(Company).where(Company.id == company_id,
                                                   company_visible(session, user)))
    if company is None:
        raise NotFound("complaint.company_not_found")
    return company


def manager_of(session: Session, user: User | None) -> User | None:
    """The user's team manager, else the first active admin."""
    if user is not None and user.team_id is not None:
        team = session.get(Team, user.team_id)
        if team is not None and team.manager_id and team.manager_id != user.id:
            manager = session.get(User, team.manager_id)
            if manager is not None and manager.active:
                return manager
    return session.scalar(select(User).where(User.role == Role.ADMIN.value, User.active)
                          .order_by(User.id).limit(1))


def register_complaint(session: Session, user: User, *, company_id: int, issue: str,
                       severity: str, now: datetime, contact_id: int | None = None,
                       owner_id: int | None = None) -> Complaint:
    """Record a complaint, give it a follow-up owner and a follow-up reminder half-way to its
    SLA; the owner is told when it is someone else."""
    issue = (issue or "").strip()
    if len(issue) < 3:
        raise DomainError("complaint.bad_issue")
    if len(issue) > 2000:
        raise DomainError("complaint.issue_too_long", limit=2000)
    if severity not in COMPLAINT_SLA:
        raise DomainError("complaint.bad_severity", severity=severity[:20])
    company = _visible_company(session, user, company_id)
    owner = user
    if owner_id is not None and owner_id != user.id:
        chosen = session.get(User, owner_id)
        if chosen is None or not chosen.active or chosen.role == Role.TECHNICIAN.value:
            raise DomainError("complaint.bad_owner")
        owner = chosen
    if contact_id is not None:
        contact = session.get(Contact, contact_id)
        if contact is None or contact.company_id != company.id:
            raise NotFound("complaint.contact_not_found")
    sla = COMPLAINT_SLA[severity]
    complaint = Complaint(company_id=company.id, contact_id=contact_id, reported_by_id=user.id,
                          owner_id=owner.id, issue=issue, severity=severity, status="open",
                          sla_due_at=now + sla, created_at=now, updated_at=now)
    session.add(complaint)
    session.flush()
    fu = FollowUp(user_id=owner.id, company_id=company.id, contact_id=contact_id,
                  kind="complaint", note=issue[:500], due_at=now + sla / 2,
                  status=FollowUpStatus.OPEN.value, created_at=now)
    session.add(fu)
    session.flush()
    complaint.follow_up_id = fu.id
    if owner.id != user.id:
        enqueue_notice(session, kind="complaint.assigned",
                       reason=f"complaint:{complaint.id}:owner",
                       recipient_user_id=owner.id, due_at=now, now=now,
                       urgent=severity == "critical", params={"complaint_id": complaint.id})
    return complaint


def resolve_complaint(session: Session, user: User, complaint_id: int, resolution: str,
                      now: datetime) -> Complaint:
    """Close a complaint with what was done; its follow-up is closed too."""
    complaint = session.scalar(select(Complaint).where(Complaint.id == complaint_id)
                               .with_for_update())
    if complaint is None:
        raise NotFound("complaint.not_found")
    allowed = user.role == Role.ADMIN.value or user.id in (complaint.owner_id,
                                                          complaint.reported_by_id)
    if not allowed and user.role == Role.MANAGER.value:
        owner = session.get(User, complaint.owner_id) if complaint.owner_id else None
        allowed = owner is not None and owner.team_id == user.team_id
    if not allowed:
        raise Forbidden("complaint.not_owner")
    if complaint.status != "open":
        raise Conflict("complaint.closed")
    resolution = (resolution or "").strip()
    if len(resolution) < 3:
        raise DomainError("complaint.bad_resolution")
    complaint.status = "resolved"
    complaint.resolution = resolution[:2000]
    complaint.resolved_at = now
    complaint.updated_at = now
    if complaint.follow_up_id:
        fu = session.get(FollowUp, complaint.follow_up_id)
        if fu is not None and fu.status == FollowUpStatus.OPEN.value:
            fu.status = FollowUpStatus.DONE.value
            fu.done_at = now
            cancel_notices(session, reason_prefix=f"followup:{fu.id}:")
    return complaint


def open_complaints(session: Session, user: User, *, limit: int = 10) -> list[Complaint]:
    """Open complaints the user owns or reported (managers: their team's too)."""
    query = select(Complaint).where(Complaint.status == "open")
    if user.role == Role.MANAGER.value and user.team_id is not None:
        team_ids = select(User.id).where(User.team_id == user.team_id)
        query = query.where(Complaint.owner_id.in_(team_ids) |
                            (Complaint.reported_by_id == user.id))
    elif user.role != Role.ADMIN.value:
        query = query.where((Complaint.owner_id == user.id) |
                            (Complaint.reported_by_id == user.id))
    return list(session.scalars(query.order_by(Complaint.sla_due_at).limit(limit)))


@sweep("complaints.escalation", every=timedelta(minutes=5))
def escalate_complaints(session: Session, now: datetime) -> int:
    """Complaints still open past their SLA: the owner's manager is pinged, once."""
    rows = session.scalars(select(Complaint).where(
        Complaint.status == "open", Complaint.sla_due_at <= now,
        Complaint.escalated_at.is_(None)).limit(500)).all()
    count = 0
    for complaint in rows:
        owner = session.get(User, complaint.owner_id) if complaint.owner_id else None
        target = manager_of(session, owner)
        complaint.escalated_at = now
        if target is None:
            continue
        complaint.escalated_to_id = target.id
        if enqueue_notice(session, kind="complaint.escalation",
                          reason=f"complaint:{complaint.id}:escalated",
                          recipient_user_id=target.id, due_at=now, now=now, urgent=True,
                          params={"complaint_id": complaint.id}):
            count += 1
    return count
