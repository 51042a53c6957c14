"""The product on Slack: the same scenarios as the other doors, through signed HTTP requests
to the real bolt app and the mock Slack Web API (lookup, a visit, a quote PDF, a pushed
reminder with its buttons, a team channel and a claim race in it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from bot.app import App
from bot.conversations.flow import Action, Ctx, Step, done
from bot.conversations.messages import Button, Reply
from bot.handlers.slack import SlackDoor, render
from core.models import Activity, Company, Deal, User
from tests.handlers.fake_slack import FakeSlack
from tests.handlers.slack_fixtures import fake_fixture
from tests.handlers.slack_support import SignedSlack, SlackUser
from tests.handlers.test_slack import door, link, slack, slack_settings

__all__ = ["door", "fake_fixture", "slack", "slack_settings"]


@pytest.fixture
async def users(app: App, door: SlackDoor, slack: SignedSlack, fake: FakeSlack
                ) -> AsyncIterator[dict[str, SlackUser]]:
    out = {}
    for login, uid in (("budi", "U1"), ("sari", "U2"), ("maya", "U3"), ("andi", "U4")):
        link(app, login, uid)
        out[login] = SlackUser(slack, fake, door, uid)
    yield out


async def test_lookup_by_plain_words(users: dict[str, SlackUser]) -> None:
    out = await users["budi"].say("Sinar Jaya")
    assert "PT Sinar Jaya Abadi" in out


async def test_log_a_visit_in_a_few_taps(app: App, users: dict[str, SlackUser],
                                         fake: FakeSlack) -> None:
    budi = users["budi"]
    out = await budi.say("log visit hendro wibisno")  # the one typed line
    assert "How did the visit with Hendro Wibisono (PT Sinar Jaya Abadi) go?" in out
    await budi.press("👍 Positive")
    await budi.press("Skip")
    out = await budi.press("Tomorrow")
    assert "Saved: visit with Hendro Wibisono" in out
    # Every pressed message lost its buttons.
    assert len(fake.of("chat.update")) == 3
    assert all(not [b for b in c.blocks() if b["type"] == "actions"]
               for c in fake.of("chat.update"))
    with app.db.session() as session:
        activity = session.scalar(select(Activity).order_by(Activity.id.desc()).limit(1))
        assert activity is not None and activity.outcome == "positive"


async def test_quote_pdf_goes_out_as_a_file(users: dict[str, SlackUser],
                                            fake: FakeSlack) -> None:
    budi = users["budi"]
    out = await budi.cmd("quote Sinar Jaya")
    if "No deal" in str(fake.last_buttons()):
        out = await budi.press("No deal")
    assert "Which products?" in out
    out = await budi.say("2 server x1, 10 laptop pro")
    assert "Rack kit" in out
    await budi.press("Add 2 x Rack kit")
    await budi.press("Create PDF quote")
    asked = fake.of("files.getUploadURLExternal")[-1].args
    assert asked["filename"].endswith(".pdf")
    complete = fake.of("files.completeUploadExternal")[-1].args
    assert complete["channel_id"] == budi.dm
    pdf = list(fake.uploads.values())[-1]
    assert pdf.startswith(b"%PDF") and int(asked["length"]) == len(pdf)
    import io

    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Rack kit" in text


async def test_a_pushed_reminder_and_its_buttons(app: App, door: SlackDoor,
                                                 users: dict[str, SlackUser],
                                                 fake: FakeSlack) -> None:
    from tests.scheduler.support import add_followup, clean_slate, followup_sweeps, make_scheduler

    clean_slate(app)
    add_followup(app, "budi", due=app.clock.now() - timedelta(minutes=1), note="Call Hendro")
    scheduler = make_scheduler(app, {"slack": door.sender})
    scheduler.sweeps = followup_sweeps()
    report = await scheduler.tick()
    assert report.sent == 1
    (pushed,) = fake.of("chat.postMessage")
    assert pushed.args["channel"] == "DU1" and "Call Hendro" in pushed.text
    assert [b["text"]["text"] for b in pushed.buttons()] == ["Snooze 1h", "Tomorrow", "Done"]
    budi = users["budi"]
    out = await budi.press("Done")
    assert "Done" in out
    closed = fake.of("chat.update")[-1]
    assert closed.args["ts"] == pushed.result["ts"]
    # The same Done pressed again from a stale copy: answered, not done twice.
    await budi.slack.press("U1", pushed.buttons()[2], channel="DU1",
                           message_ts=pushed.result["ts"])
    await door.drain()
    assert "already done" in fake.texts()


async def test_team_channel_and_a_claim_race(app: App, door: SlackDoor,
                                             users: dict[str, SlackUser], fake: FakeSlack,
                                             slack: SignedSlack) -> None:
    # Maya (manager) makes #sales-jakarta her team's channel by mentioning the bot there.
    await slack.event({"type": "app_mention", "channel": "C77", "user": "U3",
                       "text": "<@UBOT> linkchannel", "ts": "1.0"})
    await door.drain()
    assert "team channel" in fake.texts()
    # A lead is announced in the channel with a Claim button; two reps press it at once.
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
    # The announcement as the door renders it (payload as the engine stamps action buttons).
    announcement = Reply.with_buttons("New lead: PT Sinar Jaya Abadi", [
        Button("Claim", action="testlead.claim", arg=str(deal_id),
               payload=f"a|testlead.claim|{deal_id}")])
    _text, blocks = render(announcement)
    (button,) = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    fake.clear()
    results = await asyncio.gather(
        slack.press("U1", button, channel="C77", message_ts="9.9", blocks=blocks),
        slack.press("U2", button, channel="C77", message_ts="9.9", blocks=blocks))
    assert [status for status, _ in results] == [200, 200]
    await door.drain()
    public = [c for c in fake.of("chat.postMessage") if c.args["channel"] == "C77"]
    private = fake.of("chat.postEphemeral")
    assert len(public) == 1 and "claimed lead" in public[0].text
    assert len(private) == 1 and "Too late" in private[0].text
    winner = "U1" if "Budi" in public[0].text else "U2"
    assert private[0].args["user"] != winner
    (closed,) = fake.of("chat.update")  # the announcement lost its button once
    assert closed.args["ts"] == "9.9" and f"<@{winner}> chose: Claim" in str(closed.blocks())
    with app.db.session() as session:
        owner = session.get(Deal, deal_id).owner_id
        login = session.get(User, owner).login
        assert login == ("budi" if winner == "U1" else "sari")


async def test_a_real_lead_announced_in_the_team_channel_and_claimed_once(
        app: App, door: SlackDoor, users: dict[str, SlackUser], fake: FakeSlack,
        slack: SignedSlack) -> None:
    from core import leads
    from tests.scheduler.support import clean_slate, make_scheduler

    clean_slate(app)
    await slack.event({"type": "app_mention", "channel": "C88", "user": "U3",
                       "text": "<@UBOT> linkchannel", "ts": "1.0"})
    await door.drain()
    assert "team channel of Java West" in fake.texts()
    with app.db.session() as session:
        maya = session.scalar(select(User).where(User.login == "maya"))
        company = session.scalar(select(Company).where(Company.name == "Sinar Jaya Abadi"))
        lead = leads.create_lead(session, maya, company=company, now=app.clock.now(),
                                 need="20 laptops")
        assert lead.announced
        deal_id = lead.deal.id
    scheduler = make_scheduler(app, {"slack": door.sender})
    scheduler.sweeps = []
    assert (await scheduler.tick()).sent == 1
    announcement = fake.of("chat.postMessage")[-1]
    assert announcement.args["channel"] == "C88"
    assert f"New lead #{deal_id}" in announcement.text
    claim = next(b for b in announcement.buttons() if b["text"]["text"] == "Claim")
    fake.clear()
    await asyncio.gather(*(slack.press(uid, claim, channel="C88",
                                       message_ts=announcement.result["ts"],
                                       blocks=announcement.blocks()) for uid in ("U1", "U2")))
    await door.drain()
    public = [c.text for c in fake.of("chat.postMessage") if c.args["channel"] == "C88"]
    assert len(public) == 1 and f"took lead #{deal_id}" in public[0]
    (late,) = fake.of("chat.postEphemeral")
    assert late.text.startswith(("Too late", "Terlambat"))  # sari reads Indonesian
    (closed,) = fake.of("chat.update")
    assert not [b for b in closed.blocks() if b["type"] == "actions"]
    with app.db.session() as session:
        owner = session.get(User, session.get(Deal, deal_id).owner_id)
        assert owner is not None and owner.name in public[0]
        assert late.args["user"] == ("U2" if owner.login == "budi" else "U1")
    # Someone not linked presses an old copy: told privately, the channel stays quiet.
    fake.clear()
    await slack.press("U99", claim, channel="C88", message_ts=announcement.result["ts"])
    await door.drain()
    (stranger,) = fake.of("chat.postEphemeral")
    assert stranger.args["user"] == "U99" and "registered users" in stranger.text
    assert not fake.of("chat.postMessage") and not fake.of("chat.update")


async def test_advance_a_deal_with_buttons(app: App, users: dict[str, SlackUser]) -> None:
    from decimal import Decimal

    budi = users["budi"]
    with app.db.session() as session:
        user = session.scalar(select(User).where(User.login == "budi"))
        company = session.scalar(select(Company).where(Company.name == "Sinar Jaya Abadi"))
        deal = Deal(title="Laptops for Sinar", company_id=company.id, owner_id=user.id,
                    team_id=user.team_id, stage="contacted", amount=Decimal("150000000"),
                    currency="IDR", facts={}, created_at=app.clock.now(),
                    updated_at=app.clock.now())
        session.add(deal)
        session.flush()
        deal_id = deal.id
    out = await budi.cmd(f"advance {deal_id}")
    assert "Move it to which stage?" in out
    out = await budi.press("Prospect qualified")
    assert "budget" in out
    out = await budi.say("IDR 300 million")
    assert "Who decides" in out
    await budi.press("Hendro Wibisono")
    await budi.say("20 servers for the new plant")
    out = await budi.say("Q2")
    assert "moved to Prospect qualified" in out
    with app.db.session() as session:
        assert session.get(Deal, deal_id).stage == "qualified"
