"""Scheduler: outbox, delivery schedules, complaints and customer message drafts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class OutboxRow(Base):
    """One rendered message to one chat, sent by the drain loop exactly once per `key`.

    `key` is the notice key plus the platform: a second render of the same notice is a
    no-op. A sender claims a row (`claimed_by` / `claimed_until`); a claim whose lease ran
    out is taken again by any scheduler process.
    """

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    notice_id: Mapped[int | None] = mapped_column(
        ForeignKey("notices.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # {"text": ..., "buttons": [[[label, payload], ...]], "attachment": [name, mime, b64]}
    message: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # sending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_until: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    external_id: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()


Index("ix_outbox_status_next", OutboxRow.status, OutboxRow.next_attempt_at)


class Complaint(Base):
    """A customer complaint: what, how severe, who follows it up, by when (the SLA)."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    reported_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    issue: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16))  # low, medium, high, critical
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # resolved
    sla_due_at: Mapped[datetime] = mapped_column()
    follow_up_id: Mapped[int | None] = mapped_column(
        ForeignKey("follow_ups.id", ondelete="SET NULL"))
    escalated_at: Mapped[datetime | None] = mapped_column()
    escalated_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class DeliverySchedule(Base):
    """A promised delivery to a customer; a delay is confirmed to the contact person."""

    __tablename__ = "delivery_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    description: Mapped[str] = mapped_column(String(300))
    scheduled_for: Mapped[datetime] = mapped_column(index=True)
    original_for: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="scheduled")  # delayed, delivered
    delay_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class CustomerMessage(Base):
    """Copy-ready text the bot drafted for a rep to send to a customer, and whether it went.

    Customers are not bot users: the rep sends the text themselves and presses "Sent".
    """

    __tablename__ = "customer_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))  # delivery, delay, thanks, complaint
    ref_id: Mapped[int | None] = mapped_column(Integer)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
