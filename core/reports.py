"""Analysis and reporting: measures grouped by period, rep, team, territory, customer, stage.

Every figure is aggregated in SQL (GROUP BY), scoped by role (a rep sees their own figures,
a manager the team's, an admin everything). Periods are computed in the user's time zone
and applied as UTC ranges, so period boundaries are right in any zone and across DST.
Words (titles, column headers, stage names) belong to the bot; this module returns codes.

Here: running a report, its totals, saved templates and the weekly digest. What a report is
(measures, groupings, periods, the table) is core.report_spec; whose figures a user sees and
how rows are grouped and labelled, core.report_rows; each measure's SQL, core.report_measures.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.errors import DomainError, NotFound
from core.models import Role, User
from core.models.reports import ReportTemplate
from core.notices import enqueue_notice
from core.report_measures import BUILDERS
from core.report_spec import ReportSpec, ReportTable, percent, period_range
from core.sweeps import sweep


# -- the report ---------------------------------------------------------------------------------
def run_report(session: Session, user: User, spec: ReportSpec, now: datetime) -> ReportTable:
    """Compute a report for `user` (scoped by role) at `now`."""
    spec.validate()
    tz = ZoneInfo(user.timezone)
    start, end = period_range(spec.period, tz, now)
    builder = BUILDERS[spec.measure]
    table = builder(session, user, spec, start, end, now, tz)
    # A builder may set totals that cannot be derived from the rows (e.g. a median).
    table.totals = {**_totals(table), **table.totals}
    return table


def funnel_conversion(table: ReportTable) -> list[tuple[str, int, float | None]]:
    """(stage, deals reaching it, % of the previous stage) for a funnel report's totals."""
    out: list[tuple[str, int, float | None]] = []
    previous: int | None = None
    for stage in table.columns:
        n = int(table.totals.get(stage) or 0)
        rate = percent(n, previous or 0)
        out.append((stage, n, rate))
        previous = n
    return out


def _totals(table: ReportTable) -> dict[str, Decimal | int | float | None]:
    totals: dict[str, Any] = {}
    for column in table.columns:
        values = [r.values.get(column) for r in table.rows]
        numbers = [v for v in values if v is not None]
        if column == "conversion_rate":
            totals[column] = percent(sum(int(r.values.get("accepted") or 0) for r in table.rows),
                                   sum(int(r.values.get("sent") or 0) for r in table.rows))
        elif column == "verified_rate":
            totals[column] = percent(sum(int(r.values.get("verified") or 0) for r in table.rows),
                                   sum(int(r.values.get("visit") or 0) for r in table.rows))
        elif column == "win_rate":
            won = sum(int(r.values.get("won") or 0) for r in table.rows)
            lost = sum(int(r.values.get("lost") or 0) for r in table.rows)
            totals[column] = percent(won, won + lost)
        elif column == "avg_age_days":
            count = sum(int(r.values.get("count") or 0) for r in table.rows)
            weighted = sum(float(r.values.get("avg_age_days") or 0) * int(r.values.get("count")
                                                                         or 0)
                           for r in table.rows)
            totals[column] = round(weighted / count, 1) if count else None
        else:
            totals[column] = sum(numbers) if numbers else 0
    return totals


# -- templates and the weekly digest -----------------------------------------------------------
def save_template(session: Session, user: User, name: str, spec: ReportSpec, now: datetime,
                  *, schedule: str | None = None) -> ReportTemplate:
    """Save (or overwrite) a report under a name for this user."""
    name = " ".join(name.split())[:80]
    if not name:
        raise DomainError("report.template_name_missing")
    if schedule not in (None, "weekly"):
        raise DomainError("report.bad_schedule", schedule=schedule)
    spec.validate()
    template = session.scalar(select(ReportTemplate).where(
        ReportTemplate.owner_id == user.id, func.lower(ReportTemplate.name) == name.lower()))
    if template is None:
        template = ReportTemplate(owner_id=user.id, name=name, created_at=now)
        session.add(template)
    template.spec = {"code": spec.encode()}
    template.schedule = schedule
    session.flush()
    return template


def list_templates(session: Session, user: User) -> list[ReportTemplate]:
    return list(session.scalars(select(ReportTemplate).where(ReportTemplate.owner_id == user.id)
                                .order_by(ReportTemplate.name)))


def get_template(session: Session, user: User, name_or_id: str) -> ReportTemplate:
    """A template of this user by id or (case-insensitive) name."""
    clause = func.lower(ReportTemplate.name) == name_or_id.strip().lower()
    if name_or_id.isdigit():
        clause = or_(clause, ReportTemplate.id == int(name_or_id))
    template = session.scalar(select(ReportTemplate).where(
        ReportTemplate.owner_id == user.id, clause))
    if template is None:
        raise NotFound("report.template_not_found", name=name_or_id)
    return template


def template_spec(template: ReportTemplate) -> ReportSpec:
    return ReportSpec.decode(str(template.spec.get("code", "")))


DIGEST_SPEC = ReportSpec("won", "rep", "last_week", "week")
DIGEST_HOUR = 8


@sweep("reports.weekly_digest", every=timedelta(minutes=5))
def enqueue_weekly_digests(session: Session, now: datetime) -> int:
    """On Monday from 08:00 local time, enqueue each manager's weekly digest (and every
    weekly template) once per ISO week."""
    count = 0
    managers = session.scalars(select(User).where(User.role == Role.MANAGER.value,
                                                  User.active)).all()
    for manager in managers:
        local = now.astimezone(ZoneInfo(manager.timezone))
        if local.weekday() != 0 or local.hour < DIGEST_HOUR:
            continue
        year, week, _ = local.isocalendar()
        if enqueue_notice(session, kind="report.digest", reason=f"digest:{year}-W{week:02d}",
                          recipient_user_id=manager.id, due_at=now, now=now,
                          params={"spec": DIGEST_SPEC.encode()}):
            count += 1
    templates = session.scalars(select(ReportTemplate).where(
        ReportTemplate.schedule == "weekly")).all()
    for template in templates:
        owner = session.get(User, template.owner_id)
        if owner is None or not owner.active:
            continue
        local = now.astimezone(ZoneInfo(owner.timezone))
        if local.weekday() != 0 or local.hour < DIGEST_HOUR:
            continue
        year, week, _ = local.isocalendar()
        if enqueue_notice(session, kind="report.digest",
                          reason=f"template:{template.id}:{year}-W{week:02d}",
                          recipient_user_id=owner.id, due_at=now, now=now,
                          params={"spec": str(template.spec.get("code")),
                                  "template": template.name}):
            template.last_sent_at = now
            count += 1
    return count
