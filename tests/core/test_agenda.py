"""My week in a non-UTC zone, overdue first; .ics files parse back to the right instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar
from sqlalchemy import select

from core import agenda
from core.clock import ManualClock
from core.db import Database
from core.models import Company, Contact, Deal, FollowUp, Stage, User
from tests.support.chat import CollectingChat, texts

MAKASSAR = ZoneInfo("Asia/Makassar")  # UTC+8


def _setup(database: Database, clock: ManualClock) -> dict[str, int]:
    with database.session() as s:
        putri = s.scalar(select(User).where(User.login == "putri"))  # Asia/Makassar
        assert putri is not None and putri.timezone == "Asia/Makassar"
        company = s.scalar(select(Company).order_by(Company.id))
        contact = s.scalar(select(Contact).where(Contact.company_id == company.id))
        assert company and contact
        now = clock.now()  # Monday 2 March 2026 02:00 UTC = 10:00 WITA

        def fu(kind: str, at: datetime, note: str) -> FollowUp:
            row = FollowUp(user_id=putri.id, company_id=company.id, contact_id=contact.id,
                           kind=kind, note=note, due_at=at, status="open", created_at=now)
            s.add(row)
            return row

        overdue = fu("follow_up", now - timedelta(days=1), "send price list")
        # 23:30 WITA on Tuesday = 15:30 UTC Tuesday: Tuesday locally.
        late = fu("meeting", datetime(2026, 3, 3, 15, 30, tzinfo=UTC), "late meeting")
        # 00:30 WITA on Wednesday = 16:30 UTC Tuesday: Wednesday locally.
        early = fu("meeting", datetime(2026, 3, 3, 16, 30, tzinfo=UTC), "early meeting")
        fu("call", now + timedelta(days=9), "outside the week")
        done = fu("call", now + timedelta(days=1), "already done")
        done.status = "done"
        s.add(Deal(title="New lead", company_id=company.id, owner_id=putri.id,
                   stage=Stage.LEAD_ALLOCATED, facts={}, contact_by=now + timedelta(days=2),
                   created_at=now, updated_at=now))
        s.flush()
        return {"putri": putri.id, "overdue": overdue.id, "late": late.id,
                "early": early.id}


def test_week_agenda_groups_by_local_day(database: Database, clock: ManualClock,
                                         world: object) -> None:
    ids = _setup(database, clock)
    with database.session() as s:
        putri = s.get(User, ids["putri"])
        assert putri is not None
        week = agenda.week_agenda(s, putri, clock.now())
    assert [i.follow_up_id for i in week.overdue] == [ids["overdue"]]
    days = {d.isoformat(): [i.note or i.kind for i in items] for d, items in week.days}
    assert days["2026-03-03"] == ["late meeting"]
    assert days["2026-03-04"][0] == "early meeting"
    assert any(i.kind == "contact_by" for _d, items in week.days for i in items)
    assert "outside the week" not in str(days) and "already done" not in str(days)


def test_ics_parses_back_to_the_same_instant(database: Database, clock: ManualClock,
                                             world: object) -> None:
    ids = _setup(database, clock)
    with database.session() as s:
        putri = s.get(User, ids["putri"])
        assert putri is not None
        data = agenda.follow_up_ics(s, putri, ids["early"], summary="Meeting: X",
                                    now=clock.now())
    event = next(c for c in Calendar.from_ical(data).walk() if c.name == "VEVENT")
    start = event.decoded("dtstart")
    assert start == datetime(2026, 3, 3, 16, 30, tzinfo=UTC)
    assert start.astimezone(MAKASSAR).strftime("%a %H:%M") == "Wed 00:30"
    assert event.decoded("dtend") - start == timedelta(minutes=60)
    assert str(event["summary"]) == "Meeting: X"


async def test_my_week_in_chat_and_ics_button(chat: CollectingChat, database: Database,
                                              clock: ManualClock) -> None:
    ids = _setup(database, clock)
    putri = chat.as_user("putri")  # Indonesian
    out = await putri.say("jadwal saya")
    text = texts(out)
    assert text.startswith("Minggu Anda")
    assert text.index("send price list") < text.index("late meeting")  # overdue first
    calendar_buttons = [b for b in putri.buttons if b.action == "agenda.ics"]
    assert calendar_buttons
    reply = await putri.send(putri.incoming(button=calendar_buttons[0].payload))
    assert reply[0].attachment is not None and reply[0].attachment.mime == "text/calendar"
    # Someone else's follow-up is not theirs to export.
    budi = chat.as_user("budi")
    other = await budi.send(budi.incoming(button=f"a|agenda.ics|{ids['late']}"))
    assert other[0].attachment is None and "not in your agenda" in texts(other)


async def test_a_day_asked_for_shows_that_day_only(chat: CollectingChat, database: Database,
                                                   clock: ManualClock) -> None:
    """"What do I have tomorrow?" is that day (by the rep's own clock), not the week; today's
    day keeps what is overdue; a span ("minggu depan") is still the week."""
    _setup(database, clock)  # Monday 10:00 WITA
    putri = chat.as_user("putri")  # Indonesian, Asia/Makassar
    tomorrow = texts(await putri.say("ada kunjungan apa besok?"))
    assert tomorrow.startswith("Hari Anda: Sel 3 Mar 2026"), tomorrow
    day, _, after = tomorrow.partition("Berikutnya:")
    assert "late meeting" in day and "early meeting" not in day
    assert "early meeting" in after  # the next thing after that day
    assert "send price list" not in tomorrow  # overdue goes with today
    today = texts(await putri.say("jadwal saya hari ini"))
    assert today.startswith("Hari Anda: Sen 2 Mar 2026") and "send price list" in today
    assert "late meeting" not in today.partition("Berikutnya:")[0]
    assert "Berikutnya: Sel 3 Mar 2026 23:30 Rapat" in today  # what comes after it
    assert texts(await putri.say("what do I have on saturday?")).startswith(
        "Nothing planned for Sat 7 Mar 2026.")
    assert texts(await putri.say("agenda minggu depan")).startswith("Minggu Anda")


async def test_a_technicians_week_lists_the_jobs_with_open_buttons(
        chat: CollectingChat, database: Database, clock: ManualClock) -> None:
    from core.models.fieldservice import ServiceJob

    with database.session() as s:
        wayan = s.scalar(select(User).where(User.login == "wayan"))
        assert wayan is not None
        jobs = s.scalars(select(ServiceJob).where(ServiceJob.technician_id == wayan.id,
                                                  ServiceJob.status == "assigned")).all()
        assert jobs, "the demo gives wayan an assigned job"
        job_id = jobs[0].id
        week = agenda.week_agenda(s, wayan, clock.now())
        items = [i for _day, day_items in week.days for i in day_items] + week.overdue
        assert [i.job_id for i in items if i.kind == "job"] == [j.id for j in jobs]
    tech = chat.as_user("wayan")
    shown = texts(await tech.say("/week"))
    assert "Service job" in shown or "Pekerjaan servis" in shown
    opener = [b for b in tech.buttons if b.action == "job.show" and b.arg == str(job_id)]
    assert opener
    card = texts(await tech.send(tech.incoming(button=opener[0].payload)))
    assert f"#{job_id}" in card
    with database.session() as s:  # once done, the job leaves the week
        s.get(ServiceJob, job_id).status = "done"
    after = texts(await tech.say("/week"))
    assert f"#{job_id} " not in after
