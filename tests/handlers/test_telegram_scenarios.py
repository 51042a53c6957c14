"""The product on Telegram: the same scenarios as the other doors, through the real PTB stack
and the fake Bot API (lookup, a visit in taps, a report with its chart and CSV, a quote PDF,
a pushed reminder and its buttons through the outbox, a team channel and a claim race)."""

from __future__ import annotations

import asyncio
import copy
import io
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

from pypdf import PdfReader
from sqlalchemy import select

from bot.app import App
from bot.conversations.flow import Action, Ctx, Step, done
from bot.conversations.messages import Button, Reply
from bot.handlers.telegram import TelegramDoor
from core.models import Activity, Company, Deal, DealStageChange, User
from tests.handlers.fake_telegram import FakeTelegram
from tests.handlers.telegram_fixtures import door_fixture, fake_fixture, link  # noqa: F401

BUDI = FakeTelegram.user(7001, "Budi")
SARI = FakeTelegram.user(7002, "Sari")
MAYA = FakeTelegram.user(7003, "Maya")


class TgUser:
    """One person in their private chat with the bot."""

    def __init__(self, fake: FakeTelegram, user: dict[str, Any]) -> None:
        self.fake = fake
        self.user = user
        self.chat = user["id"]

    async def settle(self, before: int) -> list[dict[str, Any]]:
        """Wait for the bot's answer (new messages, then a short quiet spell)."""
        await self.fake.wait_for(lambda: len(self.fake.sent_to(self.chat)) > before, 10)
        count = -1
        while count != len(self.fake.sent_to(self.chat)):
            count = len(self.fake.sent_to(self.chat))
            await asyncio.sleep(0.15)
        return self.fake.sent_to(self.chat)[before:]

    async def say(self, text: str) -> str:
        before = len(self.fake.sent_to(self.chat))
        self.fake.send_text(self.user, text)
        return "\n".join(m.get("text") or m.get("caption") or "" for m in
                         await self.settle(before))

    async def press(self, label: str) -> str:
        message = self.fake.last_with_buttons(self.chat)
        before = len(self.fake.sent_to(self.chat))
        self.fake.press(self.user, message, label)
        return "\n".join(m.get("text") or m.get("caption") or "" for m in
                         await self.settle(before))


def _users(app: App, fake: FakeTelegram) -> dict[str, TgUser]:
    out = {}
    for login, user in (("budi", BUDI), ("sari", SARI), ("maya", MAYA)):
        link(app, login, user)
        out[login] = TgUser(fake, user)
    return out


async def test_lookup_by_plain_words(app: App, fake: FakeTelegram, door: TelegramDoor) -> None:
    budi = _users(app, fake)["budi"]
    out = await budi.say("Sinar Jaya")
    assert "PT Sinar Jaya Abadi" in out


async def test_log_a_visit_in_a_few_taps(app: App, fake: FakeTelegram,
                                         door: TelegramDoor) -> None:
    budi = _users(app, fake)["budi"]
    out = await budi.say("log visit hendro wibisno")  # the one typed line
    assert "How did the visit with Hendro Wibisono (PT Sinar Jaya Abadi) go?" in out
    pressed = []
    for label in ("👍 Positive", "Skip", "Tomorrow"):
        pressed.append(fake.last_with_buttons(budi.chat)["message_id"])
        out = await budi.press(label)
    assert "Saved: visit with Hendro Wibisono" in out
    # Every pressed message lost its buttons and shows the choice.
    for message_id in pressed:
        message = fake.messages[(str(budi.chat), message_id)]
        assert "reply_markup" not in message and "✓" in message["text"]
    with app.db.session() as session:
        activity = session.scalar(select(Activity).order_by(Activity.id.desc()).limit(1))
        assert activity is not None and activity.outcome == "positive"


async def test_report_table_chart_and_csv(app: App, fake: FakeTelegram,
                                          door: TelegramDoor) -> None:
    maya = _users(app, fake)["maya"]
    with app.db.session() as session:
        budi = session.scalar(select(User).where(User.login == "budi"))
        company = session.scalars(select(Company)).first()
        assert budi is not None and company is not None
        deal = Deal(title="won", company_id=company.id, owner_id=budi.id,
                    team_id=budi.team_id, stage="order_placed", amount=Decimal("125000000"),
                    currency="IDR", facts={}, created_at=app.clock.now(),
                    updated_at=app.clock.now())
        session.add(deal)
        session.flush()
        session.add(DealStageChange(deal_id=deal.id, user_id=budi.id, from_stage="solution",
                                    to_stage="order_placed",
                                    at=app.clock.now() - timedelta(hours=1)))
    await maya.say("/report won by rep this quarter")
    sent = fake.sent_to(maya.chat)
    table = next(m for m in sent if "text" in m and "Won sales by rep" in m["text"])
    assert table["text"].startswith("<pre>")  # monospace block
    assert "Budi Santoso" in table["text"] and "Total" in table["text"]
    photo = next(m for m in sent if "photo" in m)
    assert fake.files[photo["photo"][0]["file_id"]].startswith(b"\x89PNG")
    await maya.press("Export CSV")
    document = next(m for m in fake.sent_to(maya.chat) if "document" in m)
    assert document["document"]["file_name"].endswith(".csv")
    assert fake.files[document["document"]["file_id"]].startswith(b"Name,Amount,Count")


async def test_quote_pdf_goes_out_as_a_document(app: App, fake: FakeTelegram,
                                                door: TelegramDoor) -> None:
    budi = _users(app, fake)["budi"]
    out = await budi.say("/quote Sinar Jaya")
    buttons = [b["text"] for row in fake.last_with_buttons(budi.chat)["reply_markup"][
        "inline_keyboard"] for b in row] if "No deal" in out or "deal" in out else []
    if "No deal" in buttons:
        out = await budi.press("No deal")
    assert "Which products?" in out
    out = await budi.say("2 server x1, 10 laptop pro")
    assert "Rack kit" in out
    await budi.press("Add 2 x Rack kit")
    await budi.press("Create PDF quote")
    docs = [m for m in fake.sent_to(budi.chat) if "document" in m]
    assert docs and docs[-1]["document"]["file_name"].endswith(".pdf")
    pdf = fake.files[docs[-1]["document"]["file_id"]]
    assert pdf.startswith(b"%PDF")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Rack kit" in text


async def test_a_pushed_reminder_and_its_buttons(app: App, fake: FakeTelegram,
                                                 door: TelegramDoor) -> None:
    from tests.scheduler.support import add_followup, clean_slate, followup_sweeps, make_scheduler

    budi = _users(app, fake)["budi"]
    clean_slate(app)
    add_followup(app, "budi", due=app.clock.now() - timedelta(minutes=1), note="Call Hendro")
    scheduler = make_scheduler(app, {"telegram": door.sender})
    scheduler.sweeps = followup_sweeps()
    report = await scheduler.tick()
    assert report.sent == 1
    [pushed] = fake.sent_to(budi.chat)
    assert "Call Hendro" in pushed["text"]
    labels = [b["text"] for row in pushed["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["Snooze 1h", "Tomorrow", "Done"]
    stale = copy.deepcopy(pushed)
    out = await budi.press("Done")
    assert "Done" in out
    assert "reply_markup" not in fake.messages[(str(budi.chat), pushed["message_id"])]
    # The same Done pressed again from a stale copy: answered, not done twice.
    before = len(fake.sent_to(budi.chat))
    fake.press(BUDI, stale, "Done")
    again = await budi.settle(before)
    assert "already done" in again[-1]["text"]


async def test_team_channel_and_a_claim_race(app: App, fake: FakeTelegram,
                                             door: TelegramDoor) -> None:
    _users(app, fake)
    group = fake.group_chat(-100900, "Java West sales")
    fake.send_text(MAYA, "/linkchannel", chat=group)
    [linked] = await fake.wait_sent(-100900, 1)
    assert "team channel of Java West" in linked["text"]
    with app.db.session() as session:
        company = session.scalar(select(Company).where(Company.name == "Sinar Jaya Abadi"))
        assert company is not None
        deal = Deal(title="Laptops for the new office", company_id=company.id,
                    stage="opportunity", created_at=app.clock.now(),
                    updated_at=app.clock.now())
        session.add(deal)
        session.flush()
        deal_id = deal.id

    async def claim(ctx: Ctx, arg: str) -> Step:
        lead = ctx.session.get(Deal, int(arg), with_for_update=True)
        if lead is None:
            return done(Reply("No such lead.", ephemeral=True))
        if lead.owner_id is not None:
            owner = ctx.session.get(User, lead.owner_id)
            return done(Reply(f"Too late: {owner.name if owner else '?'} has it.",
                              ephemeral=True))
        lead.owner_id = ctx.user.id
        return done(Reply(f"{ctx.user.name} claimed lead {lead.id}."))

    app.registry.add_action(Action("testlead.claim", claim))
    announcement = Reply.with_buttons("New lead: PT Sinar Jaya Abadi", [
        Button("Claim", action="testlead.claim", arg=str(deal_id),
               payload=f"a|testlead.claim|{deal_id}")])
    await door.sender.deliver("-100900", announcement)
    posted = copy.deepcopy(fake.sent_to(-100900)[-1])
    # Two reps press Claim at once (both presses in one getUpdates batch).
    answers = len(fake.calls_of("answerCallbackQuery"))
    fake.press(BUDI, copy.deepcopy(posted), "Claim")
    fake.press(SARI, copy.deepcopy(posted), "Claim")
    await fake.wait_for(lambda: len(fake.calls_of("answerCallbackQuery")) >= answers + 2)
    await fake.wait_for(lambda: len(fake.sent_to(-100900)) >= 3)
    await asyncio.sleep(0.2)
    public = fake.texts_to(-100900)[2:]
    assert len(public) == 1 and "claimed lead" in public[0]
    winner = "budi" if "Budi" in public[0] else "sari"
    popups = [c.params for c in fake.calls_of("answerCallbackQuery")[answers:]
              if c.params.get("text")]
    assert len(popups) == 1 and "Too late" in popups[0]["text"] and popups[0]["show_alert"]
    closed = fake.messages[("-100900", posted["message_id"])]
    assert "reply_markup" not in closed
    assert ("Budi" if winner == "budi" else "Sari") in closed["text"]  # who pressed
    with app.db.session() as session:
        owner = session.get(Deal, deal_id).owner_id
        assert session.get(User, owner).login == winner

    # Someone who is not linked presses an old copy: a pop-up, the channel stays quiet.
    stranger = FakeTelegram.user(7999, "Eve")
    fake.press(stranger, copy.deepcopy(posted), "Claim")
    started = time.monotonic()
    await fake.wait_for(lambda: len(fake.calls_of("answerCallbackQuery")) >= answers + 3)
    assert time.monotonic() - started < 5
    last = fake.calls_of("answerCallbackQuery")[-1].params
    assert "registered users" in last["text"] and len(last["text"]) <= 200
    assert len(fake.sent_to(-100900)) == 3


async def test_a_real_lead_announced_in_the_team_channel_and_claimed_once(
        app: App, fake: FakeTelegram, door: TelegramDoor) -> None:
    from core import leads
    from tests.scheduler.support import clean_slate, make_scheduler

    _users(app, fake)
    clean_slate(app)
    group = fake.group_chat(-100901, "Java West sales")
    fake.send_text(MAYA, "/linkchannel", chat=group)
    await fake.wait_sent(-100901, 1)
    with app.db.session() as session:
        maya = session.scalar(select(User).where(User.login == "maya"))
        company = session.scalar(select(Company).where(Company.name == "Sinar Jaya Abadi"))
        assert maya is not None and company is not None
        lead = leads.create_lead(session, maya, company=company, now=app.clock.now(),
                                 need="20 laptops")
        assert lead.announced
        deal_id = lead.deal.id
    scheduler = make_scheduler(app, {"telegram": door.sender})
    scheduler.sweeps = []
    report = await scheduler.tick()
    assert report.sent == 1
    announcement = copy.deepcopy(fake.sent_to(-100901)[-1])
    assert f"New lead #{deal_id}" in announcement["text"]
    answers = len(fake.calls_of("answerCallbackQuery"))
    fake.press(BUDI, copy.deepcopy(announcement), "Claim")
    fake.press(SARI, copy.deepcopy(announcement), "Claim")
    await fake.wait_for(lambda: len(fake.calls_of("answerCallbackQuery")) >= answers + 2)
    await fake.wait_for(lambda: len(fake.sent_to(-100901)) >= 3)
    await asyncio.sleep(0.2)
    public = fake.texts_to(-100901)[2:]
    # Each presser is answered in their own language (Sari uses Indonesian).
    assert len(public) == 1 and f"#{deal_id}" in public[0]
    popups = [c.params["text"] for c in fake.calls_of("answerCallbackQuery")[answers:]
              if c.params.get("text")]
    assert len(popups) == 1 and popups[0].startswith(("Too late", "Terlambat"))
    assert "reply_markup" not in fake.messages[("-100901", announcement["message_id"])]
    with app.db.session() as session:
        owner = session.get(User, session.get(Deal, deal_id).owner_id)
        assert owner is not None and owner.name in public[0] and owner.name in popups[0]


async def test_advance_a_deal_with_buttons(app: App, fake: FakeTelegram,
                                           door: TelegramDoor) -> None:
    budi = _users(app, fake)["budi"]
    with app.db.session() as session:
        user = session.scalar(select(User).where(User.login == "budi"))
        company = session.scalar(select(Company).where(Company.name == "Sinar Jaya Abadi"))
        assert user is not None and company is not None
        deal = Deal(title="Laptops for Sinar", company_id=company.id, owner_id=user.id,
                    team_id=user.team_id, stage="lead_allocated", amount=Decimal("150000000"),
                    currency="IDR", facts={}, created_at=app.clock.now(),
                    updated_at=app.clock.now())
        session.add(deal)
        session.flush()
        deal_id = deal.id
    out = await budi.say("/deal Laptops for Sinar")
    assert "Stage: Lead allocated" in out
    out = await budi.press("Advance")
    assert "Move it to which stage?" in out
    out = await budi.press("Prospect qualified")  # a jump: refused, with the way forward
    assert "Prospect contacted comes first" in out
    with app.db.session() as session:
        assert session.get(Deal, deal_id).stage == "lead_allocated"
        session.add(Activity(user_id=user.id, company_id=company.id, deal_id=deal_id,
                             kind="visit", outcome="positive", occurred_at=app.clock.now(),
                             created_at=app.clock.now()))
    await budi.say("/deal Laptops for Sinar")
    await budi.press("Advance")
    out = await budi.press("Prospect contacted")
    with app.db.session() as session:
        assert session.get(Deal, deal_id).stage == "contacted"
    assert "moved to Prospect contacted" in out
