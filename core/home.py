"""The user's day at a glance (the Slack App Home tab; any door may show it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.agenda import AgendaItem, week_agenda
from core.models import OPEN_STAGES, Deal, User


@dataclass(frozen=True)
class StageSummary:
    stage: str
    count: int
    amount: Decimal


@dataclass(frozen=True)
class MyDay:
    overdue: list[AgendaItem]
    today: list[AgendaItem]
    pipeline: list[StageSummary] = field(default_factory=list)

    @property
    def open_deals(self) -> int:
        return sum(s.count for s in self.pipeline)


def my_day(session: Session, user: User, now: datetime) -> MyDay:
    """Overdue items, today's follow-ups and meetings (local day) and the open pipeline of
    the deals the user owns, by stage in pipeline order."""
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
    return MyDay(overdue=agenda.overdue, today=today, pipeline=pipeline)
