"""Reports in chat: one-line request and the button walk, table + PNG chart + CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from PIL import Image
from sqlalchemy import select

from bot.conversations.reports import parse_request
from core.clock import ManualClock
from core.db import Database
from core.models import Company, Deal, DealStageChange, NoticeRow, User
from core.report_spec import ReportSpec
from tests.support.chat import CollectingChat, texts


def _won_deal(database: Database, clock: ManualClock, login: str, amount: str) -> None:
    with database.session() as s:
        user = s.scalar(select(User).where(User.login == login))
        company = s.scalars(select(Company)).first()
        assert user and company
        deal = Deal(title=f"deal {amount}", company_id=company.id, owner_id=user.id,
                    team_id=user.team_id, stage="order_placed", amount=Decimal(amount),
                    currency="IDR", facts={}, created_at=clock.now(), updated_at=clock.now())
        s.add(deal)
        s.flush()
        s.add(DealStageChange(deal_id=deal.id, user_id=user.id, from_stage="solution",
                              to_stage="order_placed", at=clock.now() - timedelta(hours=1)))


def test_parse_one_line_requests() -> None:
    assert parse_request("won by rep this quarter") == ReportSpec("won", "rep", "this_quarter")
    assert parse_request("penjualan per tim bulan lalu") == ReportSpec("won", "team",
                                                                       "last_month")
    assert parse_request("activities by month this year") == ReportSpec(
        "activities", "period", "this_year", "month")
    assert parse_request("funnel this month") == ReportSpec("funnel", "none", "this_month")
    assert parse_request("pipeline by stage") == ReportSpec("pipeline", "stage", "this_quarter")
    assert parse_request("who handles Sinar Jaya") is None
    assert parse_request("lost by reason last quarter") == ReportSpec("win_loss", "reason",
                                                                      "last_quarter")


def _won_by_rep(database: Database, clock: ManualClock, login: str) -> dict[str, Decimal]:
    from core.reports import run_report

    with database.session() as s:
        viewer = s.scalar(select(User).where(User.login == login))
        assert viewer is not None
        table = run_report(s, viewer, ReportSpec("won", "rep", "this_quarter"), clock.now())
        return {r.label: Decimal(r.values["amount"]) for r in table.rows}


async def test_manager_gets_table_chart_and_csv(chat: CollectingChat, database: Database,
                                                clock: ManualClock) -> None:
    before = _won_by_rep(database, clock, "maya")  # the demo world's own won deals
    _won_deal(database, clock, "budi", "125000000")
    _won_deal(database, clock, "sari", "80000000")
    _won_deal(database, clock, "dewi", "999000000")  # another team: not Maya's
    budi_total = before.get("Budi Santoso", Decimal(0)) + Decimal("125000000")
    sari_total = before.get("Sari Purnamasari", Decimal(0)) + Decimal("80000000")
    maya = chat.as_user("maya")
    replies = await maya.say("/report won by rep this quarter")
    table, chart = replies[0], replies[1]
    assert table.preformatted
    assert "Won sales by rep, this quarter" in table.text
    assert "Budi Santoso" in table.text and "Sari Purnamasari" in table.text
    assert "Dewi" not in table.text
    assert f"{budi_total:,.0f}" in table.text
    assert chart.attachment is not None and chart.attachment.mime == "image/png"
    image = Image.open(io.BytesIO(chart.attachment.data))
    assert image.format == "PNG" and image.size[0] >= 600 and image.size[1] >= 300
    out = await maya.press("Export CSV")
    attachment = out[0].attachment
    assert attachment is not None and attachment.filename.endswith(".csv")
    rows = list(csv.reader(io.StringIO(attachment.data.decode())))
    assert rows[0] == ["Name", "Amount", "Count"]
    values = {r[0]: Decimal(r[1]) for r in rows[1:]}
    assert values["Budi Santoso"] == budi_total
    assert values["Sari Purnamasari"] == sari_total
    assert "Dewi Anggraini" not in values


async def test_button_walk_and_saved_template(chat: CollectingChat, database: Database,
                                              clock: ManualClock) -> None:
    _won_deal(database, clock, "budi", "5000000")
    budi = chat.as_user("budi")
    await budi.say("/report")
    await budi.press("Won sales")
    await budi.press("by rep")
    replies = await budi.press("This month")
    assert "Won sales by rep, this month" in texts(replies)
    await budi.press("Save as template")
    out = await budi.say("My month")
    assert "Saved as \"My month\"" in texts(out)
    await budi.press("Send weekly")
    again = await budi.say("/report my month")
    assert "Won sales by rep, this month" in texts(again)
    listing = await budi.say("/reports")
    assert "My month (weekly)" in texts(listing)


async def test_rep_sees_only_own_figures_and_technician_is_refused(
        chat: CollectingChat, database: Database, clock: ManualClock) -> None:
    _won_deal(database, clock, "budi", "7000000")
    _won_deal(database, clock, "sari", "9000000")
    out = await chat.as_user("budi").say("won by rep this quarter")
    assert "Budi Santoso" in texts(out) and "Sari" not in texts(out)
    tech = await chat.as_user("agus").say("/report won by rep")
    assert "role cannot" in texts(tech)


@pytest.mark.parametrize(("measure", "title"), [
    ("Average deal age", "Average deal age"), ("Won sales", "Won sales")])
async def test_a_typed_period_works_for_every_report(chat: CollectingChat, measure: str,
                                                     title: str) -> None:
    budi = chat.as_user("budi")
    await budi.say("/report")
    replies = await budi.press(measure)
    if "Grouped how?" in texts(replies):
        await budi.press("by rep")
    out = texts(await budi.say("last month"))
    assert title in out and "last month" in out, out


async def test_indonesian_report_and_bad_input(chat: CollectingChat) -> None:
    hendra = chat.as_user("hendra")  # Indonesian-speaking manager
    out = await hendra.say("laporan aktivitas per rep bulan ini")
    assert "Tingkat aktivitas per rep, bulan ini" in texts(out)
    out = await hendra.say("/report nonsense words")
    assert "Tidak ada laporan tersimpan" in texts(out)


async def test_weekly_digest_notice_renders_with_chart(app: object, database: Database,
                                                       clock: ManualClock) -> None:
    from bot.app import App
    from bot.i18n import Translator
    from core.reports import enqueue_weekly_digests

    assert isinstance(app, App)
    _won_deal(database, clock, "budi", "3000000")
    monday_8 = clock.now() + timedelta(days=7)  # Monday 9 March 2026, 09:00 WIB
    with database.session() as s:
        enqueue_weekly_digests(s, monday_8)
    with database.session() as s:
        notice = s.scalars(select(NoticeRow).where(NoticeRow.kind == "report.digest")).first()
        assert notice is not None
        user = s.get(User, notice.recipient_user_id)
        render = app.registry.notices["report.digest"]
        reply = render(s, notice, user, Translator(user.locale, user.timezone))
    assert reply is not None and reply.attachment is not None
    assert "weekly digest" in reply.text.lower() or "mingguan" in reply.text.lower()


async def test_loss_reasons_are_named_in_words(chat: CollectingChat, database: Database,
                                               clock: ManualClock) -> None:
    _won_deal(database, clock, "budi", "5000000")
    with database.session() as s:
        user = s.scalar(select(User).where(User.login == "budi"))
        company = s.scalars(select(Company)).first()
        assert user and company
        deal = Deal(title="lost one", company_id=company.id, owner_id=user.id,
                    team_id=user.team_id, stage="lost", lost_reason="no_budget",
                    amount=Decimal(1), currency="IDR", facts={}, created_at=clock.now(),
                    updated_at=clock.now(), closed_at=clock.now() - timedelta(hours=1))
        s.add(deal)
        s.flush()
        s.add(DealStageChange(deal_id=deal.id, user_id=user.id, from_stage="qualified",
                              to_stage="lost", reason="no_budget",
                              at=clock.now() - timedelta(hours=1)))
    text = texts(await chat.as_user("maya").say("/report lost by reason this quarter"))
    assert "No budget" in text and "no_budget" not in text and "(won)" in text


@pytest.mark.parametrize(("text", "period"), [
    ("how much did we win last quarter", "last_quarter"),
    ("how much did we sell last month", "last_month"),
    ("what did we close this year", "this_year"),
    ("berapa jualan kita bulan lalu", "last_month"),
    ("berapa yang terjual tahun ini", "this_year"),
    ("total deal yang closing bulan ini", "this_month")])
def test_sales_asked_in_everyday_words(text: str, period: str) -> None:
    """Found by asking as a rep: "how much did we win last quarter?" answered "No saved
    report called how much did we win last quarter"."""
    spec = parse_request(text)
    assert spec is not None and (spec.measure, spec.period) == ("won", period)


async def test_a_question_without_its_figures_asks_which(chat: CollectingChat) -> None:
    maya = chat.as_user("maya")
    out = texts(await maya.say("/report the numbers for the meeting with the boss"))
    assert "I could not tell which figures you want." in out or \
        "Saya belum tahu angka apa yang Anda mau." in out
    assert "No saved report" not in out and "Tidak ada laporan" not in out
    out = texts(await maya.say("/report Q3 deck"))  # a short name: a saved report's
    assert "/reports" in out
