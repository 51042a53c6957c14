"""Guided sales process and territories: stage requirements, approvals, lead announcements."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class StageRule(Base):
    """An admin's override of one stage's entry requirements and win probability.

    Absent rows mean the defaults of core.pipeline apply."""

    __tablename__ = "stage_rules"

    stage: Mapped[str] = mapped_column(String(24), primary_key=True)
    requirements: Mapped[list[Any]] = mapped_column()
    probability: Mapped[int | None] = mapped_column(Integer)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column()


class PipelineSetting(Base):
    """A tunable of lead allocation (claim window, contact-by working days, lead cap)."""

    __tablename__ = "pipeline_settings"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class LeadAnnouncement(Base):
    """A new lead offered to a team channel: claimable until `claim_until`, then allocated
    by rule. `how` records how it got its owner: claim, rule, manager, queue."""

    __tablename__ = "lead_announcements"

    deal_id: Mapped[int] = mapped_column(
        ForeignKey("deals.id", ondelete="CASCADE"), primary_key=True
    )
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    announced_at: Mapped[datetime] = mapped_column()
    claim_until: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    how: Mapped[str | None] = mapped_column(String(16))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    settled_at: Mapped[datetime | None] = mapped_column()
