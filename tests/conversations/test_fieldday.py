"""The field day in chat: customers near me, a customer's site set from where the rep stands
(owner or manager, a pasted link, no geocoding), verified check-ins, map links as locations."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.clock import ManualClock
from core.db import Database
from core.models import Activity, Company, User
from core.models.fieldday import CompanySite, SiteChange, VisitCheckin
from tests.support.chat import CollectingChat, texts


def sinar(database: Database, owner: str = "budi") -> tuple[int, float, float, str]:
    """Sinar Jaya Abadi's id and site, owned by `owner`."""
    with database.session() as s:
        c = s.scalars(select(Company).where(Company.name == "Sinar Jaya Abadi")).one()
        c.owner_id = s.scalars(select(User.id).where(User.login == owner)).one()
        return c.id, c.lat, c.lon, owner


async def test_near_me_asks_for_a_location_then_lists_with_buttons(
        chat: CollectingChat, database: Database, clock: ManualClock) -> None:
    _, lat, lon, _ = sinar(database)
    budi = chat.as_user("budi")
    replies = await budi.say("/near")
    assert "Share your location" in texts(replies)
    assert replies[-1].ask_location == "📍 Share location"
    out = texts(await budi.say("Jl. Sudirman 5, Jakarta"))  # an address: no geocoding
    assert "cannot look up addresses" in out
    out = texts(await budi.say("95, 200"))  # numbers, but no place on earth
    assert "That location is not valid" in out
    out = texts(await budi.share_location(lat + 0.001, lon))
    assert "Customers near you:" in out
    assert "1. PT Sinar Jaya Abadi — 110 m" in out
    assert "open deal" in out and ("last contact" in out or "never contacted" in out)
    labels = [b.label for b in budi.buttons]
    assert "📝 Visit 1" in labels and "🧭 Directions 1" in labels
    out = texts(await budi.press("🧭 Directions 1"))
    assert "https://www.google.com/maps/dir/?api=1" in out
    assert f"destination={lat:.6f},{lon:.6f}" in out
    # a fresh location stands for "here" for 15 minutes, then it is asked again
    clock.advance(timedelta(minutes=10))
    assert "1. PT Sinar Jaya Abadi" in texts(await budi.say("/near"))
    clock.advance(timedelta(minutes=10))
    assert "Where are you?" in texts(await budi.say("/near"))
    # the visit button of a listed customer starts logging a visit there
    await budi.say("/cancel")
    await budi.share_location(lat, lon)
    out = texts(await budi.press("📝 Visit 1"))
    assert "Whom at PT Sinar Jaya Abadi?" in out


async def test_check_in_verified_or_marked_with_distance_then_site_set(
        chat: CollectingChat, database: Database, clock: ManualClock) -> None:
    cid, lat, lon, owner = sinar(database)
    rep = chat.as_user(owner)
    await rep.say("log visit hendro wibisono")
    await rep.press("👍 Positive")
    await rep.press("Skip")
    saved = await rep.press("No next step")
    assert saved[-1].text == "Share your location now to check in (optional)."
    assert saved[-1].ask_location == "📍 Share location" and saved[0].buttons
    out = texts(await rep.share_location(lat + 0.02, lon))  # 2.2 km away
    assert "Checked in at your visit to PT Sinar Jaya Abadi, but 2.2 km from its site" in out
    assert "Kept, marked with the distance" in out
    with database.session() as s:
        row = s.scalars(select(VisitCheckin)).one()
        assert not row.verified and 2150 < row.distance_m < 2300
    # the owner standing there may move the site to here (logged)
    out = texts(await rep.press("📍 Set this as PT Sinar Jaya Abadi's location"))
    assert "📍 Saved as the location of PT Sinar Jaya Abadi" in out
    assert "It moved 2.2 km" in out
    with database.session() as s:
        site = s.scalars(select(CompanySite).where(CompanySite.company_id == cid,
                                                   CompanySite.kind == "head_office")).one()
        assert site.lat == lat + 0.02 and site.source == "chat"
        assert s.scalars(select(SiteChange).where(SiteChange.company_id == cid)
                         .order_by(SiteChange.id.desc())).first().old_lat == lat
    # the next visit there is verified
    clock.advance(timedelta(hours=4))
    await rep.say("log visit hendro wibisono")
    await rep.press("👍 Positive")
    await rep.press("Skip")
    await rep.press("No next step")
    out = texts(await rep.share_location(lat + 0.0201, lon))
    assert "✅ Checked in at your visit to PT Sinar Jaya Abadi: verified, 10 m from its site" \
        in out
    # sharing again now lists customers near here (the visit is checked in already)
    assert "Customers near you:" in texts(await rep.share_location(lat + 0.0201, lon))
    with database.session() as s:
        assert [r.verified for r in s.scalars(select(VisitCheckin).order_by(
            VisitCheckin.at))] == [False, True]
        assert s.scalar(select(Activity.lat).order_by(Activity.id.desc()).limit(1)) == \
            lat + 0.0201


async def test_set_site_by_name_with_a_pasted_link_and_who_may(
        chat: CollectingChat, database: Database) -> None:
    cid, _, _, owner = sinar(database)
    out = texts(await chat.as_user("andi").say("/setsite Sinar Jaya Abadi"))
    assert "I found no customer matching" in out  # andi (Bandung) cannot see it
    with database.session() as s:  # sari covers Jakarta too, but is not the owner
        sari = s.scalars(select(User).where(User.login == "sari")).one()
        sari.locale = "en"
    out = texts(await chat.as_user("sari").say("/setsite Sinar Jaya Abadi"))
    assert "Only the account's owner or a manager can set the location" in out
    rep = chat.as_user(owner)
    replies = await rep.say("/setsite sinar jaya")
    assert "Share your location at PT Sinar Jaya Abadi" in texts(replies)
    assert replies[-1].ask_location
    out = texts(await rep.say("https://maps.app.goo.gl/AbCdEf123"))
    assert "shortened map link" in out
    out = texts(await rep.say("https://www.google.com/maps/@-6.2101,106.8202,17z"))
    assert "Saved as the location of PT Sinar Jaya Abadi: -6.21010, 106.82020" in out
    # a manager may too, with the link in the same line
    out = texts(await chat.as_user("maya").say(
        "/setsite Sinar Jaya Abadi https://www.openstreetmap.org/?mlat=-6.2102&mlon=106.8203"))
    assert "Saved as the location of PT Sinar Jaya Abadi: -6.21020, 106.82030" in out
    with database.session() as s:
        assert s.get(Company, cid).lat == -6.2102
    # Indonesian
    out = texts(await chat.as_user("dewi").say("/setsite"))
    assert "Lokasi pelanggan mana" in out


async def test_a_pasted_map_link_is_a_location_share(chat: CollectingChat,
                                                     database: Database) -> None:
    _, lat, lon, _ = sinar(database)
    budi = chat.as_user("budi")
    out = texts(await budi.say(f"https://www.google.com/maps/@{lat},{lon},17z"))
    assert "Customers near you:" in out and "PT Sinar Jaya Abadi" in out
    assert "shortened map link" in texts(await budi.say("https://maps.app.goo.gl/xyz"))
    with database.session() as s:
        me = s.scalars(select(User).where(User.login == "budi")).one()
        assert (me.last_lat, me.last_lon) == (lat, lon)


async def test_plan_my_day_with_drop_pin_ics_and_the_morning_button(
        chat: CollectingChat, app, database: Database, clock: ManualClock) -> None:
    from bot.conversations.notices import render_notice
    from core.models import FollowUp, NoticeRow
    from core.notices import enqueue_notice

    cid, lat, lon, _ = sinar(database)
    now = clock.now()
    with database.session() as s:
        budi = s.scalars(select(User).where(User.login == "budi")).one()
        s.add(FollowUp(user_id=budi.id, company_id=cid, kind="meeting", note="demo",
                       due_at=now + timedelta(hours=4), status="open", created_at=now))
    budi = chat.as_user("budi")
    await budi.share_location(lat + 0.03, lon)
    replies = await budi.say("/plan")
    out = texts(replies)
    assert "🗺 Your day, Mon 2 Mar 2026:" in out and "visits, about" in out
    assert "13:00 PT Sinar Jaya Abadi — meeting" in out
    assert "🧭 Route: https://www.google.com/maps/dir/?api=1" in out
    assert f"origin={lat + 0.03:.6f},{lon:.6f}" in out
    ics = next(r.attachment for r in replies if r.attachment is not None)
    assert ics.filename == "day-2026-03-02.ics" and b"BEGIN:VEVENT" in ics.data
    labels = [b.label for b in budi.buttons]
    assert "❌ Drop 1" in labels and "📌 Pin 1" in labels
    first_line = next(line for line in out.splitlines() if line.startswith("1. "))
    out = texts(await budi.press("❌ Drop 1"))
    assert out.startswith("Dropped; planned again.")
    assert first_line.split(" — ")[0][9:] not in out  # the dropped customer is gone
    out = texts(await budi.press("📌 Pin 1"))
    assert "Pinned; planned again." in out and " 📌 — " in out
    # the morning message offers the plan
    with database.session() as s:
        user = s.scalars(select(User).where(User.login == "budi")).one()
        s.add(FollowUp(user_id=user.id, company_id=cid, kind="follow_up", note="call",
                       due_at=now + timedelta(hours=1), status="open", created_at=now))
        s.flush()
        enqueue_notice(s, kind="followup.morning", reason="morning:test", due_at=now,
                       now=now, recipient_user_id=user.id, params={"day": "2026-03-02"})
        row = s.scalars(select(NoticeRow).where(NoticeRow.kind == "followup.morning")).one()
        message = render_notice(app.registry, s, row, user)
    assert message is not None
    button = message.buttons[-1][0]
    assert button.label == "🗺 Plan my day"
    out = texts(await budi.send(budi.incoming(button=button.payload)))
    assert "🗺 Your day, Mon 2 Mar 2026:" in out
    # Indonesian
    out = texts(await chat.as_user("sari").say("/plan"))
    assert "Hari Anda" in out or "Tidak ada yang bisa direncanakan" in out


async def test_the_managers_activity_report_shows_the_verified_share(
        chat: CollectingChat, database: Database, clock: ManualClock) -> None:
    _, lat, lon, _ = sinar(database)
    budi = chat.as_user("budi")
    for point in ((lat + 0.0005, lon), (lat + 0.03, lon)):  # 55 m: verified; 3.3 km: not
        await budi.say("log visit hendro wibisono")
        await budi.press("👍 Positive")
        await budi.press("Skip")
        await budi.press("No next step")
        await budi.share_location(*point)
        clock.advance(timedelta(hours=4))
    await budi.say("log visit hendro wibisono")  # a third visit, never checked in
    await budi.press("👍 Positive")
    await budi.press("Skip")
    await budi.press("No next step")
    out = texts(await chat.as_user("maya").say("/report activities by rep this month"))
    assert "Verified %" in out and "Verified visits" in out
    line = next(x for x in out.splitlines() if x.startswith("Budi"))
    assert line.split()[-2:] == ["1", "33.3"]  # 1 of 3 visits verified
