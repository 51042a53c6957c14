"""The arrival brief through the scheduler: pushed at once in the day; in the quiet hours
held, and dropped rather than sent hours after the arrival it was for."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import App
from bot.conversations.messages import live_location_update
from core.models import Company, FollowUp, NoticeRow, User
from tests.scheduler.support import FakeSender, clean_slate, link, make_scheduler


@pytest.fixture
def budi_at_sinar(app: App) -> tuple[float, float]:
    clean_slate(app)
    link(app, "budi")
    now = app.clock.now()
    with app.db.session() as s:
        sinar = s.scalars(select(Company).where(Company.name == "Sinar Jaya Abadi")).one()
        budi = s.scalars(select(User).where(User.login == "budi")).one()
        s.add(FollowUp(user_id=budi.id, company_id=sinar.id, kind="follow_up",
                       note="Bring the price list", due_at=now + timedelta(hours=1),
                       status="open", created_at=now))
        return sinar.lat, sinar.lon


async def arrive(app: App, lat: float, lon: float) -> None:
    replies = await app.engine.handle(live_location_update(
        platform="console", chat_id="ext-budi", user_id="ext-budi", lat=lat, lon=lon))
    assert replies == []


async def test_the_brief_is_pushed_on_arrival(app: App, budi_at_sinar) -> None:
    await arrive(app, budi_at_sinar[0] + 0.001, budi_at_sinar[1])
    sender = FakeSender()
    sched = make_scheduler(app, {sender.platform: sender})
    sched.sweeps = []  # only what is queued: the brief
    await sched.tick()
    assert "You are at PT Sinar Jaya Abadi." in sender.texts()
    assert "Bring the price list" in sender.texts()


async def test_quiet_hours_hold_the_brief_and_a_late_one_is_dropped(
        app: App, budi_at_sinar) -> None:
    app.clock.set(app.clock.now().replace(hour=15))  # 22:00 in Jakarta
    with app.db.session() as s:  # the follow-up is due tomorrow morning
        for fu in s.scalars(select(FollowUp).where(FollowUp.status == "open")):
            fu.due_at = app.clock.now() + timedelta(hours=10)
    await arrive(app, budi_at_sinar[0] + 0.001, budi_at_sinar[1])
    sender = FakeSender()
    sched = make_scheduler(app, {sender.platform: sender})
    sched.sweeps = []
    await sched.tick()
    assert sender.sent == []
    app.clock.advance(hours=9)  # 07:00: the quiet hours end; the arrival was 9 hours ago
    await sched.tick()
    assert sender.sent == []
    with app.db.session() as s:
        row = s.scalars(select(NoticeRow).where(NoticeRow.kind == "fieldday.brief")).one()
        assert row.status != "pending"
