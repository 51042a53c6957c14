"""Quote-to-order and field-service reports against hand-computed figures (Jakarta time)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from core.db import Database
from core.errors import DomainError
from core.models import ApprovalRequest, Company, Role, Team, Territory, User
from core.models.fieldservice import ServiceJob
from core.models.quotes import Quote, QuoteVersion, SalesOrder
from core.report_spec import ReportSpec, ReportTable
from core.reports import run_report

JKT = ZoneInfo("Asia/Jakarta")
# Wednesday 15 April 2026, 10:00 Jakarta: this quarter is April-June.
NOW = datetime(2026, 4, 15, 3, 0, tzinfo=UTC)


def _at(m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(2026, m, d, hh, mm, tzinfo=JKT).astimezone(UTC)


@pytest.fixture
def data(database: Database) -> dict[str, int]:
    """Teams A (manager max, reps ana, bo, technician tom) and B (rep cy, technician tia)."""
    ids: dict[str, int] = {}
    with database.session() as s:
        team_a, team_b = Team(name="A"), Team(name="B")
        s.add_all([team_a, team_b])
        s.flush()
        terr_a = Territory(name="Jakarta", region="Jakarta", team_id=team_a.id)
        terr_b = Territory(name="Surabaya", region="Surabaya", team_id=team_b.id)
        s.add_all([terr_a, terr_b])
        s.flush()
        people: dict[str, User] = {}
        for login, role, team in (("max", Role.MANAGER, team_a), ("ana", Role.REP, team_a),
                                  ("bo", Role.REP, team_a), ("cy", Role.REP, team_b),
                                  ("tom", Role.TECHNICIAN, team_a),
                                  ("tia", Role.TECHNICIAN, team_b),
                                  ("root", Role.ADMIN, None)):
            u = User(login=login, name=login.title(), role=role.value,
                     team_id=team.id if team else None, timezone="Asia/Jakarta", locale="en",
                     active=True, created_at=NOW)
            s.add(u)
            people[login] = u
        s.flush()
        alpha = Company(name="Alpha", territory_id=terr_a.id, owner_id=people["ana"].id,
                        created_at=NOW, updated_at=NOW)
        beta = Company(name="Beta", territory_id=terr_b.id, owner_id=people["cy"].id,
                       created_at=NOW, updated_at=NOW)
        s.add_all([alpha, beta])
        s.flush()
        _quotes(s, people, alpha, beta)
        _jobs(s, people, alpha, beta)
        ids.update({k: v.id for k, v in people.items()})
    return ids


def _quotes(s: Session, people: dict[str, User], alpha: Company, beta: Company) -> None:
    counter = iter(range(1, 100))

    def quote(owner: str, company: Company, versions: list[tuple[datetime, str, str]],
              *, currency: str = "IDR", accepted: int | None = None,
              approval: tuple[int, datetime | None] | None = None) -> None:
        """versions: (created, total, tax); accepted: the version number that became an
        order; approval: (version number, decided at or None while pending)."""
        n = next(counter)
        q = Quote(number=f"Q-{n:04d}", company_id=company.id, owner_id=people[owner].id,
                  currency=currency, status="accepted" if accepted else "sent",
                  current_version=len(versions), created_at=versions[0][0],
                  updated_at=versions[-1][0])
        s.add(q)
        s.flush()
        for number, (created, total, tax) in enumerate(versions, start=1):
            v = QuoteVersion(quote_id=q.id, number=number, subtotal=Decimal(total),
                             discount_total=Decimal(0), tax_total=Decimal(tax),
                             total=Decimal(total), valid_until=date(2026, 12, 31),
                             discount_status="none", created_at=created)
            if approval is not None and approval[0] == number:
                decided = approval[1]
                request = ApprovalRequest(kind="discount", ref_id=q.id,
                                          requested_by_id=people[owner].id,
                                          status="approved" if decided else "pending",
                                          created_at=created, decided_at=decided, details={})
                s.add(request)
                s.flush()
                v.approval_id = request.id
                v.discount_status = "applied" if decided else "pending"
                if decided is None:
                    q.status = "pending"
            s.add(v)
            s.flush()
            if accepted == number:
                s.add(SalesOrder(number=f"SO-{n:04d}", quote_id=q.id, version_id=v.id,
                                 company_id=company.id, currency=currency,
                                 total=Decimal(total), created_at=created))

    # ana: two versions (net 100, then net 200), accepted as v2: counted once, value 200.
    quote("ana", alpha, [(_at(4, 2), "111", "11"), (_at(4, 5), "222", "22")], accepted=2)
    quote("ana", alpha, [(_at(4, 3), "55.50", "5.50")])  # sent, still open
    # ana, in USD: accepted, counted, but its value is not added to IDR.
    quote("ana", alpha, [(_at(4, 5), "11", "1")], currency="USD", accepted=1)
    # bo: sent 30 March (last quarter), accepted in April: belongs to last quarter's cohort.
    quote("bo", alpha, [(_at(3, 30), "55", "5")], accepted=1)
    # bo: created 31 March awaiting a discount approval, approved 00:30 on 1 April Jakarta
    # (17:30 UTC on 31 March): first sent in this quarter. Net 300.00.
    quote("bo", alpha, [(_at(3, 31), "333.33", "33.33")], accepted=1,
          approval=(1, _at(4, 1, 0, 30)))
    # bo: approval still pending: never sent, not counted.
    quote("bo", alpha, [(_at(4, 9), "999", "99")], approval=(1, None))
    # cy (team B): sent and accepted, net 70.
    quote("cy", beta, [(_at(4, 4), "77", "7")], accepted=1)


def _jobs(s: Session, people: dict[str, User], alpha: Company, beta: Company) -> None:
    def job(tech: str | None, company: Company, site: str, created: datetime,
            arrived: datetime | None, finished: datetime | None, window_end: datetime | None,
            *, status: str = "done", kind: str = "service", failure: str | None = None
            ) -> None:
        s.add(ServiceJob(company_id=company.id, territory_id=company.territory_id, kind=kind,
                         skill="hvac", description="aircon", site_address=site,
                         status=status, technician_id=people[tech].id if tech else None,
                         window_start=created, window_end=window_end, created_at=created,
                         arrived_at=arrived, finished_at=finished, failure_reason=failure,
                         parts=[], updated_at=created))

    thamrin, sudirman = "Jl. Thamrin 9", "Jl. Sudirman 1"
    # J1: 90 min, on time, no repeat call: fixed first time.
    job("tom", alpha, thamrin, _at(4, 6, 8), _at(4, 6, 9, 30), _at(4, 6, 11), _at(4, 6, 12))
    # J2: 180 min, late; a repeat call at the same site 3 days later (J3): not fixed.
    job("tom", alpha, sudirman, _at(4, 7, 8), _at(4, 7, 11), _at(4, 7, 12), _at(4, 7, 10))
    # J3: the repeat call (same site written differently): 30 min, on time, fixed.
    job("tom", alpha, " jl. SUDIRMAN  1", _at(4, 10, 8), _at(4, 10, 8, 30), _at(4, 10, 9),
        _at(4, 10, 16))
    # J4: could not be completed once, re-dispatched, done the next day: 1440 min, late.
    job("tom", alpha, "Jl. Gatot 5", _at(4, 8, 8), _at(4, 9, 8), _at(4, 9, 10), _at(4, 8, 17),
        failure="part missing")
    # J5: done but no on-site time recorded (imported): counted as done and fixed only.
    job("tom", alpha, "Gudang 2", _at(4, 11, 8), None, _at(4, 11, 15), _at(4, 11, 17))
    # J6 (team B): 45 min, no time window.
    job("tia", beta, "Jl. Pemuda 3", _at(4, 6, 8), _at(4, 6, 8, 45), _at(4, 6, 10), None)
    # Not counted: an open job, a job done last quarter; an installation at J3's site is
    # not a repeat service call.
    job("tom", alpha, "Jl. Kuningan 4", _at(4, 14, 8), None, None, _at(4, 14, 17),
        status="assigned")
    job("tom", alpha, thamrin, _at(3, 30, 8), _at(3, 30, 9), _at(3, 30, 10), _at(3, 30, 12))
    job(None, alpha, sudirman, _at(4, 12, 8), None, None, _at(4, 12, 17), status="new",
        kind="installation")


def _user(s: Session, uid: int) -> User:
    u = s.get(User, uid)
    assert u is not None
    return u


def _rows(table: ReportTable) -> dict[str, dict[str, Decimal | int | float | None]]:
    return {r.label: r.values for r in table.rows}


def test_quotes_by_rep_count_each_quote_once(database: Database, data: dict[str, int]) -> None:
    with database.session() as s:
        table = run_report(s, _user(s, data["root"]), ReportSpec("quotes", "rep"), NOW)
    assert table.columns == ("sent", "accepted", "conversion_rate", "accepted_value")
    assert _rows(table) == {
        "Ana": {"sent": 3, "accepted": 2, "conversion_rate": 66.7,
                "accepted_value": Decimal("200")},
        "Bo": {"sent": 1, "accepted": 1, "conversion_rate": 100.0,
               "accepted_value": Decimal("300.00")},
        "Cy": {"sent": 1, "accepted": 1, "conversion_rate": 100.0,
               "accepted_value": Decimal("70")},
    }
    assert [r.label for r in table.rows] == ["Ana", "Bo", "Cy"]  # most sent first
    assert table.totals == {"sent": 5, "accepted": 4, "conversion_rate": 80.0,
                            "accepted_value": Decimal("570.00")}
    assert table.excluded == {"accepted_other_currency": 1}


def test_quotes_by_team_territory_customer_and_month(database: Database,
                                                     data: dict[str, int]) -> None:
    with database.session() as s:
        admin = _user(s, data["root"])
        team = run_report(s, admin, ReportSpec("quotes", "team"), NOW)
        territory = run_report(s, admin, ReportSpec("quotes", "territory"), NOW)
        customer = run_report(s, admin, ReportSpec("quotes", "customer"), NOW)
        months = run_report(s, admin, ReportSpec("quotes", "period", "this_year", "month"), NOW)
        last_q = run_report(s, admin, ReportSpec("quotes", "none", "last_quarter"), NOW)
    assert {k: (v["sent"], v["accepted"], v["accepted_value"])
            for k, v in _rows(team).items()} == {"A": (4, 3, Decimal("500.00")),
                                                 "B": (1, 1, Decimal("70"))}
    assert {k: v["sent"] for k, v in _rows(territory).items()} == {"Jakarta": 4, "Surabaya": 1}
    assert {k: v["sent"] for k, v in _rows(customer).items()} == {"Alpha": 4, "Beta": 1}
    by_month = _rows(months)
    assert len(by_month) == 12
    assert by_month["2026-03-01"] == {"sent": 1, "accepted": 1, "conversion_rate": 100.0,
                                      "accepted_value": Decimal("50")}
    assert by_month["2026-04-01"]["sent"] == 5
    assert by_month["2026-01-01"] == {"sent": 0, "accepted": 0, "conversion_rate": None,
                                      "accepted_value": 0}
    assert _rows(last_q) == {"all": {"sent": 1, "accepted": 1, "conversion_rate": 100.0,
                                     "accepted_value": Decimal("50")}}


def test_quotes_scope_and_no_quotes(database: Database, data: dict[str, int]) -> None:
    spec = ReportSpec("quotes", "rep")
    with database.session() as s:
        manager = run_report(s, _user(s, data["max"]), spec, NOW)
        bo = run_report(s, _user(s, data["bo"]), spec, NOW)
        cy = run_report(s, _user(s, data["cy"]), ReportSpec("quotes", "team"), NOW)
        empty = run_report(s, _user(s, data["root"]), ReportSpec("quotes", "rep", "last_year"),
                           NOW)
    assert set(_rows(manager)) == {"Ana", "Bo"}  # team A only
    assert manager.totals["accepted_value"] == Decimal("500.00")
    assert set(_rows(bo)) == {"Bo"}
    assert _rows(cy) == {"B": {"sent": 1, "accepted": 1, "conversion_rate": 100.0,
                               "accepted_value": Decimal("70")}}  # never team A's figures
    assert empty.rows == [] and empty.excluded == {}
    assert empty.totals == {"sent": 0, "accepted": 0, "conversion_rate": None,
                            "accepted_value": 0}


def test_service_by_technician(database: Database, data: dict[str, int]) -> None:
    with database.session() as s:
        table = run_report(s, _user(s, data["root"]), ReportSpec("service", "technician"), NOW)
    assert table.columns == ("done", "median_response_min", "on_time_rate",
                             "first_time_fix_rate")
    assert _rows(table) == {
        # Responses 90, 180, 30, 1440 min (J5 has no on-site time): median 135; on time
        # J1, J3 of 4 timed; fixed first time J1, J3, J5 of 5.
        "Tom": {"done": 5, "median_response_min": 135.0, "on_time_rate": 50.0,
                "first_time_fix_rate": 60.0},
        "Tia": {"done": 1, "median_response_min": 45.0, "on_time_rate": None,
                "first_time_fix_rate": 100.0},
    }
    # Totals from the jobs, not from the rows: median of 30, 45, 90, 180, 1440.
    assert table.totals == {"done": 6, "median_response_min": 90.0, "on_time_rate": 50.0,
                            "first_time_fix_rate": 66.7}
    assert table.excluded == {"no_arrival": 1, "no_window": 1}


def test_service_groupings_and_scope(database: Database, data: dict[str, int]) -> None:
    with database.session() as s:
        admin = _user(s, data["root"])
        territory = run_report(s, admin, ReportSpec("service", "territory"), NOW)
        weeks = run_report(s, admin, ReportSpec("service", "period", "this_month", "week"),
                           NOW)
        manager = run_report(s, _user(s, data["max"]), ReportSpec("service", "technician"),
                             NOW)
        tia = run_report(s, _user(s, data["tia"]), ReportSpec("service", "none"), NOW)
        cy = run_report(s, _user(s, data["cy"]), ReportSpec("service", "technician"), NOW)
        ana = run_report(s, _user(s, data["ana"]), ReportSpec("service", "customer"), NOW)
        bo = run_report(s, _user(s, data["bo"]), ReportSpec("service", "technician"), NOW)
        empty = run_report(s, admin, ReportSpec("service", "technician", "last_year"), NOW)
    assert {k: v["done"] for k, v in _rows(territory).items()} == {"Jakarta": 5, "Surabaya": 1}
    by_week = _rows(weeks)
    # Weeks starting Mondays 30 March .. 13 April; 30 March-5 April has no job done.
    assert by_week["2026-03-30"] == {"done": 0, "median_response_min": None,
                                     "on_time_rate": None, "first_time_fix_rate": None}
    assert by_week["2026-04-06"]["done"] == 6
    assert set(_rows(manager)) == {"Tom"}  # Tia works for team B
    assert _rows(tia) == {"all": {"done": 1, "median_response_min": 45.0,
                                  "on_time_rate": None, "first_time_fix_rate": 100.0}}
    assert set(_rows(cy)) == {"Tia"}  # the jobs at cy's own account
    assert set(_rows(ana)) == {"Alpha"}
    assert bo.rows == []  # bo owns no account with service jobs
    assert empty.rows == [] and empty.totals["median_response_min"] is None


def test_new_specs_validate_and_encode() -> None:
    spec = ReportSpec("service", "technician", "last_month")
    assert ReportSpec.decode(spec.encode()) == spec
    with pytest.raises(DomainError):
        ReportSpec("quotes", "technician").validate()
    with pytest.raises(DomainError):
        ReportSpec("service", "stage").validate()
    with pytest.raises(DomainError):
        ReportSpec("won", "technician").validate()
