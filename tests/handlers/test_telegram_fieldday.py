"""The field day on Telegram, through the real PTB stack and the fake Bot API: the one-tap
"📍 Share location" keyboard offered where a location is asked and taken away after; a
shared location lists the customers near; a live location's edits reach the engine without
disturbing the open flow and bring the arrival brief."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.app import App
from bot.handlers.telegram import TelegramDoor
from core.models import Company, FollowUp, NoticeRow, User
from tests.handlers.fake_telegram import FakeTelegram
from tests.handlers.telegram_fixtures import door_fixture, fake_fixture, link  # noqa: F401
from tests.handlers.test_telegram_scenarios import TgUser

BUDI = FakeTelegram.user(7101, "Budi")


async def test_share_location_keyboard_near_me_and_live_updates(
        app: App, fake: FakeTelegram, door: TelegramDoor) -> None:
    link(app, "budi", BUDI)
    budi = TgUser(fake, BUDI)
    now = app.clock.now()
    with app.db.session() as s:
        sinar = s.scalars(select(Company).where(Company.name == "Sinar Jaya Abadi")).one()
        me = s.scalars(select(User).where(User.login == "budi")).one()
        sinar.owner_id = me.id
        lat, lon, cid, uid = sinar.lat, sinar.lon, sinar.id, me.id
        s.add(FollowUp(user_id=uid, company_id=cid, kind="follow_up", note="price list",
                       due_at=now, status="open", created_at=now))
    out = await budi.say("/near")
    assert "Where are you?" in out
    asked = fake.sent_to(budi.chat)[-1]
    keyboard = asked["reply_markup"]["keyboard"]
    assert keyboard == [[{"text": "📍 Share location", "request_location": True}]]
    assert asked["reply_markup"]["one_time_keyboard"] is True
    # the location shared with the keyboard: the list, and the keyboard is taken away
    before = len(fake.sent_to(budi.chat))
    fake.send_location(BUDI, lat + 0.001, lon)
    answer = await budi.settle(before)
    assert "1. PT Sinar Jaya Abadi — 110 m" in answer[0]["text"]
    # that answer carries its own (inline) buttons; the next one without takes the
    # keyboard away
    assert "inline_keyboard" in answer[0]["reply_markup"]
    await budi.say("/cancel")
    assert fake.sent_to(budi.chat)[-1]["reply_markup"] == {"remove_keyboard": True}
    await budi.say("/cancel")
    assert "reply_markup" not in fake.sent_to(budi.chat)[-1]  # once
    # a live location: the first message is a share, its edits are silent updates
    await budi.say("/visit")  # a flow waiting for an answer
    before = len(fake.sent_to(budi.chat))
    _, message = fake.send_live_location(BUDI, lat + 0.05, lon)
    await budi.settle(before)
    await budi.say("/visit")  # open the flow again (the share above started near me)
    before = len(fake.sent_to(budi.chat))
    fake.move_live_location(message, lat + 0.02, lon)
    fake.move_live_location(message, lat + 0.0008, lon)  # now at the customer
    for _ in range(50):
        await asyncio.sleep(0.1)
        with app.db.session() as s:
            queued = s.scalars(select(NoticeRow.key).where(
                NoticeRow.kind == "fieldday.brief")).all()
        if queued:
            break
    assert queued == [f"u{uid}|brief:{cid}:2026-03-02"]
    assert len(fake.sent_to(budi.chat)) == before  # the edits were answered with nothing
    with app.db.session() as s:
        me = s.get(User, uid)
        assert (me.last_lat, me.last_lon) == (lat + 0.0008, lon)
    out = await budi.say("hendro wibisono")  # the open flow took no live update as answer
    assert "Hendro Wibisono" in out and "Who did you meet" not in out
