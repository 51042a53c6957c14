"""Reports against hand-computed figures on a fixed dataset, in a non-UTC time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from core import reports
from core.db import Database
from core.errors import DomainError
from core.models import (
    Activity,
    Company,
    Deal,
    DealStageChange,
    NoticeRow,
    Role,
    Team,
    Territory,
    User,
)
from core.report_spec import ReportSpec, ReportTable, period_range
from core.reports import run_report

JKT = ZoneInfo("Asia/Jakarta")
# Wednesday 15 April 2026, 10:00 Jakarta.
NOW = datetime(2026, 4, 15, 3, 0, tzinfo=UTC)


def _at(y: int, m: int, d: int, hh: int = 10, mm: int = 0, tz: ZoneInfo = JKT) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=tz).astimezone(UTC)


@pytest.fixture
def data(database: Database) -> dict[str, int]:
    """Two teams; reps ana, bo (team A, manager max), cy (team B); known deals/activities."""
    ids: dict[str, int] = {}
    with database.session() as s:
        team_a, team_b = Team(name="A"), Team(name="B")
        s.add_all([team_a, team_b])
        s.flush()
        terr_a = Territory(name="Jakarta", region="Jakarta", team_id=team_a.id)
        terr_b = Territory(name="Surabaya", region="Surabaya", team_id=team_b.id)
        s.add_all([terr_a, terr_b])
        s.flush()
        people = {}
        for login, role, team in (("max", Role.MANAGER, team_a), ("ana", Role.REP, team_a),
                                  ("bo", Role.REP, team_a), ("cy", Role.REP, team_b),
                                  ("root", Role.ADMIN, None)):
            u = User(login=login, name=login.title(), role=role.value,
                     team_id=team.id if team else None, timezone="Asia/Jakarta", locale="en",
                     active=True, created_at=NOW)
            s.add(u)
            people[login] = u
        s.flush()
        team_a.manager_id = people["max"].id
        co_a = Company(name="Alpha", territory_id=terr_a.id, created_at=NOW, updated_at=NOW)
        co_b = Company(name="Beta", territory_id=terr_b.id, created_at=NOW, updated_at=NOW)
        s.add_all([co_a, co_b])
        s.flush()

        def deal(owner: str, company: Company, territory: Territory, team: Team, stage: str,
                 amount: str, created: datetime, history: list[tuple[str, datetime]],
                 lost_reason: str | None = None) -> Deal:
            d = Deal(title=f"{owner}-{amount}", company_id=company.id,
                     owner_id=people[owner].id, team_id=team.id, territory_id=territory.id,
                     stage=stage, amount=Decimal(amount), currency="IDR", facts={},
                     lost_reason=lost_reason, created_at=created, updated_at=created)
            s.add(d)
            s.flush()
            previous = None
            for to, at in history:
                s.add(DealStageChange(deal_id=d.id, user_id=people[owner].id,
                                      from_stage=previous, to_stage=to, at=at))
                previous = to
            return d

        q2 = _at(2026, 4, 2)
        # Won in Q2 (Jakarta): ana 100 + 50, bo 30. cy 70 (team B).
        deal("ana", co_a, terr_a, team_a, "order_placed", "100", q2,
             [("opportunity", q2), ("qualified", _at(2026, 4, 5)),
              ("order_placed", _at(2026, 4, 10))])
        # Won at 00:30 on 1 April Jakarta = 17:30 UTC on 31 March: Q2 in Jakarta, Q1 in UTC.
        deal("ana", co_a, terr_a, team_a, "order_placed", "50", _at(2026, 3, 20),
             [("opportunity", _at(2026, 3, 20)), ("order_placed", _at(2026, 4, 1, 0, 30))])
        deal("bo", co_a, terr_a, team_a, "order_placed", "30", q2,
             [("opportunity", q2), ("order_placed", _at(2026, 4, 12))])
        deal("cy", co_b, terr_b, team_b, "order_placed", "70", q2,
             [("opportunity", q2), ("order_placed", _at(2026, 4, 13))])
        # Won in Q1 (late March Jakarta): not in this quarter.
        deal("bo", co_a, terr_a, team_a, "order_placed", "999", _at(2026, 3, 1),
             [("opportunity", _at(2026, 3, 1)), ("order_placed", _at(2026, 3, 31, 23, 0))])
        # Lost this quarter.
        deal("bo", co_a, terr_a, team_a, "lost", "40", q2,
             [("opportunity", q2), ("lost", _at(2026, 4, 8))], lost_reason="price")
        # Open deals: ana qualified 200 (p=0.4), bo solution 100 (p=0.6), cy contacted 500.
        open_ana = deal("ana", co_a, terr_a, team_a, "qualified", "200", _at(2026, 4, 3),
                        [("opportunity", _at(2026, 4, 3)), ("qualified", _at(2026, 4, 4))])
        open_ana.expected_close = date(2026, 5, 30)
        deal("bo", co_a, terr_a, team_a, "solution", "100", _at(2026, 1, 5),
             [("opportunity", _at(2026, 1, 5)), ("solution", _at(2026, 2, 1))])
        deal("cy", co_b, terr_b, team_b, "contacted", "500", q2,
             [("opportunity", q2), ("contacted", _at(2026, 4, 3))])
        # Activities: ana 2 visits + 1 call this month, bo 1 meeting; cy 3 calls; one of ana's
        # at 23:30 on 31 March Jakarta (previous month in Jakarta).
        for who, kind, at in (("ana", "visit", _at(2026, 4, 1, 8)),
                              ("ana", "visit", _at(2026, 4, 14)),
                              ("ana", "call", _at(2026, 4, 14, 15)),
                              ("ana", "call", _at(2026, 3, 31, 23, 30)),
                              ("bo", "meeting", _at(2026, 4, 6)),
                              ("cy", "call", _at(2026, 4, 6)), ("cy", "call", _at(2026, 4, 7)),
                              ("cy", "call", _at(2026, 4, 8))):
            s.add(Activity(user_id=people[who].id, company_id=co_a.id, kind=kind,
                           occurred_at=at, created_at=at))
        ids.update({k: v.id for k, v in people.items()})
    return ids


def _user(s: Session, uid: int) -> User:
    u = s.get(User, uid)
    assert u is not None
    return u


def _by_label(table: ReportTable, column: str) -> dict[str, object]:
    return {r.label: r.values[column] for r in table.rows}


def test_period_boundaries_in_jakarta() -> None:
    start, end = period_range("this_quarter", JKT, NOW)
    assert start == datetime(2026, 3, 31, 17, 0, tzinfo=UTC)  # 1 April 00:00 WIB
    assert end == datetime(2026, 6, 30, 17, 0, tzinfo=UTC)
    start, end = period_range("last_week", JKT, NOW)
    assert start.astimezone(JKT).date() == date(2026, 4, 6) and (end - start).days == 7
    # DST zone: a month spanning the March change is still local midnight to midnight.
    ny = ZoneInfo("America/New_York")
    start, end = period_range("this_month", ny, datetime(2026, 3, 20, tzinfo=UTC))
    assert start.astimezone(ny).hour == 0 and end.astimezone(ny).hour == 0
    assert end - start == timedelta(days=31, hours=-1)


def test_won_by_rep_this_quarter_for_admin(database: Database, data: dict[str, int]) -> None:
    with database.session() as s:
        table = run_report(s, _user(s, data["root"]), ReportSpec("won", "rep", "this_quarter"),
                           NOW)
    assert _by_label(table, "amount") == {"Ana": Decimal("150"), "Cy": Decimal("70"),
                                          "Bo": Decimal("30")}
    assert _by_label(table, "count") == {"Ana": 2, "Cy": 1, "Bo": 1}
    assert [r.label for r in table.rows] == ["Ana", "Cy", "Bo"]  # biggest first
    assert table.totals["amount"] == Decimal("250") and table.totals["count"] == 4


def test_role_scoping(database: Database, data: dict[str, int]) -> None:
    spec = ReportSpec("won", "rep", "this_quarter")
    with database.session() as s:
        manager = run_report(s, _user(s, data["max"]), spec, NOW)
        rep = run_report(s, _user(s, data["bo"]), spec, NOW)
    assert set(_by_label(manager, "amount")) == {"Ana", "Bo"}  # team A only
    assert _by_label(rep, "amount") == {"Bo": Decimal("30")}  # own figures only


def test_won_over_time_by_month_and_by_team(database: Database, data: dict[str, int]) -> None:
    with database.session() as s:
        admin = _user(s, data["root"])
        by_month = run_report(s, admin, ReportSpec("won", "period", "this_year", "month"), NOW)
        by_team = run_report(s, admin, ReportSpec("won", "team", "this_quarter"), NOW)
    amounts = {r.label: r.values["amount"] for r in by_month.rows}
    assert amounts["2026-03-01"] == Decimal("999")  # 31 March 23:00 WIB stays in March
    assert amounts["2026-04-01"] == Decimal("250")
    assert amounts["2026-01-01"] == 0 and len(by_month.rows) == 12
    assert _by_label(by_team, "amount") == {"A": Decimal("180"), "B": Decimal("70")}


def test_activity_levels_this_month(database: Database, data: dict[str, int]) -> None:
    with database.session() as s:
        table = run_report(s, _user(s, data["max"]),
                           ReportSpec("activities", "rep", "this_month"), NOW)
    rows = {r.label: r.values for r in table.rows}
    assert rows["Ana"] == {"visit": 2, "call": 1, "meeting": 0, "email": 0, "total": 3,
                           "verified": 0, "verified_rate": 0.0}
    assert rows["Bo"]["meeting"] == 1 and "Cy" not in rows
    assert table.totals["total"] == 4


def test_pipeline_forecast_funnel_win_loss_age(database: Database,
                                               data: dict[str, int]) -> None:
    with database.session() as s:
        admin = _user(s, data["root"])
        pipeline = run_report(s, admin, ReportSpec("pipeline", "stage", "this_quarter"), NOW)
        forecast = run_report(s, admin, ReportSpec("forecast", "rep", "this_quarter"), NOW)
        funnel = run_report(s, admin, ReportSpec("funnel", "none", "this_quarter"), NOW)
        win_loss = run_report(s, admin, ReportSpec("win_loss", "rep", "this_quarter"), NOW)
        reasons = run_report(s, admin, ReportSpec("win_loss", "reason", "this_quarter"), NOW)
        age = run_report(s, admin, ReportSpec("deal_age", "rep", "this_quarter"), NOW)
    weighted = {r.key: r.values["weighted"] for r in pipeline.rows}
    assert weighted == {"contacted": Decimal("100.00"), "qualified": Decimal("80.00"),
                        "solution": Decimal("60.00")}
    assert [r.key for r in pipeline.rows] == ["contacted", "qualified", "solution"]
    fc = {r.label: (r.values["won"], r.values["weighted_open"], r.values["forecast"])
          for r in forecast.rows}
    assert fc["Ana"] == (Decimal("150"), Decimal("80.00"), Decimal("230.00"))
    assert fc["Bo"] == (Decimal("30"), Decimal("60.00"), Decimal("90.00"))
    assert fc["Cy"] == (Decimal("70"), Decimal("100.00"), Decimal("170.00"))
    # Funnel of the deals created this quarter: 6 created (ana 100, ana 200, bo 30, cy 70,
    # bo lost 40, cy 500). A deal at a later stage has passed the earlier ones: contacted 5
    # (all but the lost one), qualified 4 (not cy 500), order placed 3.
    steps = {stage: (n, rate) for stage, n, rate in reports.funnel_conversion(funnel)}
    assert steps["opportunity"] == (6, None)
    assert steps["lead_allocated"] == (5, round(100 * 5 / 6, 1))
    assert steps["contacted"] == (5, 100.0)
    assert steps["qualified"] == (4, 80.0)
    assert steps["solution"] == (3, 75.0)
    assert steps["order_placed"] == (3, 100.0)
    wl = {r.label: (r.values["won"], r.values["lost"], r.values["win_rate"])
          for r in win_loss.rows}
    assert wl["Bo"] == (1, 1, 50.0) and wl["Ana"] == (2, 0, 100.0)
    assert win_loss.totals["win_rate"] == round(100 * 4 / 5, 1)
    assert {r.label: r.values["lost"] for r in reasons.rows}.get("price") == 1
    ages = {r.label: r.values["avg_age_days"] for r in age.rows}
    assert ages["Bo"] == pytest.approx((NOW - _at(2026, 1, 5)).total_seconds() / 86400, abs=0.1)


def test_bad_specs_are_refused() -> None:
    for spec in (ReportSpec("nope"), ReportSpec("won", "stage"),
                 ReportSpec("won", "rep", "someday"), ReportSpec("won", "rep",
                                                                "this_month", "hour")):
        with pytest.raises(DomainError):
            spec.validate()
    assert ReportSpec.decode("won.rep.this_quarter.month") == ReportSpec("won")
    with pytest.raises(DomainError):
        ReportSpec.decode("won.rep")


def test_templates_and_weekly_digest(database: Database, data: dict[str, int]) -> None:
    with database.session() as s:
        max_ = _user(s, data["max"])
        reports.save_template(s, max_, "Monday sales", ReportSpec("won", "rep", "last_week"),
                              NOW, schedule="weekly")
        # Same name (any case) overwrites rather than duplicating.
        reports.save_template(s, max_, "monday SALES", ReportSpec("won", "team", "last_week"),
                              NOW, schedule="weekly")
        assert len(reports.list_templates(s, max_)) == 1
        assert reports.template_spec(reports.get_template(s, max_, "Monday Sales")).group_by \
            == "team"
    monday_0759 = datetime(2026, 4, 20, 0, 59, tzinfo=UTC)  # 07:59 WIB
    monday_0800 = datetime(2026, 4, 20, 1, 0, tzinfo=UTC)
    with database.session() as s:
        assert reports.enqueue_weekly_digests(s, monday_0759) == 0
    with database.session() as s:
        assert reports.enqueue_weekly_digests(s, monday_0800) == 2  # built-in + template
    with database.session() as s:
        assert reports.enqueue_weekly_digests(s, monday_0800 + timedelta(hours=3)) == 0
        kinds = [n.kind for n in s.query(NoticeRow).all()]
    assert kinds == ["report.digest", "report.digest"]
