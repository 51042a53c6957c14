"""The durable path: due follow-up -> notice -> outbox -> sender, exactly once, with the
platform's answers (429, transient errors, permanent failures) handled."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.app import App
from bot.conversations.messages import Reply
from bot.conversations.notices import decode_reply
from core.models import NoticeRow, User
from core.models.scheduling import OutboxRow
from core.notices import enqueue_notice
from core.ports import DeliveryError, PermanentFailure, RateLimited
from scheduler.outbox import claim_notices, claim_outbox, release_claims, start_sends
from tests.scheduler.support import (
    FakeSender,
    FakeTime,
    add_followup,
    clean_slate,
    followup_sweeps,
    link,
    make_scheduler,
)
from tests.support.chat import CollectingChat, texts


@pytest.fixture
def quiet_app(app: App) -> App:
    clean_slate(app)
    return app


def _scheduler(app: App, sender: FakeSender, fake: FakeTime | None = None, **kw: object):
    sched = make_scheduler(app, {sender.platform: sender}, fake, **kw)
    sched.sweeps = followup_sweeps()
    return sched


async def test_due_followup_is_sent_once_with_buttons(quiet_app: App) -> None:
    app = quiet_app
    link(app, "budi")
    add_followup(app, "budi", due=app.clock.now() - timedelta(minutes=1), note="Call Hendro")
    sender = FakeSender()
    sched = _scheduler(app, sender)
    report = await sched.tick()
    assert report.sent == 1
    chat_id, message = sender.sent[0]
    assert chat_id == "ext-budi"
    assert "Call Hendro" in message.text
    labels = [b.label for row in message.buttons for b in row]
    assert labels == ["Snooze 1h", "Tomorrow", "Done"]
    assert all(b.payload.startswith("a|followup.") for row in message.buttons for b in row)
    # A repeated sweep and a second pass send nothing more.
    await sched.run_due_sweeps(force=True)
    await sched.tick()
    app.clock.advance(minutes=5)
    await sched.tick()
    assert len(sender.sent) == 1
    with app.db.session() as session:
        notice = session.scalar(select(NoticeRow).where(NoticeRow.kind == "followup.due"))
        assert notice is not None and notice.status == "sent" and notice.sent_at is not None
        assert session.scalar(select(OutboxRow.status)) == "sent"


async def test_snooze_and_done_from_the_pushed_buttons(quiet_app: App) -> None:
    app = quiet_app
    chat = CollectingChat(app.engine)
    budi = chat.as_user("budi")
    add_followup(app, "budi", due=app.clock.now(), note="Send the brochure")
    sender = FakeSender()
    sched = _scheduler(app, sender)
    await sched.tick()
    payloads = {b.label: b.payload for row in sender.sent[0][1].buttons for b in row}
    replies = await budi.send(budi.incoming(button=payloads["Snooze 1h"]))
    assert "Snoozed until Mon 2 Mar 2026 10:00" in texts(replies)
    app.clock.advance(minutes=30)
    await sched.tick()
    assert len(sender.sent) == 1  # not yet
    app.clock.advance(minutes=31)
    await sched.tick()
    assert len(sender.sent) == 2 and "Send the brochure" in sender.sent[1][1].text
    payloads = {b.label: b.payload for row in sender.sent[1][1].buttons for b in row}
    replies = await budi.send(budi.incoming(button=payloads["Done"]))
    assert "Done" in texts(replies)
    # The old message's Done again: answered, not acted on twice.
    replies = await budi.send(budi.incoming(button=payloads["Done"]))
    assert "already done" in texts(replies)
    app.clock.advance(days=1)
    await sched.tick()
    assert len(sender.sent) == 2


async def test_someone_elses_snooze_button_is_refused(quiet_app: App) -> None:
    app = quiet_app
    chat = CollectingChat(app.engine)
    fid = add_followup(app, "budi", due=app.clock.now())
    andi = chat.as_user("andi")
    replies = await andi.send(andi.incoming(button=f"a|followup.snooze|{fid}:1h"))
    assert "not yours" in texts(replies)
    replies = await andi.send(andi.incoming(button="a|followup.snooze|xx:1h"))
    assert "no longer valid" in texts(replies)


async def test_quiet_hours_hold_non_urgent_until_seven(quiet_app: App) -> None:
    app = quiet_app
    link(app, "budi")
    app.clock.set(app.clock.now().replace(hour=15))  # 22:00 in Jakarta
    add_followup(app, "budi", due=app.clock.now(), note="Late thought")
    sender = FakeSender()
    sched = _scheduler(app, sender)
    await sched.tick()
    assert sender.sent == []
    with app.db.session() as session:
        notice = session.scalar(select(NoticeRow).where(NoticeRow.kind == "followup.due"))
        assert notice is not None and notice.status == "pending"
        assert notice.due_at.isoformat() == "2026-03-03T00:00:00+00:00"  # 07:00 Jakarta
    app.clock.advance(hours=8, minutes=59)  # 06:59
    await sched.tick()
    assert sender.sent == []
    app.clock.advance(minutes=1)
    await sched.tick()
    assert "Late thought" in sender.texts()


async def test_urgent_meeting_brief_is_not_held_at_night(quiet_app: App) -> None:
    app = quiet_app
    link(app, "budi")
    app.clock.set(app.clock.now().replace(hour=23, minute=10))  # 06:10 Jakarta
    add_followup(app, "budi", due=app.clock.now() + timedelta(minutes=20), kind="meeting",
                 note="Breakfast meeting")
    sender = FakeSender()
    await _scheduler(app, sender).tick()
    assert "Breakfast meeting" in sender.texts()
    assert "Last contact" in sender.texts()


async def test_429_waits_the_time_it_names(quiet_app: App) -> None:
    app = quiet_app
    link(app, "budi")
    add_followup(app, "budi", due=app.clock.now())
    fake = FakeTime()
    sender = FakeSender(failures=[RateLimited(7)], clock=fake)
    sched = _scheduler(app, sender, fake)
    report = await sched.tick()
    assert report.retried == 1 and sender.sent == []
    with app.db.session() as session:
        row = session.scalar(select(OutboxRow))
        assert row is not None and row.status == "pending" and row.attempts == 0
        assert row.next_attempt_at == app.clock.now() + timedelta(seconds=7)
    assert sched.pacer.ready_at("console", "ext-budi") >= fake.t + 7 - 0.001
    app.clock.advance(seconds=5)
    await sched.tick()
    assert sender.calls == 1
    app.clock.advance(seconds=3)
    fake.t += 8
    await sched.tick()
    assert len(sender.sent) == 1


async def test_transient_errors_back_off_then_permanent_failure_reaches_admins(
        quiet_app: App) -> None:
    app = quiet_app
    link(app, "budi")
    link(app, "admin")
    add_followup(app, "budi", due=app.clock.now(), note="Unreachable")
    sender = FakeSender(failures=[DeliveryError("timeout"), DeliveryError("502"),
                                  PermanentFailure("bot was blocked by the user")])
    sched = _scheduler(app, sender)
    await sched.tick()
    with app.db.session() as session:
        row = session.scalar(select(OutboxRow).where(OutboxRow.kind == "followup.due"))
        assert row is not None and row.attempts == 1
        assert row.next_attempt_at == app.clock.now() + timedelta(seconds=5)
    app.clock.advance(seconds=5)
    await sched.tick()
    with app.db.session() as session:
        row = session.scalar(select(OutboxRow).where(OutboxRow.kind == "followup.due"))
        assert row is not None and row.attempts == 2
        assert row.next_attempt_at == app.clock.now() + timedelta(seconds=10)
    app.clock.advance(seconds=10)
    await sched.tick()
    with app.db.session() as session:
        row = session.scalar(select(OutboxRow).where(OutboxRow.kind == "followup.due"))
        assert row is not None and row.status == "failed" and "blocked" in row.last_error
        notice = session.get(NoticeRow, row.notice_id)
        assert notice is not None and notice.status == "failed"
    await sched.tick()  # the report to the admin goes out
    assert sender.calls == 4
    assert sender.sent[-1][0] == "ext-admin"
    assert "could not be delivered" in sender.sent[-1][1].text
    app.clock.advance(hours=2)
    await sched.tick()
    assert sender.calls == 4  # never retried


async def test_unknown_kind_is_marked_failed(quiet_app: App) -> None:
    app = quiet_app
    uid = link(app, "budi")
    with app.db.session() as session:
        enqueue_notice(session, kind="nobody.renders.this", reason="x:1", due_at=app.clock.now(),
                       now=app.clock.now(), recipient_user_id=uid)
    sender = FakeSender()
    await _scheduler(app, sender).tick()
    assert sender.sent == []
    with app.db.session() as session:
        notice = session.scalar(select(NoticeRow).where(NoticeRow.kind == "nobody.renders.this"))
        assert notice is not None and notice.status == "failed"
        assert "no renderer" in (notice.last_error or "")


async def test_user_without_a_chat_on_this_platform_is_retried_later(quiet_app: App) -> None:
    app = quiet_app
    link(app, "budi", platform="telegram", chat_id="5551")
    add_followup(app, "budi", due=app.clock.now(), note="Only on Telegram")
    console = FakeSender()
    await _scheduler(app, console).tick()
    assert console.sent == []
    telegram = FakeSender(platform="telegram")
    sched = _scheduler(app, telegram)
    await sched.tick()
    assert telegram.sent == []  # deferred an hour by the console-only process
    app.clock.advance(hours=1)
    await sched.tick()
    assert telegram.sent[0][0] == "5551"


async def test_most_recent_identity_wins(quiet_app: App) -> None:
    app = quiet_app
    link(app, "budi", platform="telegram", chat_id="111",
         when=app.clock.now() - timedelta(days=3))
    link(app, "budi", platform="slack", chat_id="D222", when=app.clock.now() - timedelta(days=1))
    add_followup(app, "budi", due=app.clock.now())
    telegram, slack = FakeSender(platform="telegram"), FakeSender(platform="slack")
    sched = make_scheduler(app, {"telegram": telegram, "slack": slack})
    sched.sweeps = followup_sweeps()
    await sched.tick()
    assert telegram.sent == [] and [c for c, _ in slack.sent] == ["D222"]


async def test_channel_notice_goes_to_the_channel(quiet_app: App) -> None:
    app = quiet_app
    with app.db.session() as session:
        enqueue_notice(session, kind="delivery.failed", reason="chan:1", due_at=app.clock.now(),
                       now=app.clock.now(), channel=("telegram", "-100500"),
                       params={"kind": "x", "platform": "telegram", "error": "e"})
    sender = FakeSender(platform="telegram")
    await _scheduler(app, sender).tick()
    # The renderer declines channel delivery of this kind (no user): cancelled, not sent.
    with app.db.session() as session:
        notice = session.scalar(select(NoticeRow).where(NoticeRow.key.contains("chan:1")))
        assert notice is not None and notice.status == "cancelled"


async def test_expired_claims_are_taken_again(quiet_app: App) -> None:
    app = quiet_app
    uid = link(app, "budi")
    now = app.clock.now()
    with app.db.session() as session:
        for i in range(3):
            enqueue_notice(session, kind="followup.due", reason=f"r{i}", due_at=now, now=now,
                           recipient_user_id=uid, params={"followup_id": 0})
    lease = timedelta(seconds=30)
    first = claim_notices(app.db, worker="a", now=now, lease=lease)
    assert len(first) == 3
    assert claim_notices(app.db, worker="b", now=now + timedelta(seconds=10), lease=lease) == []
    again = claim_notices(app.db, worker="b", now=now + timedelta(seconds=31), lease=lease)
    assert sorted(again) == sorted(first)
    with app.db.session() as session:
        assert {n.claimed_by for n in session.scalars(select(NoticeRow))} == {"b"}
        session.add(OutboxRow(key="k1", kind="x", platform="console", chat_id="c",
                              message={"text": "hi"}, status="pending", attempts=0,
                              next_attempt_at=now, created_at=now))
    items = claim_outbox(app.db, worker="a", now=now, lease=lease, platforms={"console"},
                         decode=decode_reply)
    assert [i.message.text for i in items] == ["hi"]
    assert claim_outbox(app.db, worker="b", now=now, lease=lease, platforms={"console"},
                        decode=decode_reply) == []
    assert len(claim_outbox(app.db, worker="b", now=now + timedelta(seconds=31), lease=lease,
                            platforms={"console"}, decode=decode_reply)) == 1


async def test_inactive_recipient_is_cancelled(quiet_app: App) -> None:
    app = quiet_app
    link(app, "budi")
    add_followup(app, "budi", due=app.clock.now())
    with app.db.session() as session:
        user = session.scalar(select(User).where(User.login == "budi"))
        assert user is not None
        user.active = False
    sender = FakeSender()
    await _scheduler(app, sender).tick()
    assert sender.sent == []


async def test_a_row_is_committed_as_sending_before_its_request(quiet_app: App) -> None:
    """What the platform receives was marked "sending" (by this worker, visible to every
    other connection) before the request; the result is committed right after."""
    app = quiet_app
    link(app, "budi")
    add_followup(app, "budi", due=app.clock.now() - timedelta(minutes=1), note="Call Hendro")
    seen: list[tuple[str, str | None]] = []

    class Peeking(FakeSender):
        async def deliver(self, chat_id: str, message: Reply, key: str | None = None
                          ) -> str | None:
            with app.db.engine.connect() as conn:  # another connection: only what is committed
                row = conn.execute(select(OutboxRow.status, OutboxRow.claimed_by)).one()
            seen.append((row.status, row.claimed_by))
            return await super().deliver(chat_id, message, key)

    sender = Peeking()
    report = await _scheduler(app, sender).tick()
    assert report.sent == 1
    assert seen == [("sending", "test-worker")]
    with app.db.session() as session:
        row = session.scalars(select(OutboxRow)).one()
        assert (row.status, row.claimed_by, row.last_error) == ("sent", None, None)


async def test_only_a_row_left_sending_is_sent_again_and_noted(quiet_app: App) -> None:
    """A dead process's rows: "claimed" (never tried) are sent with no note; "sending" (the
    result unknown: the platform may have it) are sent again and noted as resent; once
    the lease ran out, not before."""
    app = quiet_app
    now = app.clock.now()
    lease = timedelta(seconds=30)
    with app.db.session() as session:
        for key in ("tried", "untried"):
            session.add(OutboxRow(key=key, kind="x", platform="console", chat_id=key,
                                  message={"text": key}, status="pending", attempts=0,
                                  next_attempt_at=now, created_at=now))
    items = claim_outbox(app.db, worker="dead", now=now, lease=lease, platforms={"console"},
                         decode=decode_reply)
    assert len(items) == 2
    with app.db.session() as session:
        tried = next(i.id for i in items if i.chat_id == "tried")
        assert start_sends(session, [tried], worker="dead", now=now, lease=lease) == {tried}
        # A mark for a row this worker does not hold does nothing.
        assert start_sends(session, [tried], worker="other", now=now, lease=lease) == set()
    assert claim_outbox(app.db, worker="b", now=now + timedelta(seconds=29), lease=lease,
                        platforms={"console"}, decode=decode_reply) == []
    taken = claim_outbox(app.db, worker="b", now=now + timedelta(seconds=31), lease=lease,
                         platforms={"console"}, decode=decode_reply)
    assert sorted(i.chat_id for i in taken) == ["tried", "untried"]
    with app.db.session() as session:
        notes = dict(session.execute(select(OutboxRow.chat_id, OutboxRow.last_error)).all())
        statuses = set(session.scalars(select(OutboxRow.status)))
    assert notes["untried"] is None
    assert notes["tried"] == "resent: result of a send by dead unknown"
    assert statuses == {"claimed"}
    # A clean shutdown hands back what was never tried, and keeps what may have gone out.
    with app.db.session() as session:
        assert start_sends(session, [tried], worker="b", now=now, lease=lease) == {tried}
    release_claims(app.db, worker="b")
    with app.db.session() as session:
        after = dict(session.execute(select(OutboxRow.chat_id, OutboxRow.status)).all())
    assert after == {"tried": "sending", "untried": "pending"}


async def test_committed_sending_rows_never_exceed_the_send_concurrency(quiet_app: App
                                                                        ) -> None:
    """While many sends are under way, the rows committed as "sending" stay within
    max_in_flight (so a crash can repeat at most that many)."""
    app = quiet_app
    uid = link(app, "budi")
    now = app.clock.now()
    with app.db.session() as session:
        for i in range(40):
            session.add(OutboxRow(key=f"k{i}", kind="x", platform="console",
                                  chat_id=f"c{i}", user_id=uid, message={"text": f"m{i}"},
                                  status="pending", attempts=0, next_attempt_at=now,
                                  created_at=now))
    peaks: list[int] = []

    class Slow(FakeSender):
        async def deliver(self, chat_id: str, message: Reply, key: str | None = None
                          ) -> str | None:
            with app.db.engine.connect() as conn:
                peaks.append(conn.execute(select(func.count()).select_from(OutboxRow).where(
                    OutboxRow.status == "sending")).scalar_one())
            await asyncio.sleep(0.001)
            return await super().deliver(chat_id, message, key)

    sender = Slow()
    sched = _scheduler(app, sender, max_in_flight=4)
    report = await sched.tick()
    assert report.sent == 40 and len(sender.sent) == 40
    assert max(peaks) <= 4 and max(peaks) >= 2  # concurrent, and bounded


async def test_a_send_the_platform_can_show_is_looked_up_not_sent_again(quiet_app: App
                                                                       ) -> None:
    """A row a dead process left "sending": a sender that can find a push by its key (Slack
    metadata) is asked first; found, it is recorded as sent with no second message; not
    found, it is sent (with its key). Every push carries its row's key."""
    app = quiet_app
    uid = link(app, "budi")
    now = app.clock.now()
    lease = timedelta(seconds=30)
    with app.db.session() as session:
        for key in ("arrived", "lost"):
            session.add(OutboxRow(key=key, kind="x", platform="console", chat_id=key,
                                  user_id=uid, message={"text": key}, status="pending",
                                  attempts=0, next_attempt_at=now, created_at=now))
    items = claim_outbox(app.db, worker="dead", now=now, lease=lease, platforms={"console"},
                         decode=decode_reply)
    ids = {i.chat_id: i.id for i in items}
    with app.db.session() as session:
        assert start_sends(session, list(ids.values()), worker="dead", now=now,
                           lease=lease) == set(ids.values())

    class Finder(FakeSender):
        def __init__(self) -> None:
            super().__init__()
            self.looked: list[tuple[str, str]] = []

        async def find_sent(self, chat_id: str, key: str, since: object) -> str | None:
            self.looked.append((chat_id, key))
            return "ts-1" if chat_id == "arrived" else None

    sender = Finder()
    app.clock.advance(seconds=31)
    report = await _scheduler(app, sender).tick()
    assert sorted(sender.looked) == [("arrived", f"sfa-outbox-{ids['arrived']}"),
                                     ("lost", f"sfa-outbox-{ids['lost']}")]
    assert [(chat, m.text) for chat, m in sender.sent] == [("lost", "lost")]
    assert sender.keys == [f"sfa-outbox-{ids['lost']}"]
    assert report.sent == 2
    with app.db.session() as session:
        rows = {r.chat_id: r for r in session.scalars(select(OutboxRow))}
    assert (rows["arrived"].status, rows["arrived"].external_id) == ("sent", "ts-1")
    assert rows["lost"].status == "sent"


async def test_waiting_notices_without_a_renderer_are_named_at_start(
        quiet_app: App, caplog: pytest.LogCaptureFixture) -> None:
    """A kind with no registered renderer (its module not registered, a misspelt kind) is
    reported in one line when the scheduler starts, not found one notice at a time."""
    app = quiet_app
    uid = link(app, "budi")
    now = app.clock.now()
    with app.db.session() as session:
        for i in range(3):
            enqueue_notice(session, kind="followup.duee", reason=f"typo:{i}", due_at=now,
                           now=now, recipient_user_id=uid)
        enqueue_notice(session, kind="followup.due", reason="fine", due_at=now, now=now,
                       recipient_user_id=uid, params={"followup_id": 0})
    sched = _scheduler(app, FakeSender())
    sched.sweeps = []
    assert sched.unrendered_kinds() == {"followup.duee": 3}
    caplog.set_level("ERROR", logger="scheduler.service")
    await sched.start()
    await sched.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "scheduler.service"]
    assert len(lines) == 1 and "followup.duee (3)" in lines[0], lines
    assert "registry.add_notice" in lines[0]
