"""Markup injection: user-supplied text carrying Telegram HTML, Slack mrkdwn control sequences
and PDF-unfriendly characters, saved through real paths (a company name via the import, a name
typed in chat) and shown back by the doors, is escaped where it is rendered: Telegram's
parse_mode HTML and Slack's text and blocks."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator

import aiohttp
import pytest
from pydantic import SecretStr

from bot.app import App
from bot.handlers.slack import SlackDoor
from bot.handlers.telegram import TelegramDoor
from core import users as user_service
from core.imports import import_companies
from core.settings import Settings
from tests.handlers.fake_slack import TEAM, FakeSlack
from tests.handlers.fake_telegram import FakeTelegram
from tests.handlers.slack_support import BOT_TOKEN, SIGNING_SECRET, SignedSlack, SlackUser
from tests.handlers.telegram_fixtures import door_fixture, fake_fixture, link  # noqa: F401

HOSTILE = ('PT <b>Bold</b> & <a href="http://evil.example">Co</a> <!channel> <@U123> '
           '*Zeta* <http://x.example|y> ( ) \\ \u202e\x7f')
SEARCH = "Bold"
BUDI = FakeTelegram.user(8001, "Budi")


@pytest.fixture(name="hostile_company")
def hostile_company_fixture(app: App) -> str:
    with app.db.session() as session:
        report = import_companies(session, [(2, {
            "name": HOSTILE, "industry": "Retail", "segment": "smb", "employees": "5",
            "territory": "Jakarta", "owner": "budi", "phone": "", "email": "", "city": "Jakarta",
            "external_id": "INJ-1"})], now=app.clock.now())
    assert report.created == 1, report
    return HOSTILE


async def test_telegram_escapes_imported_and_typed_markup(
        app: App, fake: FakeTelegram, door: TelegramDoor, hostile_company: str) -> None:
    link(app, "budi", BUDI)
    fake.send_text(BUDI, f"/find {SEARCH}")
    [question] = await fake.wait_sent(BUDI["id"], 1)
    buttons = [b for row in (question.get("reply_markup") or {}).get("inline_keyboard", [])
               for b in row if "Bold" in b["text"]]
    if buttons:  # "Did you mean...?": pick it (button labels are plain text, never parsed)
        fake.press_data(BUDI, question, buttons[0]["callback_data"])
        await fake.wait_for(lambda: any(
            "Bold" in c.params.get("text", "") for c in fake.calls_of("sendMessage")[1:]))
    call = [c for c in fake.calls_of("sendMessage") if "Bold" in c.params.get("text", "")][-1]
    assert call.params["parse_mode"] == "HTML"
    shown = call.params["text"]
    assert "<b>Bold</b>" not in shown and "<a href" not in shown
    assert html.escape("<b>Bold</b>", quote=False) in shown, shown
    assert "&amp;" in shown
    # Typed text echoed back (an unknown lookup) is escaped too, entity included.
    count = len(fake.sent_to(BUDI["id"]))
    fake.send_text(BUDI, 'who handles <i>Nobody</i> &amp; <a href="x">Zz</a>?')
    await fake.wait_sent(BUDI["id"], count + 1)
    last = fake.calls_of("sendMessage")[-1].params["text"]
    assert "<i>" not in last and "<a href" not in last, last


@pytest.fixture(name="slack_fake")
async def slack_fake_fixture() -> AsyncIterator[FakeSlack]:
    server = await FakeSlack(retry_after=0).start()
    yield server
    await server.stop()


async def test_slack_escapes_imported_markup_and_mentions(
        app: App, settings: Settings, slack_fake: FakeSlack, hostile_company: str) -> None:
    configured = settings.model_copy(update={
        "slack_bot_token": SecretStr(BOT_TOKEN), "slack_signing_secret": SecretStr(SIGNING_SECRET),
        "slack_api_url": slack_fake.api_url})
    door = SlackDoor(app.engine, configured, http_port=0, host="127.0.0.1")
    await door.start()
    try:
        with app.db.session() as session:
            user = user_service.get_user_by_login(session, "budi")
            user_service.link_identity(session, user, platform="slack",
                                       external_id=f"{TEAM}:UM1", chat_id="DUM1",
                                       now=app.clock.now())
        async with aiohttp.ClientSession() as http:
            slack = SignedSlack(http, f"http://127.0.0.1:{door.port}/slack/events")
            budi = SlackUser(slack, slack_fake, door, "UM1")
            shown = await budi.cmd(f"find {SEARCH}")
            if "Bold" not in shown:  # "Did you mean...?": pick it (a plain_text label)
                await budi.press("PT <b>Bold")
            await budi.say("who handles <!here> <@U999> <http://evil.example|click>?")
    finally:
        await door.stop()
    posts = slack_fake.of("chat.postMessage")
    assert posts
    rendered = []
    for post in posts:
        rendered.append(str(post.args.get("text") or ""))
        for block in post.blocks():
            for part in (block.get("text") or {}, *(block.get("elements") or [])):
                if isinstance(part, dict) and part.get("type") == "mrkdwn":
                    rendered.append(str(part.get("text") or ""))
    everything = "\n".join(rendered)
    assert "Bold" in everything, everything  # the company was found and shown
    for raw in ("<!channel>", "<@U123>", "<http://x.example|y>", "<b>", "<!here>", "<@U999>",
                "<http://evil.example|click>"):
        assert raw not in everything, f"{raw} reached Slack unescaped"
    assert "&lt;!channel&gt;" in everything


PDF_HOSTILE = ('PT (Paren) \\Back\\ %PDF-1.4 <b>B</b> **Star** __u__ --strike-- '
               '[link](http://x) &amp; endobj\r\nBT /F1 12 Tf ET\x00\x07 \u202eRTL')


def _pdf_text(data: bytes) -> tuple[int, str]:
    import io

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def test_quote_and_proposal_pdfs_print_hostile_text_literally() -> None:
    from datetime import UTC, date, datetime
    from decimal import Decimal

    from bot.documents.proposal_pdf import proposal_pdf
    from bot.documents.quote_pdf import PdfLine, PdfQuote, render_quote_pdf
    from bot.i18n import Translator

    quote = PdfQuote(
        number="Q-2026-0099", version=1, currency="IDR",
        issued=datetime(2026, 3, 2, 2, tzinfo=UTC), valid_until=date(2026, 4, 1),
        customer=PDF_HOSTILE, customer_address="Jl. (Evil) \\ 1 <i>x</i>", customer_city="Jkt",
        deal_title="**Deal** <b>t</b>", prepared_by="Budi Santoso",
        lines=(PdfLine(sku="S-(1)", name="Item **bold** (x) \\", quantity=1, unit="unit",
                       unit_price=Decimal("10"), discount_pct=Decimal(0), net=Decimal("10")),),
        subtotal=Decimal("10"), discount_total=Decimal(0), discount_pct=Decimal(0),
        tax_total=Decimal(0), total=Decimal("10"))
    pages, text = _pdf_text(render_quote_pdf(quote, Translator("en")))
    assert pages == 1  # nothing the customer name carried started or broke a page
    flat = " ".join(text.split())
    for literal in ("PT (Paren) \\Back\\ %PDF-1.4 <b>B</b> **Star** __u__ --strike--",
                    "[link](http://x) &amp; endobj", "BT /F1 12 Tf ET", "**Deal** <b>t</b>",
                    "Item **bold** (x) \\"):
        assert literal in flat, f"{literal!r} not printed literally in: {flat[:600]}"
    pages, text = _pdf_text(proposal_pdf(PDF_HOSTILE, "Body **not bold** <b>x</b> (y) \\z",
                                         "footer %%EOF"))
    flat = " ".join(text.split())
    assert "**not bold** <b>x</b> (y) \\z" in flat and "footer %%EOF" in flat, flat[:600]
