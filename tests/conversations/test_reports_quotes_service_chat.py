"""Quote conversion and field-service reports in chat: English and Indonesian, table + chart."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.conversations.reports import parse_request
from core.clock import ManualClock
from core.db import Database
from core.models import Company, Territory, User
from core.models.fieldservice import ServiceJob
from core.models.quotes import Quote, QuoteVersion, SalesOrder
from core.report_spec import ReportSpec
from core.reports import run_report
from tests.support.chat import ChatUser, CollectingChat, texts

JKT = ZoneInfo("Asia/Jakarta")


def _feb(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 2, day, hh, mm, tzinfo=JKT).astimezone(UTC)


def _user(database: Database, login: str) -> tuple[int, int | None]:
    with database.session() as s:
        user = s.scalar(select(User).where(User.login == login))
        assert user is not None
        return user.id, user.team_id


def _team_company(database: Database, login: str) -> int:
    _, team_id = _user(database, login)
    with database.session() as s:
        company = s.scalars(select(Company).join(Territory, Territory.id == Company.territory_id)
                            .where(Territory.team_id == team_id).order_by(Company.id)).first()
        assert company is not None
        return company.id


def _quote(database: Database, login: str, when: datetime, total: str, tax: str, *,
           versions: int = 1, accepted: bool = False) -> None:
    """A quote sent by `login` at `when` with `versions` versions; the last one accepted."""
    owner_id, _ = _user(database, login)
    company_id = _team_company(database, login)
    with database.session() as s:
        number = f"QT-{login}-{int(when.timestamp())}-{total}"
        q = Quote(number=number[:24], company_id=company_id, owner_id=owner_id, currency="IDR",
                  status="accepted" if accepted else "sent", current_version=versions,
                  created_at=when, updated_at=when)
        s.add(q)
        s.flush()
        for n in range(1, versions + 1):
            v = QuoteVersion(quote_id=q.id, number=n, subtotal=Decimal(total),
                             discount_total=Decimal(0), tax_total=Decimal(tax),
                             total=Decimal(total), valid_until=date(2026, 12, 31),
                             discount_status="none", created_at=when + timedelta(minutes=n))
            s.add(v)
            s.flush()
        if accepted:
            s.add(SalesOrder(number=f"SO-{q.id}-T", quote_id=q.id, version_id=v.id,
                             company_id=company_id, currency="IDR", total=Decimal(total),
                             created_at=when + timedelta(hours=1)))


def _job(database: Database, tech: str, created: datetime, arrived: datetime | None,
         window_end: datetime, *, failed: bool = False) -> None:
    tech_id, _ = _user(database, tech)
    company_id = _team_company(database, tech)
    with database.session() as s:
        company = s.get(Company, company_id)
        assert company is not None
        s.add(ServiceJob(company_id=company_id, territory_id=company.territory_id,
                         kind="service", skill="hvac", description="aircon not cooling",
                         site_address=f"Site of {tech} {created.isoformat()}", status="done",
                         technician_id=tech_id, window_start=created, window_end=window_end,
                         created_at=created, arrived_at=arrived,
                         finished_at=(arrived or created) + timedelta(hours=1),
                         failure_reason="part missing" if failed else None, parts=[],
                         updated_at=created))


def _table_for(database: Database, login: str, spec: ReportSpec, now: datetime
               ) -> dict[str, dict[str, Any]]:
    with database.session() as s:
        viewer = s.scalar(select(User).where(User.login == login))
        assert viewer is not None
        table = run_report(s, viewer, spec, now)
        return {r.label: dict(r.values) for r in table.rows}


def _line(text: str, name: str) -> list[str]:
    """The cells of the table line that starts with `name`."""
    line = next(li for li in text.splitlines() if li.startswith(name))
    return line[len(name):].split()


def test_parse_quote_and_service_requests() -> None:
    assert parse_request("quote conversion by rep this quarter") == ReportSpec("quotes", "rep")
    assert parse_request("konversi penawaran per tim bulan lalu") == ReportSpec(
        "quotes", "team", "last_month")
    assert parse_request("first time fix rate by technician last month") == ReportSpec(
        "service", "technician", "last_month")
    assert parse_request("waktu respon teknisi") == ReportSpec("service", "technician")
    assert parse_request("response times per wilayah kuartal lalu") == ReportSpec(
        "service", "territory", "last_quarter")
    assert parse_request("funnel this month") == ReportSpec("funnel", "none", "this_month")


async def test_manager_asks_quote_conversion_in_english(
        chat: CollectingChat, database: Database, clock: ManualClock) -> None:
    now = clock.now()
    spec = ReportSpec("quotes", "rep", "this_quarter")
    before = _table_for(database, "maya", spec, now).get("Budi Santoso", {})
    # Budi: one quote with three versions accepted (net 100,000,000), one still open.
    _quote(database, "budi", now - timedelta(days=3), "111000000", "11000000", versions=3,
           accepted=True)
    _quote(database, "budi", now - timedelta(days=2), "55500000", "5500000")
    _quote(database, "dewi", now - timedelta(days=2), "999000000", "99000000",
           accepted=True)  # Java East: not Maya's
    after = _table_for(database, "maya", spec, now)
    budi = after["Budi Santoso"]
    assert budi["sent"] == int(before.get("sent") or 0) + 2  # versions count once
    assert budi["accepted"] == int(before.get("accepted") or 0) + 1
    assert budi["accepted_value"] == Decimal(str(before.get("accepted_value") or 0)) + \
        Decimal("100000000")
    assert "Dewi Anggraini" not in after

    maya = chat.as_user("maya")
    replies = await maya.say("quote conversion by rep this quarter")
    table, chart = replies[0], replies[1]
    assert table.preformatted
    assert "Quote conversion by rep, this quarter" in table.text
    assert "Sent" in table.text and "Conversion %" in table.text
    rate = budi["conversion_rate"]
    assert _line(table.text, "Budi Santoso") == [
        str(budi["sent"]), str(budi["accepted"]), f"{rate:,.1f}".rstrip("0").rstrip("."),
        f"{budi['accepted_value']:,.0f}"]
    assert "Dewi" not in table.text
    assert chart.attachment is not None and chart.attachment.mime == "image/png"
    assert chart.attachment.data.startswith(b"\x89PNG")
    out = await maya.press("Export CSV")
    assert out[0].attachment is not None
    rows = list(csv.reader(io.StringIO(out[0].attachment.data.decode())))
    assert rows[0] == ["Name", "Sent", "Accepted", "Conversion %", "Accepted value"]
    csv_budi = next(r for r in rows if r[0] == "Budi Santoso")
    assert Decimal(csv_budi[4]) == budi["accepted_value"]


async def _service_data(database: Database) -> None:
    # Tono: 60 min, on time, fixed first time. Agus: 120 min, late, failed once.
    _job(database, "tono", _feb(10, 8), _feb(10, 9), _feb(10, 12))
    _job(database, "agus", _feb(11, 8), _feb(11, 10), _feb(11, 9), failed=True)
    # Agus: done with no on-site time: a job done, no response time.
    _job(database, "agus", _feb(12, 8), None, _feb(12, 12))
    # Wayan (Java East): 45 min, on time.
    _job(database, "wayan", _feb(13, 8), _feb(13, 8, 45), _feb(13, 12))


async def test_manager_asks_first_time_fix_and_saves_it(
        chat: CollectingChat, database: Database, clock: ManualClock) -> None:
    spec = ReportSpec("service", "technician", "last_month")
    assert _table_for(database, "admin", spec, clock.now()) == {}  # February is empty
    await _service_data(database)
    maya: ChatUser = chat.as_user("maya")
    replies = await maya.say("first time fix rate by technician last month")
    text = replies[0].text
    assert "Field service by technician, last month" in text
    assert _line(text, "Tono Sugiarto") == ["1", "60", "100", "100"]
    assert _line(text, "Agus Salim") == ["2", "120", "0", "50"]
    assert _line(text, "Total") == ["3", "90", "50", "66.7"]
    assert "Wayan" not in text  # another team's technician
    assert "not in the response time or the on-time rate): 1" in text
    assert "within 30 days" in text
    assert replies[1].attachment is not None and replies[1].attachment.mime == "image/png"
    await maya.press("Save as template")
    await maya.say("Service Feb")
    again = await maya.say("/report service feb")
    assert "Field service by technician, last month" in texts(again)


async def test_indonesian_manager_and_bad_grouping(
        chat: CollectingChat, database: Database, clock: ManualClock) -> None:
    await _service_data(database)
    hendra = chat.as_user("hendra")  # Indonesian-speaking manager of Java East
    replies = await hendra.say("waktu respon teknisi bulan lalu")
    text = replies[0].text
    assert "Layanan lapangan per teknisi, bulan lalu" in text
    assert _line(text, "I Wayan Sudarta") == ["1", "45", "100", "100"]
    assert "Tono" not in text and "Agus" not in text
    assert replies[1].attachment is not None and replies[1].attachment.mime == "image/png"
    now = clock.now()
    _quote(database, "dewi", now - timedelta(days=1), "22200000", "2200000", accepted=True)
    _quote(database, "dewi", now - timedelta(days=1), "11100000", "1100000")
    expected = _table_for(database, "hendra", ReportSpec("quotes", "rep"), now)
    dewi = expected["Dewi Anggraini"]
    out = await hendra.say("laporan konversi penawaran per rep kuartal ini")
    assert "Konversi penawaran per rep, kuartal ini" in texts(out)
    assert "Terkirim" in texts(out) and "Nilai diterima" in texts(out)
    cells = _line(out[0].text, "Dewi Anggraini")
    assert cells[:2] == [str(dewi["sent"]), str(dewi["accepted"])]
    assert cells[3] == f"{dewi['accepted_value']:,.0f}".replace(",", ".")
    # A grouping that does not fit: a short reply and the groupings that do.
    bad = await chat.as_user("maya").say("/report quote conversion by stage")
    assert texts(bad).startswith("Quote conversion cannot be shown by stage. Grouped how?")
    maya = chat.as_user("maya")
    await maya.press("by team")
    shown = await maya.press("This quarter")
    assert "Quote conversion by team, this quarter" in texts(shown)


async def test_technician_cannot_run_reports(chat: CollectingChat,
                                             database: Database) -> None:
    await _service_data(database)
    agus = chat.as_user("agus")
    assert "role cannot" in texts(await agus.say("/report first time fix rate by technician"))
    out = texts(await agus.say("first time fix rate by technician last month"))
    assert "Agus Salim" not in out and "Response (min)" not in out
