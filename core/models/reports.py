"""Reporting: saved report templates (and an index that keeps activity reports fast)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base
from core.models.sales import Activity, DealStageChange


class ReportTemplate(Base):
    """A report saved under a name: measure x grouping x period (+ filters), optionally
    scheduled (e.g. weekly on Monday 08:00 in the owner's time zone)."""

    __tablename__ = "report_templates"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    schedule: Mapped[str | None] = mapped_column(String(40))  # "weekly" (Mon 08:00 local)
    created_at: Mapped[datetime] = mapped_column()
    last_sent_at: Mapped[datetime | None] = mapped_column()


# Covering indexes for grouped reports over large activity and stage-change tables.
Index("ix_activities_at_user_kind", Activity.occurred_at, Activity.user_id, Activity.kind)
# Activities per person / per customer and kind over a period, read from the index alone
# (covering: no table row is read; issue 23).
Index("ix_activities_user_kind_at", Activity.user_id, Activity.kind, Activity.occurred_at)
Index("ix_activities_company_at_kind", Activity.company_id, Activity.occurred_at, Activity.kind,
      Activity.user_id)
Index("ix_deal_stage_changes_to_at", DealStageChange.to_stage, DealStageChange.at)
