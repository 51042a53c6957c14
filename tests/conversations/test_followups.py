"""Complaints, deliveries and reminders in chat, and the pushed notices' words (EN/ID)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot.app import App
from bot.conversations.notices import render_notice
from core.models import Company, FollowUp, NoticeRow, User
from core.models.scheduling import Complaint, CustomerMessage, DeliverySchedule
from core.notices import enqueue_notice
from core.scope import company_visible
from tests.support.chat import CollectingChat, texts


def _company_name(app: App, login: str) -> str:
    with app.db.session() as s:
        user = s.scalar(select(User).where(User.login == login))
        company = s.scalar(select(Company).where(company_visible(s, user))
                           .order_by(Company.id).limit(1))
        return company.name


async def test_a_complaint_said_in_one_message_is_not_asked_again(
        chat: CollectingChat, app: App) -> None:
    """The customer and the issue in the request itself: straight to the severity, with
    what was understood shown; the same in Indonesian."""
    budi = chat.as_user("budi")
    out = texts(await budi.say("complaint from Sinar Jaya Abadi: two laptops arrived "
                               "without chargers"))
    assert "Complaint from Sinar Jaya Abadi: two laptops arrived without chargers" in out
    assert "How severe is it?" in out and "What is the issue" not in out
    await budi.press("High")
    out = texts(await budi.press("Me"))
    assert "registered" in out and "without chargers" in out
    out = texts(await budi.say("ada keluhan dari Sinar Jaya Abadi, barangnya rusak"))
    assert "Keluhan dari Sinar Jaya Abadi: barangnya rusak" in out
    assert "Seberapa parah?" in out
    await budi.say("/cancel")
    out = texts(await budi.say("komplain dari Sinar Jaya Abadi: printernya rusak"))
    assert "Keluhan dari Sinar Jaya Abadi: printernya rusak" in out, out
    with app.db.session() as s:
        assert s.scalar(select(Complaint.issue)) == "two laptops arrived without chargers"


async def test_register_a_complaint_step_by_step(chat: CollectingChat, app: App) -> None:
    name = _company_name(app, "budi")
    budi = chat.as_user("budi")
    r = await budi.say("/complaint")
    assert "Which customer" in texts(r)
    r = await budi.say("zzzz no such company qqq")
    assert "found no company" in texts(r)
    r = await budi.say(name)
    assert f"Complaint from {name}" in texts(r)
    r = await budi.say("x")
    assert "a few words" in texts(r)
    r = await budi.say("The printer arrived with a cracked tray")
    assert "How severe" in texts(r)
    r = await budi.say("apocalyptic")
    assert "Choose low, medium, high or critical" in texts(r)
    r = await budi.press("High")
    assert "Who follows it up" in texts(r)
    r = await budi.say("nobody_here")
    assert "No user nobody_here" in texts(r)
    r = await budi.press("Me")
    out = texts(r)
    assert "registered" in out and "cracked tray" in out and "Dear" in out
    r = await budi.press("Sent it")
    assert "Recorded" in texts(r)
    r = await budi.press("Sent it")
    assert "Already recorded" in texts(r)
    with app.db.session() as s:
        complaint = s.scalar(select(Complaint))
        assert complaint is not None and complaint.severity == "high"
        assert s.scalar(select(CustomerMessage.kind)) == "complaint"
    r = await budi.say("/complaints")
    assert "cracked tray" in texts(r)
    r = await budi.press(f"Resolve #{complaint.id}")
    assert "what was done" in texts(r)
    r = await budi.say("Sent a new tray by courier")
    assert "resolved" in texts(r)
    # resolving drafts the letter to the customer, as opening it did
    out = texts(r)
    assert "A letter for the customer, ready to send:" in out and "Dear" in out
    assert "Following up on your complaint (The printer arrived with a cracked tray): it has "\
        "been resolved." in out and "What we did: Sent a new tray by courier" in out
    r = await budi.press("Sent it")
    assert "Recorded" in texts(r)
    with app.db.session() as s:
        kinds = sorted(s.scalars(select(CustomerMessage.kind)))
        assert kinds == ["complaint", "complaint_resolved"]
    r = await budi.say("/complaints")
    assert "No open complaints" in texts(r)


async def test_complaint_intent_names_the_company(chat: CollectingChat, app: App) -> None:
    name = _company_name(app, "budi")
    r = await chat.as_user("budi").say(f"complaint from {name}")
    assert f"Complaint from {name}" in texts(r)


async def test_schedule_and_delay_a_delivery(chat: CollectingChat, app: App) -> None:
    name = _company_name(app, "budi")
    budi = chat.as_user("budi")
    await budi.say("/delivery")
    await budi.say(name)
    r = await budi.say("3 servers and a rack")
    assert "When?" in texts(r)
    r = await budi.say("next blue moon")
    assert "did not understand that date" in texts(r)
    r = await budi.say("2020-01-01 10:00")
    assert "in the past" in texts(r)
    r = await budi.say("2026-03-05 14:00")
    out = texts(r)
    assert "Delivery scheduled for Thu 5 Mar 2026 14:00" in out
    assert "3 servers and a rack will be delivered on Thu 5 Mar 2026 14:00" in out
    r = await budi.press("Delay")
    assert "to when?" in texts(r)
    r = await budi.say("2026-03-04 10:00")
    assert "later than it is now" in texts(r)
    r = await budi.say("in 5 days")
    assert "Why is it delayed" in texts(r)
    r = await budi.say("Stuck in customs")
    out = texts(r)
    assert "delayed to Sat 7 Mar 2026 10:00" in out and "Stuck in customs" in out
    with app.db.session() as s:
        d = s.scalar(select(DeliverySchedule))
        assert d is not None and d.status == "delayed"


async def test_deliveries_asked_for_are_listed_alone(chat: CollectingChat, app: App) -> None:
    """"upcoming deliveries" and "pengiriman minggu ini" had no answer of their own."""
    name = _company_name(app, "budi")
    budi = chat.as_user("budi")
    out = texts(await budi.say("upcoming deliveries"))
    assert "No deliveries scheduled." in out
    await budi.say("/delivery")
    await budi.say(name)
    await budi.say("3 servers and a rack")
    await budi.say("2026-03-05 14:00")
    for asked in ("upcoming deliveries", "pengiriman minggu ini"):
        out = texts(await budi.say(asked))
        assert "3 servers and a rack" in out and out.startswith("🚚"), asked
        assert "follow-ups" not in out and "tindak lanjut" not in out.lower(), asked


async def test_reminders_list_and_done(chat: CollectingChat, app: App) -> None:
    with app.db.session() as s:
        s.execute(update(FollowUp).values(status="cancelled"))
        budi = s.scalar(select(User).where(User.login == "budi"))
        s.add(FollowUp(user_id=budi.id, kind="follow_up", note="Send price list",
                       due_at=app.clock.now() - timedelta(hours=1), status="open",
                       created_at=app.clock.now()))
    budi_chat = chat.as_user("budi")
    r = await budi_chat.say("/reminders")
    assert "Send price list" in texts(r) and "(overdue)" in texts(r)
    r = await budi_chat.press("Done")
    assert "Done" in texts(r)
    r = await budi_chat.say("my reminders")
    assert "Nothing planned" in texts(r)


async def test_only_what_is_overdue_when_asked_so(chat: CollectingChat, app: App) -> None:
    """Found by asking as a rep: "what's overdue?" and "follow up yang telat" listed every
    open follow-up and delivery, the late ones among them."""
    with app.db.session() as s:
        s.execute(update(FollowUp).values(status="cancelled"))
        budi = s.scalar(select(User).where(User.login == "budi"))
        for note, hours in (("Send price list", -3), ("Call the buyer", 20)):
            s.add(FollowUp(user_id=budi.id, kind="follow_up", note=note,
                           due_at=app.clock.now() + timedelta(hours=hours), status="open",
                           created_at=app.clock.now()))
    budi_chat = chat.as_user("budi")
    out = texts(await budi_chat.say("what's overdue?"))
    assert out.startswith("Overdue:") and "Send price list" in out
    assert "Call the buyer" not in out and "🚚" not in out
    await budi_chat.press("Done")
    out = texts(await budi_chat.say("follow up yang telat"))
    assert out.startswith("Tidak ada yang terlambat. Berikutnya:") and "Call the buyer" in out
    out = texts(await budi_chat.say("my reminders"))  # not asked for the late ones: all
    assert "Your open follow-ups:" in out and "Call the buyer" in out


async def test_notice_words_in_indonesian_with_action_buttons(app: App) -> None:
    with app.db.session() as s:
        sari = s.scalar(select(User).where(User.login == "sari"))
        fu = FollowUp(user_id=sari.id, kind="follow_up", note="Telepon Pak Hendro",
                      due_at=app.clock.now(), status="open", created_at=app.clock.now())
        s.add(fu)
        s.flush()
        notice = enqueue_notice(s, kind="followup.due", reason=f"followup:{fu.id}:due:1",
                                due_at=app.clock.now(), now=app.clock.now(),
                                recipient_user_id=sari.id, params={"followup_id": fu.id})
        message = render_notice(app.registry, s, notice, sari)
        assert message is not None
        assert "jatuh tempo" in message.text and "Telepon Pak Hendro" in message.text
        labels = [b.label for row in message.buttons for b in row]
        assert labels == ["Tunda 1 jam", "Besok", "Selesai"] or "Tunda 1 jam" in labels
        fu.status = "done"
        assert render_notice(app.registry, s, notice, sari) is None  # no longer applies
        bad = NoticeRow(kind="no.such.kind", key="k", params={}, due_at=app.clock.now(),
                        created_at=app.clock.now())
        try:
            render_notice(app.registry, s, bad, sari)
        except LookupError:
            pass
        else:
            raise AssertionError("an unknown kind must raise LookupError")


async def test_remind_me_reads_the_time_and_the_contact(chat: CollectingChat, app: App) -> None:
    """Monday 2 Mar 2026 09:00 WIB: "tomorrow at 10" is Tue 10:00 local, 03:00 UTC."""
    budi = chat.as_user("budi")
    r = await budi.say("remind me tomorrow at 10 to call Hendro Wibisono")
    assert "I will remind you on Tue 3 Mar 2026 10:00: call Hendro Wibisono" in texts(r)
    assert "Linked to Hendro Wibisono" in texts(r)
    with app.db.session() as s:
        fu = s.scalars(select(FollowUp).where(FollowUp.kind == "reminder")).one()
        assert fu.due_at.hour == 3 and fu.due_at.day == 3 and fu.contact_id is not None
        assert fu.user_id == s.scalar(select(User.id).where(User.login == "budi"))
        fid = fu.id
    # Due: pushed like any follow-up, with the contact's phone and snooze / done buttons.
    from core.followups import followups_due

    with app.db.session() as s:
        assert followups_due(s, app.clock.now() + timedelta(days=1, hours=1, minutes=1)) == 1
        notice = s.scalars(select(NoticeRow).where(NoticeRow.kind == "followup.due")).one()
        user = s.get(User, notice.recipient_user_id)
        reply = render_notice(app.registry, s, notice, user)
        assert reply is not None and "Reminder due: call Hendro Wibisono" in reply.text
        assert "Phone:" in reply.text
        assert [b.label for row in reply.buttons for b in row] == [
            "Snooze 1h", "Tomorrow", "Done"]
    r = await budi.press("Cancel this reminder")
    assert "Done" in texts(r)
    with app.db.session() as s:
        assert s.get(FollowUp, fid).status == "done"


async def test_remind_me_asks_for_what_is_missing_in_both_languages(chat: CollectingChat,
                                                                    app: App) -> None:
    budi = chat.as_user("budi")
    r = await budi.say("remind me to send the price list")
    assert "When should I remind you?" in texts(r)
    r = await budi.say("sometime")  # not a time: asked again, nothing saved
    assert "I did not understand that time" in texts(r)
    r = await budi.say("Friday 14:00")
    assert "Fri 6 Mar 2026 14:00: send the price list" in texts(r)
    r = await budi.say("remind me in 3 days")
    assert "What should I remind you of on Thu 5 Mar 2026 10:00?" in texts(r)
    r = await budi.say("check the quote")
    assert "Thu 5 Mar 2026 10:00: check the quote" in texts(r)
    r = await budi.say("ingatkan saya besok jam 14.00 telepon Hendro Wibisono")
    # Asked in Indonesian: answered in Indonesian, whatever budi's own setting.
    assert "Sel 3 Mar 2026 14:00: telepon Hendro Wibisono" in texts(r)
    r = await budi.say("remind me yesterday to file the report")
    assert "already passed" in texts(r)
    r = await budi.say("/cancel")
    r = await budi.say("remind me tomorrow at 9 to " + "x" * 400)
    assert "under 300 characters" in texts(r)
    with app.db.session() as s:
        notes = sorted(f.note for f in s.scalars(select(FollowUp).where(
            FollowUp.kind == "reminder")))
    assert notes == ["check the quote", "send the price list", "telepon Hendro Wibisono"]


def test_dates_people_type_are_read_in_the_users_time_zone() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from bot.conversations.dates import find_when, moment, parse_when
    from bot.conversations.followups import DEFAULT_AT

    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 09:00 in Jakarta

    def local(text: str, tz: str = "Asia/Jakarta") -> tuple[str | None, str]:
        value, rest = find_when(text, "en", now, tz)
        when = moment(value, tz, DEFAULT_AT) if value is not None else None
        return (when.astimezone(ZoneInfo(tz)).strftime("%a %d %H:%M") if when else None,
                rest)

    assert local("tomorrow at 10 to call Hendro") == ("Tue 03 10:00", "call Hendro")
    assert local("call Hendro on Friday") == ("Fri 06 10:00", "call Hendro")
    assert local("in 2 hours call back") == ("Mon 02 11:00", "call back")
    assert local("besok pukul 9 kunjungi Samudra") == ("Tue 03 09:00", "kunjungi Samudra")
    assert local("call Hendro") == (None, "call Hendro")
    assert local("call bank 1 at 16") == (None, "call bank 1 at 16")
    assert local("tomorrow 10:00", "Asia/Makassar") == ("Tue 03 10:00", "")
    assert parse_when("next monday 9am", "en", now, "Asia/Jakarta") is not None
    assert parse_when("tomorrow 9:30 call", "en", now, "Asia/Jakarta") is None  # not only a time
