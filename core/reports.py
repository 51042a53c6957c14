"""Analysis and reporting: measures grouped by period, rep, team, territory, customer, stage.

Every figure is aggregated in SQL (GROUP BY), scoped by role (a rep sees their own figures,
a manager the team's, an admin everything). Periods are computed in the user's time zone
and applied as UTC ranges, so period boundaries are right in any zone and across DST.
Words (titles, column headers, stage names) belong to the bot; this module returns codes.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    distinct,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Session, aliased

from core.errors import DomainError, NotFound
from core.models import (
    OPEN_STAGES,
    STAGE_SEQUENCE,
    Activity,
    ActivityKind,
    ApprovalRequest,
    Company,
    Deal,
    DealStageChange,
    Role,
    Stage,
    Team,
    Territory,
    User,
)
from core.models.fieldday import VisitCheckin
from core.models.fieldservice import ServiceJob
from core.models.quotes import Quote, QuoteVersion, SalesOrder
from core.models.reports import ReportTemplate
from core.notices import enqueue_notice
from core.sweeps import sweep

MEASURES = ("won", "activities", "new_leads", "funnel", "pipeline", "forecast", "win_loss",
            "deal_age", "quotes", "service")
GROUPINGS = ("rep", "team", "territory", "customer", "stage", "period", "reason", "technician",
             "none")
PERIODS = ("today", "this_week", "last_week", "this_month", "last_month", "this_quarter",
           "last_quarter", "this_year", "last_year", "last_7_days", "last_30_days",
           "last_90_days")
INTERVALS = ("day", "week", "month", "quarter")

# Default win probability per stage, for the weighted pipeline and the forecast.
STAGE_PROBABILITY: dict[str, Decimal] = {
    Stage.OPPORTUNITY: Decimal("0.05"),
    Stage.LEAD_ALLOCATED: Decimal("0.10"),
    Stage.CONTACTED: Decimal("0.20"),
    Stage.QUALIFIED: Decimal("0.40"),
    Stage.SOLUTION: Decimal("0.60"),
    Stage.ORDER_PLACED: Decimal("1"),
    Stage.LOST: Decimal("0"),
}

# Which groupings make sense for which measure.
ALLOWED_GROUPINGS: dict[str, tuple[str, ...]] = {
    "won": ("rep", "team", "territory", "customer", "period", "none"),
    "activities": ("rep", "team", "territory", "customer", "period", "none"),
    "new_leads": ("rep", "team", "territory", "customer", "period", "none"),
    "funnel": ("none", "rep", "team", "territory"),
    "pipeline": ("stage", "rep", "team", "territory", "customer", "none"),
    "forecast": ("rep", "team", "territory", "none"),
    "win_loss": ("rep", "team", "territory", "reason", "none"),
    "deal_age": ("stage", "rep", "team", "territory", "none"),
    "quotes": ("rep", "team", "territory", "customer", "period", "none"),
    "service": ("technician", "territory", "customer", "period", "none"),
}
COLUMNS: dict[str, tuple[str, ...]] = {
    "won": ("amount", "count"),
    # verified: visits checked in at the customer's site (core.sites); verified_rate: % of
    # the visits
    "activities": ("visit", "call", "meeting", "email", "total", "verified", "verified_rate"),
    "new_leads": ("count",),
    "funnel": tuple(s.value for s in STAGE_SEQUENCE),
    "pipeline": ("count", "amount", "weighted"),
    "forecast": ("won", "weighted_open", "forecast"),
    "win_loss": ("won", "lost", "win_rate"),
    "deal_age": ("count", "avg_age_days"),
    "quotes": ("sent", "accepted", "conversion_rate", "accepted_value"),
    "service": ("done", "median_response_min", "on_time_rate", "first_time_fix_rate"),
}
# Money figures are summed in this currency only; others are counted, not added.
REPORT_CURRENCY = "IDR"
# A repeat service call this soon after a job was finished means it was not fixed first time.
FIRST_TIME_FIX_DAYS = 30


@dataclass(frozen=True)
class ReportSpec:
    """What to report: a measure, a grouping, a period (and an interval for time series)."""

    measure: str
    group_by: str = "rep"
    period: str = "this_quarter"
    interval: str = "month"

    def validate(self) -> ReportSpec:
        if self.measure not in MEASURES:
            raise DomainError("report.bad_measure", measure=self.measure)
        if self.period not in PERIODS:
            raise DomainError("report.bad_period", period=self.period)
        if self.interval not in INTERVALS:
            raise DomainError("report.bad_interval", interval=self.interval)
        if self.group_by not in ALLOWED_GROUPINGS[self.measure]:
            raise DomainError("report.bad_grouping", measure=self.measure,
                              grouping=self.group_by)
        return self

    def encode(self) -> str:
        """A short code for button payloads and templates (e.g. ``won.rep.this_quarter.month``)."""
        return ".".join((self.measure, self.group_by, self.period, self.interval))

    @staticmethod
    def decode(code: str) -> ReportSpec:
        parts = code.split(".")
        if len(parts) != 4:
            raise DomainError("report.bad_spec")
        return ReportSpec(*parts).validate()


@dataclass
class ReportRow:
    key: Any
    label: str
    values: dict[str, Decimal | int | float | None]


@dataclass
class ReportTable:
    """A computed report: rows of values per column code, totals, and the UTC range."""

    spec: ReportSpec
    columns: tuple[str, ...]
    rows: list[ReportRow]
    start: datetime
    end: datetime
    totals: dict[str, Decimal | int | float | None] = field(default_factory=dict)
    currency: str = REPORT_CURRENCY
    # Records left out of some column, by reason code (e.g. {"no_arrival": 2}).
    excluded: dict[str, int] = field(default_factory=dict)


# -- periods -----------------------------------------------------------------------------------
def _quarter_start(d: date) -> date:
    return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


def _add_months(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_dates(period: str, today: date) -> tuple[date, date]:
    """Local [start, end) dates of a named period around `today`."""
    if period == "today":
        return today, today + timedelta(days=1)
    if period in ("this_week", "last_week"):
        start = today - timedelta(days=today.weekday())
        if period == "last_week":
            start -= timedelta(days=7)
        return start, start + timedelta(days=7)
    if period in ("this_month", "last_month"):
        start = today.replace(day=1)
        if period == "last_month":
            start = _add_months(start, -1)
        return start, _add_months(start, 1)
    if period in ("this_quarter", "last_quarter"):
        start = _quarter_start(today)
        if period == "last_quarter":
            start = _add_months(start, -3)
        return start, _add_months(start, 3)
    if period in ("this_year", "last_year"):
        year = today.year - (1 if period == "last_year" else 0)
        return date(year, 1, 1), date(year + 1, 1, 1)
    days = {"last_7_days": 7, "last_30_days": 30, "last_90_days": 90}.get(period)
    if days is None:
        raise DomainError("report.bad_period", period=period)
    return today - timedelta(days=days - 1), today + timedelta(days=1)


def local_midnight_utc(d: date, tz: ZoneInfo) -> datetime:
    """The UTC instant of local midnight starting `d` in `tz` (DST-safe)."""
    return datetime.combine(d, time(0), tzinfo=tz).astimezone(UTC)


def period_range(period: str, tz: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """The [start, end) UTC range of a named period in the user's time zone."""
    start, end = period_dates(period, now.astimezone(tz).date())
    return local_midnight_utc(start, tz), local_midnight_utc(end, tz)


def bucket_starts(start: date, end: date, interval: str) -> list[date]:
    """Local start dates of each interval bucket from `start` up to `end`."""
    if interval == "day":
        first, step = start, None
    elif interval == "week":
        first, step = start - timedelta(days=start.weekday()), None
    elif interval == "month":
        first, step = start.replace(day=1), 1
    else:
        first, step = _quarter_start(start), 3
    out: list[date] = []
    current = first
    while current < end:
        out.append(current)
        if step is None:
            current += timedelta(days=1 if interval == "day" else 7)
        else:
            current = _add_months(current, step)
    return out


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


# -- the report ---------------------------------------------------------------------------------
def run_report(session: Session, user: User, spec: ReportSpec, now: datetime) -> ReportTable:
    """Compute a report for `user` (scoped by role) at `now`."""
    spec.validate()
    tz = ZoneInfo(user.timezone)
    start, end = period_range(spec.period, tz, now)
    builder = _BUILDERS[spec.measure]
    table = builder(session, user, spec, start, end, now, tz)
    # A builder may set totals that cannot be derived from the rows (e.g. a median).
    table.totals = {**_totals(table), **table.totals}
    return table


def _group_expr(
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


def _table(session: Session, spec: ReportSpec, start: datetime, end: datetime, tz: ZoneInfo,
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


def _won(session: Session, user: User, spec: ReportSpec, start: datetime, end: datetime,
         now: datetime, tz: ZoneInfo) -> ReportTable:
    won_at = DealStageChange.at
    key, joins = _group_expr(spec, "deal", won_at, start, end, tz)
    stmt = (select(key.label("k"), func.sum(Deal.amount), func.count(distinct(Deal.id)))
            .select_from(DealStageChange)
            .join(Deal, Deal.id == DealStageChange.deal_id))
    for target, on in joins:
        stmt = stmt.join(target, on)
    stmt = stmt.where(DealStageChange.to_stage == Stage.ORDER_PLACED.value,
                      won_at >= start, won_at < end, deal_scope(user)).group_by(key)
    data = {k: {"amount": Decimal(a or 0), "count": int(c)}
            for k, a, c in session.execute(stmt).all()}
    return _table(session, spec, start, end, tz, data, sort_by="amount")


def _activities(session: Session, user: User, spec: ReportSpec, start: datetime,
                end: datetime, now: datetime, tz: ZoneInfo) -> ReportTable:
    """Activities by kind, and the visits verified by a check-in at the customer's site.

    Counted per person or per customer first, each from a covering index ((user_id, kind,
    occurred_at), (company_id, occurred_at, kind, user_id)): no table row is read (last year
    over 1M activities by customer: 1.6 s -> about 0.2 s). Teams and territories are then
    folded from people and customers; a period grouping counts each bucket's range;
    verified visits come from the check-ins (few) instead of a join on every activity."""
    g = spec.group_by
    scope = activity_scope(user)
    data: dict[Any, dict[str, Any]] = {}

    def add(key: Any, kind: str, n: int) -> None:
        row = data.setdefault(key, {c: 0 for c in COLUMNS["activities"]})
        if kind in ACTIVITY_KINDS:
            row[kind] += int(n)
        row["total"] += int(n)

    checked = (select(func.count()).select_from(VisitCheckin)
               .join(Activity, Activity.id == VisitCheckin.activity_id)
               .where(VisitCheckin.verified.is_(True), scope))
    verified: dict[Any, int] = {}
    if g == "period":
        edges = _bucket_edges(spec, start, end, tz)
        for i, (lo, hi) in enumerate(itertools.pairwise(edges)):
            for kind, n in session.execute(
                    select(Activity.kind, func.count())
                    .where(Activity.occurred_at >= lo, Activity.occurred_at < hi, scope)
                    .group_by(Activity.kind)):
                add(i, kind, n)
            found = session.scalar(checked.where(Activity.occurred_at >= lo,
                                                 Activity.occurred_at < hi))
            if found:
                verified[i] = int(found)
    else:
        # "none" too is counted per person (the index in group order), then added up.
        base: Any = (Activity.company_id if g in ("customer", "territory")
                     else Activity.user_id)
        in_period = and_(Activity.occurred_at >= start, Activity.occurred_at < end, scope)
        stmt = (select(base, Activity.kind, func.count()).where(in_period)
                .group_by(base, Activity.kind))
        per_base = session.execute(stmt).all()
        per_base_verified = session.execute(
            checked.add_columns(base).where(Activity.occurred_at >= start,
                                            Activity.occurred_at < end).group_by(base)).all()
        ids = {k for k, _kind, _n in per_base} | {k for _n, k in per_base_verified}
        fold: dict[Any, Any] = (_fold_keys(session, g, ids) if g in ("team", "territory")
                                else {k: "all" for k in ids} if g == "none"
                                else {k: k for k in ids})
        for k, kind, n in per_base:
            add(fold.get(k), kind, n)
        for n, k in per_base_verified:
            key = fold.get(k)
            verified[key] = verified.get(key, 0) + int(n)
    for key, n in verified.items():
        data.setdefault(key, {c: 0 for c in COLUMNS["activities"]})["verified"] = n
    for row in data.values():
        row["verified_rate"] = _rate(row["verified"], row["visit"])
    return _table(session, spec, start, end, tz, data, sort_by="total")


ACTIVITY_KINDS = frozenset(a.value for a in ActivityKind)


def _bucket_edges(spec: ReportSpec, start: datetime, end: datetime, tz: ZoneInfo
                  ) -> list[datetime]:
    """UTC edges of the period's buckets, as _group_expr's "period" CASE cuts them."""
    starts = bucket_starts(start.astimezone(tz).date(), end.astimezone(tz).date(),
                           spec.interval)
    return [start, *(local_midnight_utc(b, tz) for b in starts[1:]), end]


def _fold_keys(session: Session, grouping: str, ids: set[Any]) -> dict[Any, Any]:
    """People -> their team, or customers -> their territory."""
    model: Any = User if grouping == "team" else Company
    column = User.team_id if grouping == "team" else Company.territory_id
    out: dict[Any, Any] = {}
    id_list = [i for i in ids if i is not None]
    for i in range(0, len(id_list), 5000):
        out.update(session.execute(select(model.id, column)
                                   .where(model.id.in_(id_list[i:i + 5000]))).all())
    return out


def _new_leads(session: Session, user: User, spec: ReportSpec, start: datetime,
               end: datetime, now: datetime, tz: ZoneInfo) -> ReportTable:
    key, joins = _group_expr(spec, "deal", Deal.created_at, start, end, tz)
    stmt = select(key.label("k"), func.count()).select_from(Deal)
    for target, on in joins:
        stmt = stmt.join(target, on)
    stmt = stmt.where(Deal.created_at >= start, Deal.created_at < end,
                      deal_scope(user)).group_by(key)
    data = {k: {"count": int(n)} for k, n in session.execute(stmt).all()}
    return _table(session, spec, start, end, tz, data, sort_by="count")


def _funnel(session: Session, user: User, spec: ReportSpec, start: datetime, end: datetime,
            now: datetime, tz: ZoneInfo) -> ReportTable:
    """Of the deals created in the period: how many reached each stage (by their history,
    or by their current stage for deals imported without history)."""
    key, _ = _group_expr(spec, "deal", Deal.created_at, start, end, tz)
    cohort = and_(Deal.created_at >= start, Deal.created_at < end, deal_scope(user))
    reached = (select(key.label("k"), DealStageChange.to_stage,
                      func.count(distinct(Deal.id)))
               .select_from(Deal).join(DealStageChange, DealStageChange.deal_id == Deal.id)
               .where(cohort).group_by(key, DealStageChange.to_stage))
    current = (select(key.label("k"), Deal.stage, func.count())
               .where(cohort).group_by(key, Deal.stage))
    order = [s.value for s in STAGE_SEQUENCE]
    by_history: dict[Any, dict[str, int]] = {}
    for k, stage, n in session.execute(reached).all():
        by_history.setdefault(k, {})[stage] = int(n)
    by_current: dict[Any, dict[str, int]] = {}
    for k, stage, n in session.execute(current).all():
        by_current.setdefault(k, {})[stage] = int(n)
    data: dict[Any, dict[str, Any]] = {}
    for k in set(by_history) | set(by_current):
        cur = by_current.get(k, {})
        total = sum(cur.values())
        row: dict[str, Any] = {}
        for i, stage in enumerate(order):
            at_or_beyond = sum(n for s, n in cur.items() if s in order[i:])
            row[stage] = max(by_history.get(k, {}).get(stage, 0), at_or_beyond)
        row[order[0]] = max(row[order[0]], total)
        data[k] = row
    return _table(session, spec, start, end, tz, data, sort_by=order[0])


def funnel_conversion(table: ReportTable) -> list[tuple[str, int, float | None]]:
    """(stage, deals reaching it, % of the previous stage) for a funnel report's totals."""
    out: list[tuple[str, int, float | None]] = []
    previous: int | None = None
    for stage in table.columns:
        n = int(table.totals.get(stage) or 0)
        rate = _rate(n, previous or 0)
        out.append((stage, n, rate))
        previous = n
    return out


def _probability() -> Any:
    return case(*[(Deal.stage == s, literal(p)) for s, p in STAGE_PROBABILITY.items()],
                else_=literal(Decimal(0)))


def _pipeline(session: Session, user: User, spec: ReportSpec, start: datetime, end: datetime,
              now: datetime, tz: ZoneInfo) -> ReportTable:
    key, _ = _group_expr(spec, "deal", Deal.created_at, start, end, tz)
    stmt = (select(key.label("k"), func.count(), func.sum(Deal.amount),
                   func.sum(Deal.amount * _probability()))
            .where(Deal.stage.in_([s.value for s in OPEN_STAGES]), deal_scope(user))
            .group_by(key))
    data = {k: {"count": int(n), "amount": Decimal(a or 0),
                "weighted": Decimal(w or 0).quantize(Decimal("0.01"))}
            for k, n, a, w in session.execute(stmt).all()}
    return _table(session, spec, start, end, tz, data, sort_by="weighted")


def _forecast(session: Session, user: User, spec: ReportSpec, start: datetime, end: datetime,
              now: datetime, tz: ZoneInfo) -> ReportTable:
    """The quarter containing `now`: won so far plus the weighted value of open deals
    expected to close in the quarter (or with no expected date)."""
    q_start, q_end = period_range("this_quarter", tz, now)
    local_start, local_end = q_start.astimezone(tz).date(), q_end.astimezone(tz).date()
    won = _won(session, user, ReportSpec("won", spec.group_by, "this_quarter"),
               q_start, q_end, now, tz)
    key, _ = _group_expr(spec, "deal", Deal.created_at, q_start, q_end, tz)
    stmt = (select(key.label("k"), func.sum(Deal.amount * _probability()))
            .where(Deal.stage.in_([s.value for s in OPEN_STAGES]), deal_scope(user),
                   or_(Deal.expected_close.is_(None),
                       and_(Deal.expected_close >= local_start,
                            Deal.expected_close < local_end)))
            .group_by(key))
    data: dict[Any, dict[str, Any]] = {
        r.key: {"won": r.values["amount"], "weighted_open": Decimal(0)} for r in won.rows}
    for k, w in session.execute(stmt).all():
        data.setdefault(k, {"won": Decimal(0)})["weighted_open"] = (
            Decimal(w or 0).quantize(Decimal("0.01")))
    for row in data.values():
        row["forecast"] = row["won"] + row["weighted_open"]
    table = _table(session, spec, q_start, q_end, tz, data, sort_by="forecast")
    return table


def _win_loss(session: Session, user: User, spec: ReportSpec, start: datetime, end: datetime,
              now: datetime, tz: ZoneInfo) -> ReportTable:
    key, _ = _group_expr(spec, "deal", DealStageChange.at, start, end, tz)
    stmt = (select(key.label("k"), DealStageChange.to_stage, func.count(distinct(Deal.id)))
            .select_from(DealStageChange).join(Deal, Deal.id == DealStageChange.deal_id)
            .where(DealStageChange.to_stage.in_([Stage.ORDER_PLACED.value, Stage.LOST.value]),
                   DealStageChange.at >= start, DealStageChange.at < end, deal_scope(user))
            .group_by(key, DealStageChange.to_stage))
    data: dict[Any, dict[str, Any]] = {}
    for k, stage, n in session.execute(stmt).all():
        row = data.setdefault(k, {"won": 0, "lost": 0})
        row["won" if stage == Stage.ORDER_PLACED.value else "lost"] += int(n)
    for row in data.values():
        row["win_rate"] = _rate(row["won"], row["won"] + row["lost"])
    return _table(session, spec, start, end, tz, data, sort_by="lost")


def _deal_age(session: Session, user: User, spec: ReportSpec, start: datetime, end: datetime,
              now: datetime, tz: ZoneInfo) -> ReportTable:
    key, _ = _group_expr(spec, "deal", Deal.created_at, start, end, tz)
    if session.get_bind().dialect.name == "sqlite":
        # Stored as naive UTC text; julianday() gives days.
        age = func.julianday(now.replace(tzinfo=None)) - func.julianday(Deal.created_at)
    else:
        age = func.extract("epoch", literal(now) - Deal.created_at) / 86400.0
    stmt = (select(key.label("k"), func.count(), func.avg(age))
            .where(Deal.stage.in_([s.value for s in OPEN_STAGES]), deal_scope(user))
            .group_by(key))
    data = {k: {"count": int(n), "avg_age_days": round(float(a or 0), 1)}
            for k, n, a in session.execute(stmt).all()}
    return _table(session, spec, start, end, tz, data, sort_by="avg_age_days")


def _quote_sent_at() -> Any:
    """Per quote, when it first went to the customer: the creation of its first version
    that needed no approval, or the decision on one that did (pending ones are not sent)."""
    sent_at = case((QuoteVersion.approval_id.is_(None), QuoteVersion.created_at),
                   else_=ApprovalRequest.decided_at)
    return (select(QuoteVersion.quote_id.label("quote_id"), func.min(sent_at).label("sent_at"))
            .outerjoin(ApprovalRequest, ApprovalRequest.id == QuoteVersion.approval_id)
            .group_by(QuoteVersion.quote_id).subquery("quote_sent"))


def _quotes(session: Session, user: User, spec: ReportSpec, start: datetime, end: datetime,
            now: datetime, tz: ZoneInfo) -> ReportTable:
    """Quote-to-order conversion of the quotes first sent in the period (a cohort).

    A quote counts once however many versions it has, in the period it was first sent
    (see `_quote_sent_at`); `accepted` counts those of them that became an order by `now`;
    `conversion_rate` is accepted / sent in percent; `accepted_value` sums the accepted
    versions' net value (total less tax, as a won deal's amount) in `REPORT_CURRENCY` only:
    accepted quotes in another currency are counted but reported in
    ``excluded["accepted_other_currency"]`` instead of being added up.
    """
    sent = _quote_sent_at()
    accepted_version = aliased(QuoteVersion)
    key, joins = _group_expr(spec, "quote", sent.c.sent_at, start, end, tz)
    stmt = (select(key.label("k"), Quote.currency, func.count(Quote.id),
                   func.count(SalesOrder.id),
                   func.sum(accepted_version.total - accepted_version.tax_total))
            .select_from(Quote).join(sent, sent.c.quote_id == Quote.id)
            .outerjoin(SalesOrder, SalesOrder.quote_id == Quote.id)
            .outerjoin(accepted_version, accepted_version.id == SalesOrder.version_id))
    for target, on in joins:
        stmt = stmt.join(target, on)
    stmt = stmt.where(sent.c.sent_at >= start, sent.c.sent_at < end,
                      quote_scope(user)).group_by(key, Quote.currency)
    data: dict[Any, dict[str, Any]] = {}
    other_currency = 0
    for k, currency, n_sent, n_accepted, value in session.execute(stmt).all():
        row = data.setdefault(k, {"sent": 0, "accepted": 0, "accepted_value": Decimal(0)})
        row["sent"] += int(n_sent)
        row["accepted"] += int(n_accepted)
        if currency == REPORT_CURRENCY:
            row["accepted_value"] += Decimal(value or 0)
        else:
            other_currency += int(n_accepted)
    for row in data.values():
        row["conversion_rate"] = _rate(row["accepted"], row["sent"])
    table = _table(session, spec, start, end, tz, data, sort_by="sent")
    if other_currency:
        table.excluded["accepted_other_currency"] = other_currency
    return table


def _rate(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _same_site(a: str | None, b: str | None) -> bool:
    return " ".join((a or "").lower().split()) == " ".join((b or "").lower().split())


def _service(session: Session, user: User, spec: ReportSpec, start: datetime, end: datetime,
             now: datetime, tz: ZoneInfo) -> ReportTable:
    """Field-service performance of the jobs finished as done in the period.

    - `done`: jobs whose status is done with `finished_at` in the period.
    - `median_response_min`: median minutes from the job's creation to the technician on
      site (`arrived_at`). A re-dispatched job keeps only its last visit's arrival (the
      re-dispatch clears the first one), so its response runs to the visit that fixed it.
    - `on_time_rate`: % of done jobs whose technician arrived no later than the end of the
      job's time window (arriving early counts as on time).
    - `first_time_fix_rate`: % of done jobs fixed in one visit: never marked "cannot
      complete" before (a re-dispatched job keeps its `failure_reason`) and with no repeat
      service call (another job of kind "service", not cancelled, for the same customer and
      the same site address) created within `FIRST_TIME_FIX_DAYS` days after it was done.
    Done jobs with no on-site time are left out of the response time and the on-time rate
    (``excluded["no_arrival"]``), jobs without a window out of the on-time rate
    (``excluded["no_window"]``).
    """
    key, joins = _group_expr(spec, "job", ServiceJob.finished_at, start, end, tz)
    scope = and_(ServiceJob.status == "done", ServiceJob.finished_at >= start,
                 ServiceJob.finished_at < end, service_scope(user))
    stmt = select(key.label("k"), ServiceJob.id, ServiceJob.company_id, ServiceJob.site_address,
                  ServiceJob.created_at, ServiceJob.arrived_at, ServiceJob.finished_at,
                  ServiceJob.window_end, ServiceJob.failure_reason).select_from(ServiceJob)
    for target, on in joins:
        stmt = stmt.join(target, on)
    jobs = session.execute(stmt.where(scope)).all()
    # Candidate repeat calls: service jobs at the same customers created after the period began.
    calls: dict[int, list[tuple[int, str | None, datetime]]] = {}
    if jobs:
        done_companies = select(ServiceJob.company_id).where(scope)
        repeat_stmt = select(ServiceJob.id, ServiceJob.company_id, ServiceJob.site_address,
                             ServiceJob.created_at).where(
            ServiceJob.company_id.in_(done_companies), ServiceJob.kind == "service",
            ServiceJob.status != "cancelled", ServiceJob.created_at > start,
            ServiceJob.created_at <= end + timedelta(days=FIRST_TIME_FIX_DAYS))
        for job_id, company_id, site, created in session.execute(repeat_stmt).all():
            calls.setdefault(company_id, []).append((job_id, site, created))
    horizon = timedelta(days=FIRST_TIME_FIX_DAYS)
    minutes: dict[Any, list[float]] = {}
    counts: dict[Any, dict[str, int]] = {}
    no_arrival = no_window = 0
    for k, job_id, company_id, site, created, arrived, finished, window_end, failed in jobs:
        c = counts.setdefault(k, {"done": 0, "timed": 0, "on_time": 0, "fixed": 0})
        minutes.setdefault(k, [])
        c["done"] += 1
        if arrived is None:
            no_arrival += 1
        else:
            minutes[k].append((arrived - created).total_seconds() / 60)
            if window_end is None:
                no_window += 1
            else:
                c["timed"] += 1
                c["on_time"] += arrived <= window_end
        repeated = any(other != job_id and _same_site(other_site, site)
                       and finished < at <= finished + horizon
                       for other, other_site, at in calls.get(company_id, []))
        c["fixed"] += failed is None and not repeated
    data: dict[Any, dict[str, Any]] = {
        k: {"done": c["done"], "median_response_min": _median(minutes[k]),
            "on_time_rate": _rate(c["on_time"], c["timed"]),
            "first_time_fix_rate": _rate(c["fixed"], c["done"])}
        for k, c in counts.items()}
    table = _table(session, spec, start, end, tz, data, sort_by="done")
    every = [m for ms in minutes.values() for m in ms]
    table.totals = {
        "median_response_min": _median(every),
        "on_time_rate": _rate(sum(c["on_time"] for c in counts.values()),
                              sum(c["timed"] for c in counts.values())),
        "first_time_fix_rate": _rate(sum(c["fixed"] for c in counts.values()),
                                     sum(c["done"] for c in counts.values()))}
    table.excluded.update({k: v for k, v in (("no_arrival", no_arrival),
                                             ("no_window", no_window)) if v})
    return table


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


_BUILDERS = {
    "won": _won,
    "activities": _activities,
    "new_leads": _new_leads,
    "funnel": _funnel,
    "pipeline": _pipeline,
    "forecast": _forecast,
    "win_loss": _win_loss,
    "deal_age": _deal_age,
    "quotes": _quotes,
    "service": _service,
}


def _totals(table: ReportTable) -> dict[str, Decimal | int | float | None]:
    totals: dict[str, Any] = {}
    for column in table.columns:
        values = [r.values.get(column) for r in table.rows]
        numbers = [v for v in values if v is not None]
        if column == "conversion_rate":
            totals[column] = _rate(sum(int(r.values.get("accepted") or 0) for r in table.rows),
                                   sum(int(r.values.get("sent") or 0) for r in table.rows))
        elif column == "verified_rate":
            totals[column] = _rate(sum(int(r.values.get("verified") or 0) for r in table.rows),
                                   sum(int(r.values.get("visit") or 0) for r in table.rows))
        elif column == "win_rate":
            won = sum(int(r.values.get("won") or 0) for r in table.rows)
            lost = sum(int(r.values.get("lost") or 0) for r in table.rows)
            totals[column] = _rate(won, won + lost)
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
