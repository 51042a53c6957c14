"""Shared sales records: deals (leads are deals in their first stages), stage history,
activities, follow-ups and materials sent. Areas add their own tables beside these."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.models.accounts import Company, Contact
from core.models.base import Base, Money
from core.models.org import Territory, User


class Deal(Base):
    """An opportunity from first sighting (a lead) to Order placed or Lost."""

    __tablename__ = "deals"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    territory_id: Mapped[int | None] = mapped_column(
        ForeignKey("territories.id", ondelete="SET NULL"), index=True
    )
    stage: Mapped[str] = mapped_column(String(24), index=True)
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="IDR")
    source: Mapped[str | None] = mapped_column(String(60))
    need: Mapped[str | None] = mapped_column(Text)
    # Qualification facts gathered by the guided process (budget, need, timeline, ...).
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    lost_reason: Mapped[str | None] = mapped_column(String(200))
    contact_by: Mapped[datetime | None] = mapped_column(index=True)
    allocated_at: Mapped[datetime | None] = mapped_column()
    expected_close: Mapped[date | None] = mapped_column(Date)
    closed_at: Mapped[datetime | None] = mapped_column()
    last_activity_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)

    company: Mapped[Company] = relationship()
    contact: Mapped[Contact | None] = relationship()
    owner: Mapped[User | None] = relationship()
    territory: Mapped[Territory | None] = relationship()

    __mapper_args__ = {"version_id_col": version}


class DealStageChange(Base):
    """One move of a deal: who, when, from, to, why."""

    __tablename__ = "deal_stage_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    from_stage: Mapped[str | None] = mapped_column(String(24))
    to_stage: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(index=True)


class Activity(Base):
    """A logged visit, call, meeting or e-mail."""

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(40))
    notes: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column()
    lon: Mapped[float | None] = mapped_column()
    occurred_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()

    company: Mapped[Company] = relationship()
    contact: Mapped[Contact | None] = relationship()
    user: Mapped[User] = relationship()


Index("ix_activities_company_at", Activity.company_id, Activity.occurred_at)
Index("ix_activities_user_at", Activity.user_id, Activity.occurred_at)
Index("ix_activities_deal", Activity.deal_id)


class FollowUp(Base):
    """A dated next step (call back, meeting, send proposal...) that the scheduler reminds of."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    activity_id: Mapped[int | None] = mapped_column(
        ForeignKey("activities.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(32))  # follow_up, meeting, demo, proposal, ...
    note: Mapped[str | None] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column()
    # Meetings have an end; follow-ups are points in time.
    ends_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="open")
    snoozed_until: Mapped[datetime | None] = mapped_column()
    done_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()

    company: Mapped[Company | None] = relationship()
    contact: Mapped[Contact | None] = relationship()


Index("ix_follow_ups_due", FollowUp.status, FollowUp.due_at)
Index("ix_follow_ups_snoozed", FollowUp.status, FollowUp.snoozed_until)  # the due sweep
Index("ix_follow_ups_user_due", FollowUp.user_id, FollowUp.due_at)
Index("ix_follow_ups_company", FollowUp.company_id)


class MaterialSent(Base):
    """A brochure or other material sent to a contact: what, to whom, when, by whom."""

    __tablename__ = "materials_sent"

    id: Mapped[int] = mapped_column(primary_key=True)
    material: Mapped[str] = mapped_column(String(200))  # e.g. "brochure:SRV-X1" or a title
    product_sku: Mapped[str | None] = mapped_column(String(64), index=True)
    document_id: Mapped[int | None] = mapped_column(Integer)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sent_at: Mapped[datetime] = mapped_column()
    channel: Mapped[str | None] = mapped_column(String(32))  # email, whatsapp, printed, ...


class ApprovalRequest(Base):
    """A request for a manager's decision (a contract above threshold, a discount above a
    rep's limit). Only the approver (or an admin) decides, once."""

    __tablename__ = "approval_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))  # contract, discount
    ref_id: Mapped[int] = mapped_column(Integer, index=True)  # deal id, quote id, ...
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    approver_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    amount: Mapped[Decimal | None] = mapped_column(Money)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reason: Mapped[str | None] = mapped_column(Text)  # why it is asked
    status: Mapped[str] = mapped_column(String(16), default="pending")  # approved, rejected
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decision_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
    decided_at: Mapped[datetime | None] = mapped_column()
