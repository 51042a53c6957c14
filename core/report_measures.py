"""The measures of a report (won, activities, new leads, funnel, pipeline, forecast, win /
loss, deal age, quotes, service), each one aggregated in SQL: `BUILDERS[measure]`."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, distinct, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from core.models import (
    OPEN_STAGES,
    STAGE_SEQUENCE,
    Activity,
    ActivityKind,
    ApprovalRequest,
    Company,
    Deal,
    DealStageChange,
    Stage,
    User,
)
from core.models.fieldday import VisitCheckin
from core.models.fieldservice import ServiceJob
from core.models.quotes import Quote, QuoteVersion, SalesOrder
from core.report_rows import (
    activity_scope,
    deal_scope,
    group_expr,
    quote_scope,
    report_table,
    service_scope,
)
from core.report_spec import (
    COLUMNS,
    FIRST_TIME_FIX_DAYS,
    REPORT_CURRENCY,
    STAGE_PROBABILITY,
    ReportSpec,
    ReportTable,
    bucket_starts,
    local_midnight_utc,
    percent,
    period_range,
)

# Computes one measure: (session, user, spec, start, end, now, tz) -> the table.
Builder = Callable[[Session, User, ReportSpec, datetime, datetime, datetime, ZoneInfo],
                   ReportTable]


def _won(session: Session, user: User, spec: ReportSpec, start: datetime, end: datetime,
         now: datetime, tz: ZoneInfo) -> ReportTable:
    won_at = DealStageChange.at
    key, joins = group_expr(spec, "deal", won_at, start, end, tz)
    stmt = (select(key.label("k"), func.sum(Deal.amount), func.count(distinct(Deal.id)))
            .select_from(DealStageChange)
            .join(Deal, Deal.id == DealStageChange.deal_id))
    for target, on in joins:
        stmt = stmt.join(target, on)
    stmt = stmt.where(DealStageChange.to_stage == Stage.ORDER_PLACED.value,
                      won_at >= start, won_at < end, deal_scope(user)).group_by(key)
    data = {k: {"amount": Decimal(a or 0), "count": int(c)}
            for k, a, c in session.execute(stmt).all()}
    return report_table(session, spec, start, end, tz, data, sort_by="amount")


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
        row["verified_rate"] = percent(row["verified"], row["visit"])
    return report_table(session, spec, start, end, tz, data, sort_by="total")


ACTIVITY_KINDS = frozenset(a.value for a in ActivityKind)


def _bucket_edges(spec: ReportSpec, start: datetime, end: datetime, tz: ZoneInfo
                  ) -> list[datetime]:
    """UTC edges of the period's buckets, as group_expr's "period" CASE cuts them."""
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
    key, joins = group_expr(spec, "deal", Deal.created_at, start, end, tz)
    stmt = select(key.label("k"), func.count()).select_from(Deal)
    for target, on in joins:
        stmt = stmt.join(target, on)
    stmt = stmt.where(Deal.created_at >= start, Deal.created_at < end,
                      deal_scope(user)).group_by(key)
    data = {k: {"count": int(n)} for k, n in session.execute(stmt).all()}
    return report_table(session, spec, start, end, tz, data, sort_by="count")


def _funnel(session: Session, user: User, spec: ReportSpec, start: datetime, end: datetime,
            now: datetime, tz: ZoneInfo) -> ReportTable:
    """Of the deals created in the period: how many reached each stage (by their history,
    or by their current stage for deals imported without history)."""
    key, _ = group_expr(spec, "deal", Deal.created_at, start, end, tz)
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
    return report_table(session, spec, start, end, tz, data, sort_by=order[0])


def _probability() -> Any:
    return case(*[(Deal.stage == s, literal(p)) for s, p in STAGE_PROBABILITY.items()],
                else_=literal(Decimal(0)))


def _pipeline(session: Session, user: User, spec: ReportSpec, start: datetime, end: datetime,
              now: datetime, tz: ZoneInfo) -> ReportTable:
    key, _ = group_expr(spec, "deal", Deal.created_at, start, end, tz)
    stmt = (select(key.label("k"), func.count(), func.sum(Deal.amount),
                   func.sum(Deal.amount * _probability()))
            .where(Deal.stage.in_([s.value for s in OPEN_STAGES]), deal_scope(user))
            .group_by(key))
    data = {k: {"count": int(n), "amount": Decimal(a or 0),
                "weighted": Decimal(w or 0).quantize(Decimal("0.01"))}
            for k, n, a, w in session.execute(stmt).all()}
    return report_table(session, spec, start, end, tz, data, sort_by="weighted")


def _forecast(session: Session, user: User, spec: ReportSpec, start: datetime, end: datetime,
              now: datetime, tz: ZoneInfo) -> ReportTable:
    """The quarter containing `now`: won so far plus the weighted value of open deals
    expected to close in the quarter (or with no expected date)."""
    q_start, q_end = period_range("this_quarter", tz, now)
    local_start, local_end = q_start.astimezone(tz).date(), q_end.astimezone(tz).date()
    won = _won(session, user, ReportSpec("won", spec.group_by, "this_quarter"),
               q_start, q_end, now, tz)
    key, _ = group_expr(spec, "deal", Deal.created_at, q_start, q_end, tz)
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
    table = report_table(session, spec, q_start, q_end, tz, data, sort_by="forecast")
    return table


def _win_loss(session: Session, user: User, spec: ReportSpec, start: datetime, end: datetime,
              now: datetime, tz: ZoneInfo) -> ReportTable:
    key, _ = group_expr(spec, "deal", DealStageChange.at, start, end, tz)
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
        row["win_rate"] = percent(row["won"], row["won"] + row["lost"])
    return report_table(session, spec, start, end, tz, data, sort_by="lost")


def _deal_age(session: Session, user: User, spec: ReportSpec, start: datetime, end: datetime,
              now: datetime, tz: ZoneInfo) -> ReportTable:
    key, _ = group_expr(spec, "deal", Deal.created_at, start, end, tz)
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
    return report_table(session, spec, start, end, tz, data, sort_by="avg_age_days")


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
    key, joins = group_expr(spec, "quote", sent.c.sent_at, start, end, tz)
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
        row["conversion_rate"] = percent(row["accepted"], row["sent"])
    table = report_table(session, spec, start, end, tz, data, sort_by="sent")
    if other_currency:
        table.excluded["accepted_other_currency"] = other_currency
    return table


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
    key, joins = group_expr(spec, "job", ServiceJob.finished_at, start, end, tz)
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
            "on_time_rate": percent(c["on_time"], c["timed"]),
            "first_time_fix_rate": percent(c["fixed"], c["done"])}
        for k, c in counts.items()}
    table = report_table(session, spec, start, end, tz, data, sort_by="done")
    every = [m for ms in minutes.values() for m in ms]
    table.totals = {
        "median_response_min": _median(every),
        "on_time_rate": percent(sum(c["on_time"] for c in counts.values()),
                              sum(c["timed"] for c in counts.values())),
        "first_time_fix_rate": percent(sum(c["fixed"] for c in counts.values()),
                                     sum(c["done"] for c in counts.values()))}
    table.excluded.update({k: v for k, v in (("no_arrival", no_arrival),
                                             ("no_window", no_window)) if v})
    return table


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


BUILDERS: dict[str, Builder] = {
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
