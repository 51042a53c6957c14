"""Answers typed where the bot offers buttons: a button's label typed is that button, the
same request typed again starts over, and a visit's next step said in words ("send the quote
next week") keeps both its day and what to do."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.app import App
from core.clock import ManualClock
from core.models import Activity, Contact, FollowUp
from tests.support.chat import CollectingChat, texts


def _contact_id(app: App, name: str) -> int:
    with app.db.session() as s:
        return s.scalar(select(Contact.id).where(Contact.name == name).limit(1))


def _follow_ups(app: App, contact_id: int) -> list[FollowUp]:
    with app.db.session() as s:
        return list(s.scalars(select(FollowUp).where(FollowUp.contact_id == contact_id)
                              .order_by(FollowUp.id)))


def _activities(app: App, contact_id: int) -> int:
    with app.db.session() as s:
        return s.scalar(select(func.count(Activity.id)).where(Activity.contact_id == contact_id))


async def test_a_label_typed_is_its_button(app: App, chat: CollectingChat) -> None:
    budi = chat.as_user("budi")
    hendro = _contact_id(app, "Hendro Wibisono")
    before = _follow_ups(app, hendro)
    await budi.say("log visit Hendro Wibisono")
    assert "Any notes?" in texts(await budi.say("positive"))  # the label of 👍 Positive
    assert "when should you follow up" in texts(await budi.say("ok"))
    out = texts(await budi.say("No next step"))
    assert "Saved: visit with Hendro Wibisono" in out and "Next step on" not in out
    assert _follow_ups(app, hendro) == before


async def test_the_same_request_again_starts_over(app: App, chat: CollectingChat) -> None:
    budi = chat.as_user("budi")
    hendro, joko = _contact_id(app, "Hendro Wibisono"), _contact_id(app, "Joko Susilo")
    visits = _activities(app, hendro)
    await budi.say("log visit Hendro Wibisono")
    await budi.press("👍 Positive")
    await budi.say("good talk")
    out = texts(await budi.say("log visit Joko Susilo"))  # not a date for Hendro's next step
    assert "How did the visit with Joko Susilo" in out and "as a date" not in out
    await budi.press("😐 Neutral")
    await budi.press("Skip")
    out = texts(await budi.press("No next step"))
    assert "Saved: visit with Joko Susilo" in out
    assert _activities(app, hendro) == visits  # the half-done visit was dropped
    assert _activities(app, joko) >= 1


async def test_notes_that_sound_like_a_request_stay_notes(app: App,
                                                           chat: CollectingChat) -> None:
    budi = chat.as_user("budi")
    await budi.say("log visit Hendro Wibisono")
    await budi.press("👍 Positive")
    out = texts(await budi.say("log a visit to their warehouse too"))
    assert "when should you follow up" in out


async def test_the_next_step_said_in_words(app: App, chat: CollectingChat,
                                           clock: ManualClock) -> None:
    budi = chat.as_user("budi")
    hendro = _contact_id(app, "Hendro Wibisono")
    before = len(_follow_ups(app, hendro))
    await budi.say("log visit Hendro Wibisono")
    await budi.press("👍 Positive")
    await budi.say("he wants 20 laptops")
    out = texts(await budi.say("send the quote next week"))
    assert "Next step on" in out and ": send the quote. I will remind you." in out
    made = _follow_ups(app, hendro)[before:]
    assert [f.note for f in made] == ["send the quote"]
    local = made[0].due_at.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo("Asia/Jakarta"))
    today = clock.now().astimezone(ZoneInfo("Asia/Jakarta")).date()
    assert local.weekday() == 0 and 1 <= (local.date() - today).days <= 7 + 6
    assert local.hour == 9


async def test_what_to_do_without_a_day_asks_the_day(app: App, chat: CollectingChat) -> None:
    maya = chat.as_user("maya")
    await maya.say("catat kunjungan ke Hendro Wibisono")
    await maya.press("👍 Positif")
    await maya.press("Lewati")
    out = texts(await maya.say("telepon lagi soal harga"))
    assert "Langkah berikutnya: telepon lagi soal harga. Kapan?" in out
    out = texts(await maya.press("Besok"))
    assert "Langkah berikutnya pada" in out and "telepon lagi soal harga" in out
    hendro = _contact_id(app, "Hendro Wibisono")
    assert _follow_ups(app, hendro)[-1].note == "telepon lagi soal harga"


async def test_a_typed_date_alone_is_still_the_day(app: App, chat: CollectingChat) -> None:
    budi = chat.as_user("budi")
    hendro = _contact_id(app, "Hendro Wibisono")
    await budi.say("log visit Hendro Wibisono")
    await budi.press("👍 Positive")
    await budi.press("Skip")
    out = texts(await budi.say("friday 14:00"))
    assert "Next step on Fri" in out and "14:00; I will remind you." in out
    assert _follow_ups(app, hendro)[-1].note is None
    assert isinstance(_follow_ups(app, hendro)[-1].due_at, datetime)


async def test_a_label_typed_with_a_typo_is_its_button(chat: CollectingChat) -> None:
    """Found on review: "positve" got "Please tap one of the outcomes"."""
    budi = chat.as_user("budi")
    await budi.say("log visit Hendro Wibisono")
    assert "Any notes?" in texts(await budi.say("positve"))
    assert "when should you follow up" in texts(await budi.say("ok"))
    out = texts(await budi.say("no nxt step"))
    assert "Saved: visit with Hendro Wibisono" in out and "Next step on" not in out
