"""Live locations through the engine: they never disturb an open flow; a rep inside a
customer's site radius gets one brief a day (contacts, deal gate, last visit, follow-up,
documents and what changed in them); a technician on the way gives the rep an ETA and is
"arrived" on entering the job site's radius."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from bot.app import App
from bot.conversations.messages import live_location_update
from core import document_checkout as checkout
from core import knowledge as kb
from core.clock import ManualClock
from core.customer_brief import record_read
from core.models import Company, Deal, FollowUp, NoticeRow, Stage, User
from tests.conversations.test_jobs import create_p1, deliver, job_row, latest_job_id, site_of
from tests.support.chat import ChatUser, CollectingChat, texts


async def live(user: ChatUser, lat: float, lon: float) -> list:
    return await user.send(live_location_update(
        platform=user.platform, chat_id=user.external_id, user_id=user.external_id,
        lat=lat, lon=lon))


def briefs(app: App) -> list[NoticeRow]:
    with app.db.session() as s:
        rows = s.scalars(select(NoticeRow).where(NoticeRow.kind == "fieldday.brief")).all()
        for row in rows:
            s.expunge(row)
        return list(rows)


async def test_arrival_brief_once_a_day_and_the_open_flow_stays(
        app: App, chat: CollectingChat, clock: ManualClock) -> None:
    now = clock.now()
    with app.db.session() as s:
        sinar = s.scalars(select(Company).where(Company.name == "Sinar Jaya Abadi")).one()
        budi = s.scalars(select(User).where(User.login == "budi")).one()
        sinar.owner_id = budi.id
        lat, lon, cid = sinar.lat, sinar.lon, sinar.id
        s.add(FollowUp(user_id=budi.id, company_id=cid, kind="follow_up",
                       note="Bring the revised price", due_at=now + timedelta(hours=2),
                       status="open", created_at=now))
        # an open deal naming a product, and a document about it opened at version 1
        product_word = "Server X1"
        s.add(Deal(title="Server room upgrade (Server X1)", company_id=cid, owner_id=budi.id,
                   team_id=budi.team_id, territory_id=sinar.territory_id,
                   stage=Stage.CONTACTED.value, amount=Decimal("250000000"), currency="IDR",
                   facts={}, created_at=now - timedelta(days=30),
                   updated_at=now - timedelta(days=30)))
        doc = kb.add_document(s, title="Server X1 datasheet", text="Server X1 specs.",
                              doc_type="presentation", tags=["server"], owner=budi,
                              now=now - timedelta(days=10), source="upload",
                              status="published")
        record_read(s, budi, doc, now - timedelta(days=9))
        checkout.check_out(s, budi, doc.id, now=now - timedelta(days=2))
        checkout.check_in(s, budi, doc.id, text="Server X1 specs, new PSU.", note="new PSU option",
                    now=now - timedelta(days=2))
    rep = chat.as_user("budi")
    out = texts(await rep.say("/visit"))
    assert "Who did you meet" in out
    assert await live(rep, lat + 0.05, lon) == []  # 5 km away: nothing
    assert briefs(app) == []
    assert await live(rep, lat + 0.001, lon) == []  # 110 m: arrived, silent, brief queued
    assert await live(rep, lat + 0.0005, lon) == []
    rows = briefs(app)
    assert [r.key for r in rows] == [f"u{budi.id}|brief:{cid}:2026-03-02"]
    # the open flow is still waiting for its answer
    out = texts(await rep.say("hendro wibisono"))
    assert "How did the visit with Hendro Wibisono" in out or "what kind of contact" in out
    await rep.say("/cancel")
    text = deliver(app, rep, "fieldday.brief")
    assert "You are at PT Sinar Jaya Abadi." in text
    assert "📋 Brief: PT Sinar Jaya Abadi" in text
    assert "• Hendro Wibisono — " in text and "(decision maker)" in text
    assert "⏰ Follow-up due" in text and "Bring the revised price" in text
    assert "Deal: " in text and f"({product_word})" in text and "To reach " in text
    assert "📄 Server X1 datasheet changed since you opened version 1: v2: new PSU option" \
        in text
    assert "📄 Open Server X1 datasheet" in [b.label for b in rep.buttons]
    out = texts(await rep.press("📄 Open Server X1 datasheet"))
    assert "Server X1 datasheet" in out
    with app.db.session() as s:  # opening it is remembered: no change since, next time
        from core.models.fieldday import DocumentRead
        assert s.scalars(select(DocumentRead.version).where(
            DocumentRead.user_id == budi.id)).all() == [2]
    # the same day, arriving again: no second brief
    assert await live(rep, lat + 0.001, lon) == []
    assert len(briefs(app)) == 1
    with app.db.session() as s:
        me = s.scalars(select(User).where(User.login == "budi")).one()
        assert (me.last_lat, me.last_lon) == (lat + 0.001, lon)


async def test_technician_live_location_eta_then_arrived(app: App, chat: CollectingChat
                                                         ) -> None:
    maya, tono, agus = chat.as_user("maya"), chat.as_user("tono"), chat.as_user("agus")
    await create_p1(maya)
    job_id = latest_job_id(app)
    deliver(app, tono, "job.offer")
    await tono.press("Tolak")
    out = texts(await agus.say("/jobs"))
    await agus.press("Accept · 30 min")
    await agus.press("On my way")
    lat, lon = site_of(app, job_id)
    with app.db.session() as s:
        job = s.get(type(job_row(app, job_id)), job_id)
        rep_id = s.get(Company, job.company_id).owner_id
        rep_login = s.get(User, rep_id).login
    rep = chat.as_user(rep_login)
    asked = await agus.press("Arrived")
    assert asked[-1].ask_location == "📍 Share location"
    out = texts(await agus.say(f"https://www.google.com/maps/@{lat + 0.03},{lon},17z"))
    assert "km from the site" in out  # a pasted map link is a location here too
    await agus.say("/cancel")
    assert await live(agus, lat + 0.05, lon) == []  # 5.5 km away: on the way
    text = deliver(app, rep, "fieldday.tech_eta")
    assert f"is on the way to job #{job_id} at PT Sinar Jaya Abadi, expected about" in text \
        or f"dalam perjalanan ke pekerjaan #{job_id}" in text
    assert await live(agus, lat + 0.04, lon) == []  # the ETA is told once
    assert deliver(app, rep, "fieldday.tech_eta") == ""
    out = texts(await live(agus, lat + 0.001, lon))
    assert f"You reached the site of job #{job_id}" in out
    assert job_row(app, job_id).status == "on_site"
    text = deliver(app, rep, "job.arrived")
    assert f"#{job_id}" in text and "Agus Salim" in text
    assert await live(agus, lat, lon) == []  # already on site: nothing more
