"""The rows of a report: whose figures a user may see (scope), what a grouping groups by in
SQL, the rows' labels, and the table assembled from the figures per group."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, case, false, literal, or_, select, true
from sqlalchemy.orm import Session

from core.errors import DomainError
from core.models import STAGE_SEQUENCE, Activity, Company, Deal, Role, Team, Territory, User
from core.models.fieldservice import ServiceJob
from core.models.quotes import Quote
from core.report_spec import (
    COLUMNS,
    ReportRow,
    ReportSpec,
    ReportTable,
    bucket_starts,
    local_midnight_utc,
)


# -- scope -------------------------------------------------------------------------------------
def _team_member_ids(user: User) -> Select[Any]:
    return select(User.id).where(User.team_id == user.team_id)


def deal_scope(user: User) -> ColumnElement[bool]:
    """Deals whose figures the user may see."""
    if not user.active:
        return false()
    if user.role == Role.ADMIN:
        return true()
    if user.role == Role.MANAGER and user.team_id is not None:
        return or_(Deal.team_id == user.team_id, Deal.owner_id.in_(_team_member_ids(user)))
    return Deal.owner_id == user.id


def activity_scope(user: User) -> ColumnElement[bool]:
    if not user.active:
        return false()
    if user.role == Role.ADMIN:
        return true()
    if user.role == Role.MANAGER and user.team_id is not None:
        return Activity.user_id.in_(_team_member_ids(user))
    return Activity.user_id == user.id


def quote_scope(user: User) -> ColumnElement[bool]:
    """Quotes whose figures the user may see: own (rep), the team's (manager), all (admin)."""
    if not user.active:
        return false()
    if user.role == Role.ADMIN:
        return true()
    if user.role == Role.MANAGER and user.team_id is not None:
        return or_(Quote.owner_id.in_(_team_member_ids(user)),
                   Quote.deal_id.in_(select(Deal.id).where(Deal.team_id == user.team_id)))
    return Quote.owner_id == user.id


def service_scope(user: User) -> ColumnElement[bool]:
    """Service jobs whose figures the user may see.

    Admin: all. Manager: jobs done by the team's technicians, in the team's territories, or
    created by the manager. Technician: own jobs. Rep: jobs at the rep's own accounts or
    for the rep's deals.
    """
    if not user.active:
        return false()
    if user.role == Role.ADMIN:
        return true()
    if user.role == Role.MANAGER and user.team_id is not None:
        return or_(ServiceJob.technician_id.in_(_team_member_ids(user)),
                   ServiceJob.territory_id.in_(select(Territory.id)
                                               .where(Territory.team_id == user.team_id)),
                   ServiceJob.created_by_id == user.id)
    if user.role == Role.MANAGER:
        return ServiceJob.created_by_id == user.id
    if user.role == Role.TECHNICIAN:
        return ServiceJob.technician_id == user.id
    return or_(ServiceJob.company_id.in_(select(Company.id).where(Company.owner_id == user.id)),
               ServiceJob.deal_id.in_(select(Deal.id).where(Deal.owner_id == user.id)))


def group_expr(
    spec: ReportSpec, kind: str, ts: Any, start: datetime, end: datetime, tz: ZoneInfo
) -> tuple[Any, list[Any]]:
    """The GROUP BY expression for the grouping, and the joins it needs.

    `kind` is "deal", "activity", "quote" or "job" (which table carries the owner /
    company).
    """
    g = spec.group_by
    if g == "none":
        return literal("all"), []
    if g in ("rep", "technician"):
        person = {"deal": Deal.owner_id, "activity": Activity.user_id, "quote": Quote.owner_id,
                  "job": ServiceJob.technician_id}
        return person[kind], []
    if g == "customer":
        company = {"deal": Deal.company_id, "activity": Activity.company_id,
                   "quote": Quote.company_id, "job": ServiceJob.company_id}
        return company[kind], []
    if g == "team":
        if kind == "deal":
            return Deal.team_id, []
        if kind == "quote":
            return User.team_id, [(User, User.id == Quote.owner_id)]
        if kind == "job":
            return User.team_id, [(User, User.id == ServiceJob.technician_id)]
        return User.team_id, [(User, User.id == Activity.user_id)]
    if g == "territory":
        if kind == "deal":
            return Deal.territory_id, []
        if kind == "job":
            return ServiceJob.territory_id, []
        if kind == "quote":
            return Company.territory_id, [(Company, Company.id == Quote.company_id)]
        return Company.territory_id, [(Company, Company.id == Activity.company_id)]
    if g == "stage":
        return Deal.stage, []
    if g == "reason":
        return Deal.lost_reason, []
    if g == "period":
        local_start = start.astimezone(tz).date()
        local_end = end.astimezone(tz).date()
        starts = bucket_starts(local_start, local_end, spec.interval)
        whens = [(ts < local_midnight_utc(b, tz), i - 1)
                 for i, b in enumerate([*starts[1:], local_end], start=1)]
        return case(*whens, else_=len(starts) - 1), []
    raise DomainError("report.bad_grouping", measure=spec.measure, grouping=g)


def _labels(session: Session, spec: ReportSpec, keys: list[Any], start: datetime,
            tz: ZoneInfo, end: datetime) -> dict[Any, str]:
    g = spec.group_by
    ids = [k for k in keys if k is not None]
    if g in ("rep", "technician"):
        return dict(session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())
    if g == "team":
        return dict(session.execute(select(Team.id, Team.name).where(Team.id.in_(ids))).all())
    if g == "territory":
        return dict(session.execute(select(Territory.id, Territory.name)
                                    .where(Territory.id.in_(ids))).all())
    if g == "customer":
        return dict(session.execute(select(Company.id, Company.name)
                                    .where(Company.id.in_(ids))).all())
    if g == "period":
        starts = bucket_starts(start.astimezone(tz).date(), end.astimezone(tz).date(),
                               spec.interval)
        return {i: b.isoformat() for i, b in enumerate(starts)}
    return {k: str(k) if k is not None else "" for k in keys}


# Columns that are a rate or a median: an empty bucket has none, not zero.
RATE_COLUMNS = frozenset({"win_rate", "conversion_rate", "median_response_min", "on_time_rate",
                          "first_time_fix_rate", "verified_rate"})


def _empty(column: str) -> int | None:
    return None if column in RATE_COLUMNS else 0


def report_table(session: Session, spec: ReportSpec, start: datetime, end: datetime, tz: ZoneInfo,
           data: dict[Any, dict[str, Any]], sort_by: str | None = None) -> ReportTable:
    if spec.group_by == "period":
        # Every bucket appears, empty ones with zeros, in time order.
        labels = _labels(session, spec, [], start, tz, end)
        rows = [ReportRow(i, labels[i], {c: data.get(i, {}).get(c, _empty(c))
                                         for c in COLUMNS[spec.measure]})
                for i in sorted(labels)]
    else:
        labels = _labels(session, spec, list(data), start, tz, end)
        rows = [ReportRow(k, labels.get(k, "—" if k is None else str(k)),
                          {c: v.get(c, 0) for c in COLUMNS[spec.measure]})
                for k, v in data.items()]
        if spec.group_by == "stage":
            order = {s.value: i for i, s in enumerate(STAGE_SEQUENCE)}
            rows.sort(key=lambda r: order.get(r.key, 99))
        elif sort_by:
            rows.sort(key=lambda r: (-(r.values.get(sort_by) or 0), r.label))
    return ReportTable(spec=spec, columns=COLUMNS[spec.measure], rows=rows, start=start,
                       end=end)
