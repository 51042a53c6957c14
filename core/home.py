"""The user's day at a glance (the Slack App Home tab; any door may show it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.agenda import AgendaItem, week_agenda
from core.fieldservice import ACTIVE
from core.models import OPEN_STAGES, Company, Deal, User
from core.models.fieldservice import ServiceJob


@dataclass(frozen=True)
class StageSummary:
    stage: str
    count: int
    amount: Decimal


@dataclass(frozen=True)
class JobLine:
    id: int
    company: str
    status: str
    at: datetime | None  # ETA, else the window start
    priority: int


@dataclass(frozen=True)
class MyDay:
    overdue: list[AgendaItem]
    today: list[AgendaItem]
    pipeline: list[StageSummary] = field(default_factory=list)
    jobs: list[JobLine] = field(default_factory=list)

    @property
    def open_deals(self) -> int:
        return sum(s.count for s in self.pipeline)


def my_day(session: Session, user: User, now: datetime) -> MyDay:
    """Overdue items, today's follow-ups and meetings (local day), the open pipeline of the
    deals the user owns (by stage in pipeline order) and the service jobs they are on."""
    agenda = week_agenda(session, user, now, days=1)
    today_local = now.astimezone(ZoneInfo(user.timezone)).date()
    today = [item for day, items in agenda.days if day == today_local for item in items]
    rows = session.execute(
        select(Deal.stage, func.count(Deal.id), func.coalesce(func.sum(Deal.amount), 0))
        .where(Deal.owner_id == user.id, Deal.stage.in_([s.value for s in OPEN_STAGES]))
        .group_by(Deal.stage)
    ).all()
    by_stage = {stage: (count, Decimal(amount)) for stage, count, amount in rows}
    pipeline = [StageSummary(s.value, *by_stage[s.value]) for s in OPEN_STAGES
                if s.value in by_stage]
    job_rows = session.execute(
        select(ServiceJob.id, Company.name, ServiceJob.status, ServiceJob.eta_at,
               ServiceJob.window_start, ServiceJob.priority)
        .join(Company, Company.id == ServiceJob.company_id)
        .where(ServiceJob.technician_id == user.id, ServiceJob.status.in_(ACTIVE))
        .order_by(ServiceJob.priority, ServiceJob.id).limit(20)
    ).all()
    jobs = [JobLine(id=r[0], company=r[1], status=r[2], at=r[3] or r[4], priority=r[5])
            for r in job_rows]
    return MyDay(overdue=agenda.overdue, today=today, pipeline=pipeline, jobs=jobs)
