"""Activity reports (issue 23): counted per person / customer from covering indexes and
folded into teams and territories; checked against a plain count of the rows, for every
grouping and role, and right at once after activities are added, moved and re-dated."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from core.db import Database
from core.models import Activity, Company, Role, Team, Territory, User
from core.models.fieldday import VisitCheckin
from core.report_spec import ReportSpec, bucket_starts, local_midnight_utc, period_range
from core.reports import run_report

JKT = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 4, 15, 3, 0, tzinfo=UTC)  # Wednesday 15 April 2026, 10:00 Jakarta
KINDS = ("visit", "call", "meeting", "email")
GROUPINGS = ("rep", "team", "territory", "customer", "period", "none")


@pytest.fixture
def world(database: Database) -> dict[str, Any]:
    rng = random.Random(23)
    with database.session() as s:
        teams = [Team(name=f"T{i}") for i in range(2)]
        s.add_all(teams)
        s.flush()
        territories = [Territory(name=f"Terr {i}", region=f"R{i}", team_id=teams[i % 2].id)
                       for i in range(3)]
        s.add_all(territories)
        s.flush()
        users = [User(login="root", name="Root", role=Role.ADMIN.value, timezone="Asia/Jakarta",
                      locale="en", active=True, created_at=NOW),
                 User(login="max", name="Max", role=Role.MANAGER.value, team_id=teams[0].id,
                      timezone="Asia/Jakarta", locale="en", active=True, created_at=NOW)]
        users += [User(login=f"rep{i}", name=f"Rep {i}", role=Role.REP.value,
                       team_id=teams[i % 2].id if i < 5 else None, timezone="Asia/Jakarta",
                       locale="en", active=True, created_at=NOW) for i in range(6)]
        s.add_all(users)
        s.flush()
        companies = [Company(name=f"Co {i}", territory_id=territories[i % 3].id if i < 7
                             else None, created_at=NOW, updated_at=NOW) for i in range(9)]
        s.add_all(companies)
        s.flush()
        reps = users[2:]
        for i in range(600):
            when = NOW - timedelta(days=rng.randint(0, 500), minutes=rng.randint(0, 1439))
            a = Activity(user_id=rng.choice(reps).id, company_id=rng.choice(companies).id,
                         kind=KINDS[i % 4] if i % 37 else "other", occurred_at=when,
                         created_at=when)
            s.add(a)
            s.flush()
            if a.kind == "visit" and i % 3 == 0:
                s.add(VisitCheckin(activity_id=a.id, user_id=a.user_id, company_id=a.company_id,
                                   lat=0.0, lon=0.0, verified=i % 2 == 0, at=when))
        return {"root": users[0].id, "max": users[1].id, "rep": reps[0].id}


def _expected(s: Any, viewer: User, spec: ReportSpec) -> dict[Any, dict[str, int]]:
    """The report by hand: every activity read, scoped and grouped in Python."""
    start, end = period_range(spec.period, JKT, NOW)
    users = {u.id: u for u in s.scalars(select(User))}
    companies = {c.id: c for c in s.scalars(select(Company))}
    verified = {c.activity_id for c in s.scalars(select(VisitCheckin)) if c.verified}
    edges: list[datetime] = []
    if spec.group_by == "period":
        starts = bucket_starts(start.astimezone(JKT).date(), end.astimezone(JKT).date(),
                               spec.interval)
        edges = [local_midnight_utc(b, JKT) for b in starts[1:]]
    out: dict[Any, Counter[str]] = {}
    for a in s.scalars(select(Activity)):
        if not start <= a.occurred_at < end:
            continue
        if viewer.role == Role.REP.value and a.user_id != viewer.id:
            continue
        if viewer.role == Role.MANAGER.value and users[a.user_id].team_id != viewer.team_id:
            continue
        key = {"rep": a.user_id, "team": users[a.user_id].team_id,
               "territory": companies[a.company_id].territory_id, "customer": a.company_id,
               "none": "all",
               "period": sum(1 for e in edges if a.occurred_at >= e)}[spec.group_by]
        row = out.setdefault(key, Counter())
        if a.kind in KINDS:
            row[a.kind] += 1
        row["total"] += 1
        row["verified"] += a.id in verified
    return {k: {c: n for c, n in v.items() if n} for k, v in out.items()}


def _reported(s: Any, viewer: User, spec: ReportSpec) -> dict[Any, dict[str, int]]:
    table = run_report(s, viewer, spec, NOW)
    out = {}
    for row in table.rows:
        values = {c: int(row.values[c] or 0) for c in (*KINDS, "total", "verified")}
        if values["total"] or spec.group_by != "period":
            out[row.key] = {c: n for c, n in values.items() if n}
    return out


def _check_all(database: Database, world: dict[str, Any], periods: tuple[str, ...]) -> None:
    with database.session() as s:
        for who in ("root", "max", "rep"):
            viewer = s.get(User, world[who])
            assert viewer is not None
            for grouping in GROUPINGS:
                for period in periods:
                    spec = ReportSpec("activities", grouping, period, "month")
                    assert _reported(s, viewer, spec) == _expected(s, viewer, spec), (
                        who, grouping, period)


def test_every_grouping_and_role_matches_a_plain_count(database: Database,
                                                       world: dict[str, Any]) -> None:
    _check_all(database, world, ("last_year", "this_quarter", "last_30_days", "today"))


def test_added_moved_and_redated_activities_count_at_once(database: Database,
                                                          world: dict[str, Any]) -> None:
    with database.session() as s:
        rep = s.get(User, world["rep"])
        assert rep is not None
        company = s.scalar(select(Company).where(Company.name == "Co 1"))
        assert company is not None
        s.add(Activity(user_id=rep.id, company_id=company.id, kind="visit",
                       occurred_at=NOW - timedelta(hours=1), created_at=NOW))
        first = s.scalar(select(Activity).order_by(Activity.id).limit(1))
        assert first is not None
        first.occurred_at = NOW - timedelta(minutes=5)  # re-dated into today
        first.kind = "meeting"
    with database.session() as s:  # a customer moves territory, a rep changes team
        s.execute(update(Company).where(Company.name == "Co 2").values(territory_id=None))
        s.execute(update(User).where(User.login == "rep1").values(team_id=None))
    _check_all(database, world, ("today", "last_year"))
