"""Approval requests: a manager approves or rejects, once; the requester is told. What a
decision does for its kind (apply the discount, unlock the Order placed gate) is passed in:
core.approval_outcomes names them all and decides with them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict, Forbidden, NotFound
from core.models import ApprovalRequest, Role, Team, User
from core.notices import enqueue_notice

# What a decision does for its kind: fn(session, request, now), run in the deciding
# transaction (core.approval_outcomes.OUTCOMES).
Outcome = Callable[[Session, ApprovalRequest, datetime], None]


def approver_for(session: Session, requester: User) -> User | None:
    """The requester's team manager (None when the team has none)."""
    if requester.team_id is None:
        return None
    team = session.get(Team, requester.team_id)
    return session.get(User, team.manager_id) if team and team.manager_id else None


def request_approval(
    session: Session,
    *,
    kind: str,
    ref_id: int,
    requester: User,
    now: datetime,
    amount: Decimal | None = None,
    deal_id: int | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> ApprovalRequest:
    """Open (or return the pending) request for `kind`/`ref_id`; notify the approver."""
    existing = session.scalar(select(ApprovalRequest).where(
        ApprovalRequest.kind == kind, ApprovalRequest.ref_id == ref_id,
        ApprovalRequest.status == "pending"))
    if existing is not None:
        return existing
    approver = approver_for(session, requester)
    request = ApprovalRequest(
        kind=kind, ref_id=ref_id, deal_id=deal_id, requested_by_id=requester.id,
        approver_id=approver.id if approver else None, amount=amount,
        details=dict(details or {}), reason=reason, status="pending", created_at=now)
    session.add(request)
    session.flush()
    target = approver or _any_admin(session)
    if target is not None:
        enqueue_notice(session, kind="approval.requested", reason=f"approval:{request.id}",
                       recipient_user_id=target.id, due_at=now, now=now,
                       params={"request_id": request.id}, urgent=True)
    return request


def _any_admin(session: Session) -> User | None:
    return session.scalar(select(User).where(User.role == Role.ADMIN.value, User.active)
                          .order_by(User.id).limit(1))


def decide(
    session: Session,
    *,
    request_id: int,
    user: User,
    approve: bool,
    now: datetime,
    note: str | None = None,
    outcomes: Mapping[str, Outcome],
) -> ApprovalRequest:
    """Approve or reject a pending request; only its approver or an admin, and only once;
    `outcomes[request.kind]` (if any) runs in the same transaction."""
    request = session.scalar(select(ApprovalRequest).where(ApprovalRequest.id == request_id)
                             .with_for_update())
    if request is None:
        raise NotFound("approval.not_found")
    if user.role != Role.ADMIN.value and request.approver_id != user.id:
        raise Forbidden("approval.not_approver")
    if request.status != "pending":
        decider = session.get(User, request.decided_by_id) if request.decided_by_id else None
        raise Conflict("approval.already_decided", status=request.status,
                       by=decider.name if decider else "?")
    request.status = "approved" if approve else "rejected"
    request.decided_by_id = user.id
    request.decided_at = now
    request.decision_note = note
    callback = outcomes.get(request.kind)
    if callback is not None:
        callback(session, request, now)
    enqueue_notice(session, kind="approval.decided", reason=f"approval:{request.id}:decided",
                   recipient_user_id=request.requested_by_id, due_at=now, now=now,
                   params={"request_id": request.id}, urgent=True)
    return request


def _waiting_clause(user: User) -> Any:
    from sqlalchemy import or_

    if user.role == Role.ADMIN.value:  # theirs, and those nobody else can decide
        return or_(ApprovalRequest.approver_id == user.id,
                   ApprovalRequest.approver_id.is_(None))
    return ApprovalRequest.approver_id == user.id


def waiting_for(session: Session, user: User, limit: int = 20) -> list[ApprovalRequest]:
    """The pending requests `user` decides (a manager's inbox), oldest first."""
    if user.role not in (Role.MANAGER.value, Role.ADMIN.value) or not user.active:
        return []
    return list(session.scalars(select(ApprovalRequest).where(
        ApprovalRequest.status == "pending", _waiting_clause(user))
        .order_by(ApprovalRequest.created_at, ApprovalRequest.id).limit(limit)))


def count_waiting(session: Session, user: User) -> int:
    """How many requests wait for `user`'s decision."""
    if user.role not in (Role.MANAGER.value, Role.ADMIN.value) or not user.active:
        return 0
    from sqlalchemy import func

    return session.scalar(select(func.count(ApprovalRequest.id)).where(
        ApprovalRequest.status == "pending", _waiting_clause(user))) or 0
