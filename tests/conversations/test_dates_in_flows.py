"""Every place a user types a date reads it with the one understanding (bot.conversations.
dates): the visit's "Pick a date", the reminder, a deal's next step, a job's window and a
technician's ETA. The clock stands at Monday 2 March 2026, 09:00 in Jakarta."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.app import App
from core.models import FollowUp, Stage, User
from core.models.fieldservice import ServiceJob
from tests.conversations.test_deal import log_call, make_deal
from tests.support.chat import CollectingChat, texts


def jakarta(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour - 7, minute, tzinfo=UTC)


async def visit_until_next_step(chat: CollectingChat, login: str = "budi"):
    u = chat.as_user(login)
    await u.say("log visit hendro wibisono")
    await u.press("👍 Positive")
    await u.press("Skip")
    return u


async def test_visit_pick_a_date_understands_what_it_refused(app: App,
                                                             chat: CollectingChat) -> None:
    for typed, due in (("next friday 10:00", jakarta(13, 10)),
                       ("15 Des", datetime(2026, 12, 15, 2, 0, tzinfo=UTC)),
                       ("in 2 weeks", jakarta(16, 9)),
                       ("lusa", jakarta(4, 9))):
        u = await visit_until_next_step(chat)
        await u.press("Pick a date")
        out = texts(await u.say(typed))
        assert "Saved: visit with Hendro Wibisono" in out, (typed, out)
        with app.db.session() as s:
            latest = s.scalars(select(FollowUp).order_by(FollowUp.id.desc()).limit(1)).one()
            assert latest.due_at == due, typed
    u = await visit_until_next_step(chat)
    await u.press("Pick a date")
    assert "could not read" in texts(await u.say("whenever you like"))
    assert "in the past" in texts(await u.say("yesterday"))
    out = texts(await u.say("jumat depan jam 14.30"))  # still on the same step
    assert "Next step on Fri 13 Mar 2026 14:30" in out


async def test_a_reminder_lusa_is_the_day_after_tomorrow(app: App,
                                                         chat: CollectingChat) -> None:
    sari = chat.as_user("sari")  # Indonesian
    out = texts(await sari.say("ingatkan saya lusa jam 10 telepon Hendro Wibisono"))
    assert "Rab 4 Mar 2026 10:00: telepon Hendro Wibisono" in out, out
    with app.db.session() as s:
        reminder = s.scalars(select(FollowUp).where(FollowUp.kind == "reminder")).one()
        assert reminder.due_at == jakarta(4, 10) and reminder.note == "telepon Hendro Wibisono"


async def test_a_deal_next_step_on_a_typed_day(app: App, chat: CollectingChat, clock) -> None:
    deal_id = make_deal(app.db, clock.now(), Stage.LEAD_ALLOCATED)
    log_call(app.db, deal_id, clock.now())
    u = chat.as_user("budi")
    await u.say(f"advance deal #{deal_id}")
    out = texts(await u.press("Prospect contacted"))
    assert "Next step?" in out
    await u.press("Book a meeting")
    assert "type one" in texts(await u.say("someday"))
    out = texts(await u.say("jumat depan jam 10"))
    assert "Scheduled: Book a meeting on Fri 13 Mar 2026 10:00" in out
    with app.db.session() as s:
        fu = s.scalars(select(FollowUp).where(FollowUp.deal_id == deal_id)).one()
        assert fu.due_at == jakarta(13, 10)


async def test_a_job_window_and_an_eta_typed(app: App, chat: CollectingChat) -> None:
    maya = chat.as_user("maya")
    await maya.say("/newjob PT Sinar Jaya Abadi")
    await maya.say("repair")
    await maya.say("P3")
    await maya.say("besok")  # the word for the button: tomorrow 08:00-17:00
    await maya.say("Noisy fan")
    out = texts(await maya.say("skip"))
    assert "Window: Tue 3 Mar 2026 08:00 – Tue 3 Mar 2026 17:00" in out
    await maya.press("Cancel")
    await maya.say("/newjob PT Sinar Jaya Abadi")
    await maya.say("repair")
    await maya.say("P3")
    await maya.say("15 Des")  # a typed day: its working hours
    await maya.say("Noisy fan")
    out = texts(await maya.say("skip"))
    assert "Window: Tue 15 Dec 2026 08:00 – Tue 15 Dec 2026 17:00" in out
    await maya.press("Cancel")

    agus = chat.as_user("agus")
    with app.db.session() as s:
        job_id = s.scalar(select(ServiceJob.id).join(User, User.id == ServiceJob.technician_id)
                          .where(User.login == "agus", ServiceJob.status == "assigned"))
    await agus.say("/jobs")
    await agus.press(f"Open #{job_id}")
    await agus.press("Running late")
    out = texts(await agus.say("in 45 minutes"))
    assert "New ETA" in out and "09:45" in out
    with app.db.session() as s:
        job = s.get(ServiceJob, job_id)
        assert job is not None and job.eta_at == jakarta(2, 9, 45)


async def test_a_reminder_whose_date_comes_first_keeps_only_its_note(
        app: App, chat: CollectingChat) -> None:
    """"besok ingatkan saya kirim proposal …": the note is what to do, not the request."""
    sari = chat.as_user("sari")
    out = texts(await sari.say("besok ingatkan saya kirim proposal ke Sinar Jaya Abadi"))
    assert "Sel 3 Mar 2026 10:00: kirim proposal ke Sinar Jaya Abadi" in out, out
    out = texts(await sari.say("tomorrow remind me to call Hendro Wibisono"))
    assert "Tue 3 Mar 2026 10:00: call Hendro Wibisono" in out, out
    with app.db.session() as s:
        notes = sorted(f.note for f in s.scalars(select(FollowUp).where(
            FollowUp.kind == "reminder")))
    assert notes == ["call Hendro Wibisono", "kirim proposal ke Sinar Jaya Abadi"]
    out = texts(await sari.say("lusa ingatkn saya kirim brosur ke Hendro Wibisono"))  # typo
    assert "Rab 4 Mar 2026 10:00: kirim brosur ke Hendro Wibisono" in out, out
    with app.db.session() as s:
        notes = sorted(f.note for f in s.scalars(select(FollowUp).where(
            FollowUp.kind == "reminder")))
    assert notes == ["call Hendro Wibisono", "kirim brosur ke Hendro Wibisono",
                     "kirim proposal ke Sinar Jaya Abadi"]
