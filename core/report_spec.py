"""What a report is: a measure, a grouping, a period (and an interval), the table it gives,
and the named periods computed in the user's time zone (core.reports runs them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from core.errors import DomainError
from core.models import STAGE_SEQUENCE, Stage

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


def percent(part: int, whole: int) -> float | None:
    """part / whole in percent (one decimal); None when there is no whole."""
    return round(100.0 * part / whole, 1) if whole else None
