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
