"""Promised deliveries: scheduled, delayed (with the customer's draft), delivered, and the
rep reminded the day before to confirm it to the customer's contact."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import Conflict, DomainError, NotFound
from core.models import Company, Role, User
from core.models.scheduling import DeliverySchedule
from core.notices import cancel_notices, enqueue_notices
from core.scope import company_visible
from core.sweeps import sweep

DELIVERY_NOTICE_BEFORE = timedelta(hours=24)


def _visible_company(session: Session, user: User, company_id: int) -> Company:
    company = session.scalar(select(Company).where(Company.id == company_id,
                                                   company_visible(session, user)))
    if company is None:
        raise NotFound("delivery.company_not_found")
    return company


def schedule_delivery(session: Session, user: User, *, company_id: int, description: str,
                      when: datetime, now: datetime, contact_id: int | None = None,
                      deal_id: int | None = None) -> DeliverySchedule:
    """Record a promised delivery; the rep is reminded the day before, with a draft to the
    customer's contact person."""
    description = (description or "").strip()
    if len(description) < 2:
        raise DomainError("delivery.bad_description")
    if when <= now:
        raise DomainError("delivery.in_past")
    company = _visible_company(session, user, company_id)
    delivery = DeliverySchedule(company_id=company.id, contact_id=contact_id, deal_id=deal_id,
                                owner_id=user.id, description=description[:300],
                                scheduled_for=when, status="scheduled", created_at=now,
                                updated_at=now)
    session.add(delivery)
    session.flush()
    return delivery


def _own_delivery(session: Session, user: User, delivery_id: int) -> DeliverySchedule:
    delivery = session.scalar(select(DeliverySchedule).where(DeliverySchedule.id == delivery_id)
                              .with_for_update())
    if delivery is None or (delivery.owner_id != user.id and user.role not in (
            Role.MANAGER.value, Role.ADMIN.value)):
        raise NotFound("delivery.not_found")
    if delivery.status in ("delivered", "cancelled"):
        raise Conflict("delivery.closed", status=delivery.status)
    return delivery


def delay_delivery(session: Session, user: User, delivery_id: int, *, new_when: datetime,
                   reason: str, now: datetime) -> DeliverySchedule:
    """Move a delivery later; the bot drafts the delay confirmation for the customer."""
    delivery = _own_delivery(session, user, delivery_id)
    if new_when <= now:
        raise DomainError("delivery.in_past")
    if new_when <= delivery.scheduled_for:
        raise DomainError("delivery.not_later")
    if delivery.original_for is None:
        delivery.original_for = delivery.scheduled_for
    delivery.scheduled_for = new_when
    delivery.status = "delayed"
    delivery.delay_reason = (reason or "").strip()[:500] or None
    delivery.updated_at = now
    return delivery


def mark_delivered(session: Session, user: User, delivery_id: int, now: datetime
                   ) -> DeliverySchedule:
    delivery = _own_delivery(session, user, delivery_id)
    delivery.status = "delivered"
    delivery.updated_at = now
    cancel_notices(session, reason_prefix=f"delivery:{delivery.id}:")
    return delivery


def upcoming_deliveries(session: Session, user: User, now: datetime, *, limit: int = 10
                        ) -> list[DeliverySchedule]:
    return list(session.scalars(select(DeliverySchedule).where(
        DeliverySchedule.owner_id == user.id,
        DeliverySchedule.status.in_(("scheduled", "delayed")))
        .order_by(DeliverySchedule.scheduled_for).limit(limit)))


@sweep("deliveries.reminders", every=timedelta(minutes=10))
def delivery_reminders(session: Session, now: datetime) -> int:
    """A day before a delivery: remind the rep to confirm it to the customer's contact."""
    rows = session.execute(select(DeliverySchedule.id, DeliverySchedule.owner_id,
                                  DeliverySchedule.scheduled_for).where(
        DeliverySchedule.status.in_(("scheduled", "delayed")),
        DeliverySchedule.owner_id.is_not(None),
        DeliverySchedule.scheduled_for > now,
        DeliverySchedule.scheduled_for <= now + DELIVERY_NOTICE_BEFORE)).all()
    items = [dict(kind="delivery.upcoming",
                  reason=f"delivery:{did}:upcoming:{int(when.timestamp())}",
                  recipient_user_id=owner_id, due_at=now, params={"delivery_id": did})
             for did, owner_id, when in rows]
    return enqueue_notices(session, items, now)
