"""Platform pacing: Telegram's 30/s overall, 1/s per chat, 20/min per group; Slack's 1/s
per channel; and a real HTTP round trip against the fake API, with 429s honoured."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlalchemy import func, select

from bot.app import App
from bot.conversations.notices import decode_reply
from core.models import NoticeRow
from core.notices import enqueue_notice
from scheduler import Scheduler, SchedulerConfig
from scheduler.fakeapi import FakeBotApi
from scheduler.outbox import claim_outbox
from scheduler.pacing import Pacer, PlatformLimits
from scheduler.sink import BotApiSink
from tests.scheduler.support import FakeSender, FakeTime, clean_slate, link, make_scheduler


def test_pacer_spaces_platform_chat_and_group() -> None:
    fake = FakeTime()
    pacer = Pacer(monotonic=fake.monotonic)
    t0 = fake.t
    pacer.take("telegram", "1", t0)
    assert abs(pacer.ready_at("telegram", "2") - (t0 + 1 / 29.2)) < 1e-9
    assert pacer.ready_at("telegram", "1") == t0 + 1.02
    pacer.take("telegram", "-100", t0 + 1)
    assert pacer.ready_at("telegram", "-100") == t0 + 1 + 3.05
    pacer.take("slack", "C1", t0)
    assert pacer.ready_at("slack", "C1") == t0 + 1.02 and pacer.ready_at("slack", "C2") == 0
    pacer.hold("telegram", "7", 5, t0 + 2)
    assert pacer.ready_at("telegram", "7") == t0 + 7
    assert pacer.ready_at("telegram", "8") >= t0 + 3  # the platform pauses up to a second


async def test_drain_keeps_telegram_limits(app: App) -> None:
    clean_slate(app)
    now = app.clock.now()
    with app.db.session() as session:
        from core.models.scheduling import OutboxRow

        for i in range(90):
            session.add(OutboxRow(key=f"k{i}", kind="x", platform="telegram",
                                  chat_id=str(i % 30), message={"text": f"m{i}"},
                                  status="pending", attempts=0, next_attempt_at=now,
                                  created_at=now))
    fake = FakeTime()
    sender = FakeSender(platform="telegram", clock=fake)
    sched = make_scheduler(app, {"telegram": sender}, fake, outbox_batch=90)
    sched.sweeps = []
    await sched.tick()
    assert len(sender.sent) == 90
    times = sorted(t for t, _ in sender.times)
    for i in range(len(times) - 30):
        assert times[i + 30] - times[i] >= 1.0  # never 31 in one second
    by_chat: dict[str, list[float]] = {}
    for t, chat in sender.times:
        by_chat.setdefault(chat, []).append(t)
    assert all(b - a >= 1.0 for ts in by_chat.values() for a, b in itertools.pairwise(ts))
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert 28.5 <= rate <= 30  # spaced at the limit, not far under it


async def test_real_http_round_trip_honours_429(app: App) -> None:
    clean_slate(app)
    api = FakeBotApi(overall=1)  # far below our pace: 429s are certain
    url = api.start()
    sink = BotApiSink(url, "telegram")
    try:
        now = app.clock.now()
        uids = [link(app, login, platform="telegram", chat_id=str(100 + i))
                for i, login in enumerate(["budi", "andi", "sari"])]
        with app.db.session() as session:
            for i in range(3):
                uid = uids[i]
                enqueue_notice(session, kind="delivery.failed", reason=f"r{i}", due_at=now,
                               now=now, recipient_user_id=uid, urgent=True,
                               params={"kind": f"k{i}", "platform": "telegram",
                                       "error": "e"})
        from core.clock import SystemClock

        sched = Scheduler(app.db, SystemClock(), _render(app), {"telegram": sink},
                          config=SchedulerConfig(), in_thread=False, sweeps=[])
        for _ in range(40):
            await sched.tick()
            if len(api.stats.accepted) == 3:
                break
            import asyncio

            await asyncio.sleep(0.25)
        assert len(api.stats.accepted) == 3
        assert api.stats.violations == 0
        assert api.stats.too_many >= 1
        assert set(api.stats.texts().values()) == {1}
        with app.db.session() as session:
            assert session.scalar(select(func.count()).select_from(NoticeRow).where(
                NoticeRow.status == "sent")) == 3
        assert claim_outbox(app.db, worker="w", now=now + timedelta(hours=1),
                            lease=timedelta(seconds=5), platforms={"telegram"},
                                decode=decode_reply) == []
    finally:
        await sink.close()
        api.stop()


async def test_blocked_chat_is_a_permanent_failure(app: App) -> None:
    clean_slate(app)
    api = FakeBotApi(blocked_chats={"999"})
    url = api.start()
    sink = BotApiSink(url, "telegram")
    try:
        uid = link(app, "budi", platform="telegram", chat_id="999")
        now = app.clock.now()
        with app.db.session() as session:
            enqueue_notice(session, kind="delivery.failed", reason="r", due_at=now, now=now,
                           recipient_user_id=uid, urgent=True,
                           params={"kind": "k", "platform": "telegram", "error": "e"})
        sched = make_scheduler(app, {"telegram": sink}, limits={"telegram": PlatformLimits()})
        sched.sweeps = []
        await sched.tick()
        assert api.stats.forbidden == 1
        with app.db.session() as session:
            assert session.scalar(select(NoticeRow.status).where(
                NoticeRow.recipient_user_id == uid)) == "failed"
    finally:
        await sink.close()
        api.stop()


def _render(app: App):
    from bot.conversations.notices import NoticeRendering

    return NoticeRendering(app.registry)
