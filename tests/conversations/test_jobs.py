"""Field-service jobs through the real engine: /newjob, offers, decline, late accept,
escalation with two managers, the technician's status flow, /jobs and the notices."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from bot.app import App
from bot.conversations.engine import encode_payload
from core import fieldservice as fs
from core.clock import ManualClock
from core.models import Company, NoticeRow, User
from core.models.fieldservice import JobOffer, ServiceJob
from tests.support.chat import ChatUser, CollectingChat, texts

pytestmark = pytest.mark.asyncio


def deliver(app: App, user: ChatUser, kind: str) -> str:
    """Render this user's pending notices of `kind` (what the scheduler would push) and
    make their buttons pressable; return the texts."""
    out = []
    with app.db.session() as session:
        uid = session.scalar(select(User.id).where(User.login == user.login))
        rows = session.scalars(select(NoticeRow).where(
            NoticeRow.recipient_user_id == uid, NoticeRow.kind == kind,
            NoticeRow.status == "pending").order_by(NoticeRow.id)).all()
        for row in rows:
            from bot.i18n import Translator

            recipient = session.get(User, uid)
            t = Translator(recipient.locale, recipient.timezone)
            reply = app.registry.notices[kind](session, row, recipient, t)
            row.status = "sent"
            if reply is None:
                continue
            out.append(reply.text)
            user.buttons = [replace(b, payload=encode_payload(b, None, 0))
                            for r in reply.buttons for b in r]
    return "\n".join(out)


def job_row(app: App, job_id: int) -> ServiceJob:
    with app.db.session() as session:
        job = session.get(ServiceJob, job_id)
        assert job is not None
        session.expunge(job)
        return job


def latest_job_id(app: App) -> int:
    with app.db.session() as session:
        return int(session.scalar(select(ServiceJob.id).order_by(ServiceJob.id.desc()).limit(1)))


def site_of(app: App, job_id: int) -> tuple[float, float]:
    job = job_row(app, job_id)
    assert job.site_lat is not None and job.site_lon is not None
    return job.site_lat, job.site_lon


async def create_p1(maya: ChatUser) -> str:
    out = texts(await maya.say("/newjob Sinar Jaya"))
    if "Which one?" in out:
        out = texts(await maya.press("PT Sinar Jaya Abadi"))
    assert "Which skill" in out
    assert "How urgent" in texts(await maya.press("Repair"))
    assert "When should" in texts(await maya.press("P1 urgent"))
    await maya.press("As soon as possible")
    await maya.say("Production server does not boot after a power cut")
    out = texts(await maya.press("Skip"))
    assert "Create this job?" in out and "Sinar Jaya Abadi" in out
    return texts(await maya.press("Create and dispatch"))


async def test_p1_job_declined_then_accepted_and_completed(app: App, chat: CollectingChat
                                                           ) -> None:
    maya, tono, agus = chat.as_user("maya"), chat.as_user("tono"), chat.as_user("agus")
    out = await create_p1(maya)
    job_id = latest_job_id(app)
    assert f"Job #{job_id} created and offered to Tono Sugiarto" in out

    # tono is nearer; in Indonesian (his language) he sees the offer and declines.
    out = deliver(app, tono, "job.offer")
    assert f"#{job_id}" in out and "Tolak" in [b.label for b in tono.buttons]
    out = texts(await tono.press("Tolak"))
    assert f"#{job_id}" in out
    with app.db.session() as session:
        offers = session.scalars(select(JobOffer).where(JobOffer.job_id == job_id)
                                 .order_by(JobOffer.id)).all()
        assert [o.status for o in offers] == ["declined", "pending"]

    # agus sees it under /jobs and accepts with a 30-minute ETA.
    out = texts(await agus.say("/jobs"))
    assert "New job offer" in out and "Your route today" in out
    out = texts(await agus.press("Accept · 30 min"))
    assert f"Job #{job_id} is yours" in out
    assert job_row(app, job_id).status == "assigned"
    # the manager who dispatched it hears it was taken, with the expected arrival
    taken = deliver(app, maya, "job.accepted")
    assert f"👍 Agus Salim took job #{job_id} at PT Sinar Jaya Abadi." in taken
    assert "Expected on site Mon 2 Mar 2026 09:30." in taken
    assert [b.label for b in maya.buttons] == ["Show job"]
    await agus.press("On my way")
    assert job_row(app, job_id).status == "en_route"

    # Arrived: a location 3 km away is refused, the site itself is accepted.
    out = texts(await agus.press("Arrived"))
    assert "Share your location" in out
    lat, lon = site_of(app, job_id)
    out = texts(await agus.share_location(lat + 0.03, lon))
    assert "km from the site" in out and job_row(app, job_id).status == "en_route"
    out = texts(await agus.share_location(lat + 0.001, lon))
    assert "On site" in out and job_row(app, job_id).status == "on_site"
    # the customer's rep hears the technician arrived
    assert not deliver(app, maya, "job.arrived")
    with app.db.session() as session:
        rep_login = session.scalar(select(User.login).join(
            Company, Company.owner_id == User.id).where(Company.name == "Sinar Jaya Abadi"))
    arrived = deliver(app, chat.as_user(rep_login), "job.arrived")
    assert (f"📍 Agus Salim arrived at PT Sinar Jaya Abadi for job #{job_id} at 09:00"
            in arrived) or (f"📍 Agus Salim sudah tiba di PT Sinar Jaya Abadi untuk pekerjaan "
                            f"#{job_id} pukul 09:00" in arrived)  # in the rep's language

    await agus.press("Done")
    out = texts(await agus.say("ok"))  # too short for a note
    assert "short note" in out
    await agus.say("Replaced the blown PSU fuse and tested the boot")
    await agus.say("2x fuse 5A, thermal paste")
    out = texts(await agus.upload("notes.txt", b"not a photo", "text/plain"))
    assert "not a photo" in out
    out = texts(await agus.upload("after.jpg", b"\xff\xd8\xff fake jpeg", "image/jpeg"))
    assert "not a photo" in out  # a JPEG header and nothing after it: not a picture
    out = texts(await agus.upload("after.jpg", _jpeg(), "image/jpeg"))
    assert f"Job #{job_id} is done" in out
    job = job_row(app, job_id)
    assert job.status == "done" and job.photo_name == "after.jpg"
    assert job.parts == [{"qty": 2, "item": "fuse 5A"}, {"qty": 1, "item": "thermal paste"}]

    # the manager and the account's rep are told.
    assert "completed by Agus Salim" in deliver(app, maya, "job.completed")
    with app.db.session() as session:
        owner = session.scalar(select(Company.owner_id).where(Company.name == "Sinar Jaya Abadi"))
        told = set(session.scalars(select(NoticeRow.recipient_user_id).where(
            NoticeRow.kind == "job.completed")))
    assert owner in told


async def test_late_accept_is_refused_and_job_moves_on(app: App, chat: CollectingChat,
                                                       clock: ManualClock) -> None:
    maya, tono = chat.as_user("maya"), chat.as_user("tono")
    await create_p1(maya)
    job_id = latest_job_id(app)
    deliver(app, tono, "job.offer")
    clock.advance(minutes=6)  # P1 offers time out after 5 minutes
    with app.db.session() as session:
        assert fs.expire_offers(session, clock.now()) == 1
    out = texts(await tono.press("Terima · 30 mnt"))
    assert "Terlambat" in out
    job = job_row(app, job_id)
    assert job.technician_id is None and job.status == "offered"
    with app.db.session() as session:
        statuses = [o.status for o in session.scalars(
            select(JobOffer).where(JobOffer.job_id == job_id).order_by(JobOffer.id))]
    assert statuses == ["expired", "pending"]


async def test_two_managers_assign_one_escalated_job_one_wins(
        app: App, chat: CollectingChat, clock: ManualClock) -> None:
    clock.advance(hours=8, minutes=30)  # 17:30 in Jakarta: nobody is on shift
    admin, maya = chat.as_user("admin"), chat.as_user("maya")
    out = await create_p1(admin)
    job_id = latest_job_id(app)
    assert "No technician took job" in out  # the creator sees the assign buttons at once
    assert job_row(app, job_id).status == "escalated"
    assert "please assign it by hand" in deliver(app, maya, "job.escalation")
    maya_buttons = list(maya.buttons)
    deliver(app, admin, "job.escalation")
    out = texts(await maya.press("Assign Tono"))
    assert f"Job #{job_id} assigned to Tono Sugiarto" in out
    out = texts(await admin.press("Assign Agus"))
    assert "already assigned to Tono Sugiarto (by Maya Wijaya)" in out
    job = job_row(app, job_id)
    assert job.status == "assigned"
    with app.db.session() as session:
        assert session.get(User, job.technician_id).login == "tono"  # type: ignore[union-attr]
    # An old escalation button pressed again changes nothing.
    maya.buttons = maya_buttons
    assert "already assigned" in texts(await maya.press("Assign Agus"))
    assert job_row(app, job_id).technician_id == job.technician_id
    # tono is told, in Indonesian, with status buttons.
    out = deliver(app, chat.as_user("tono"), "job.assigned")
    assert f"#{job_id}" in out


async def test_jobs_route_and_roles(app: App, chat: CollectingChat) -> None:
    tono = chat.as_user("tono")
    out = texts(await tono.say("/jobs"))
    assert "Rute Anda hari ini" in out
    budi = chat.as_user("budi")
    assert "cannot use" in texts(await budi.say("/newjob Sinar"))
    maya = chat.as_user("maya")
    out = texts(await maya.say("/jobs"))
    assert "Open service jobs" in out
    # A technician cannot act on a job that is not theirs.
    with app.db.session() as session:
        other = session.scalar(select(ServiceJob.id).join(
            User, User.id == ServiceJob.technician_id)
                               .where(User.login == "agus"))
    tono.buttons = [replace(b, payload=f"a|job.go|{other}") for b in tono.buttons[:1]]
    out = texts(await tono.press(tono.buttons[0].label))
    assert job_row(app, int(other)).status == "assigned"
    assert "Tidak ada pekerjaan" in out or "No such job" in out


async def test_newjob_bad_input(app: App, chat: CollectingChat) -> None:
    maya = chat.as_user("maya")
    assert "No customer of yours matches" in texts(await maya.say("/newjob zzzqqq"))
    await maya.say("PT Sinar Jaya Abadi")
    assert "Pick one of the skill buttons" in texts(await maya.say("plumbing"))
    await maya.say("repair")
    assert "Pick P1" in texts(await maya.say("P9"))
    await maya.say("P2")
    assert "Pick one of the time buttons" in texts(await maya.say("whenever"))
    assert "already passed" in texts(await maya.say("yesterday"))
    await maya.say("friday 10:00")  # typed: a two-hour window from then
    assert "3 to 2000" in texts(await maya.say("x"))
    await maya.say("Noisy fan")
    out = texts(await maya.say("skip"))
    assert "Window: Fri 6 Mar 2026 10:00 – Fri 6 Mar 2026 12:00" in out
    out = texts(await maya.press("Cancel"))
    assert "no job was created" in out
    with app.db.session() as session:
        assert session.scalar(select(ServiceJob.id).where(
            ServiceJob.description == "Noisy fan")) is None


async def test_running_late_drafts_a_delay_notice(app: App, chat: CollectingChat,
                                                  clock: ManualClock) -> None:
    agus = chat.as_user("agus")
    with app.db.session() as session:
        job_id = session.scalar(select(ServiceJob.id).join(
            User, User.id == ServiceJob.technician_id)
                                .where(User.login == "agus", ServiceJob.status == "assigned"))
    await agus.say("/jobs")
    await agus.press(f"Open #{job_id}")
    await agus.press("Running late")
    out = texts(await agus.press("In 4 h"))  # the window ends 4 h from the start of the day
    assert "New ETA" in out and "Delay notice" not in out
    clock.advance(hours=1)
    await agus.say("/jobs")
    await agus.press(f"Open #{job_id}")
    await agus.press("Running late")
    out = texts(await agus.press("In 4 h"))
    assert "Delay notice for" in out and "Dear" in out
    with app.db.session() as session:
        kinds = session.scalars(select(NoticeRow.kind).where(NoticeRow.kind == "job.delay")).all()
    assert kinds


async def test_location_share_updates_position_and_checks_in(app: App, chat: CollectingChat
                                                             ) -> None:
    # A technician's share outside a flow goes to job_location (a rep's to the visit check-in).
    assert app.registry.location_flow == "visit_checkin"
    agus = chat.as_user("agus")
    with app.db.session() as session:
        job_id = session.scalar(select(ServiceJob.id).join(
            User, User.id == ServiceJob.technician_id).where(User.login == "agus"))
    lat, lon = site_of(app, int(job_id))
    out = texts(await agus.share_location(lat + 0.2, lon))
    assert "Location noted" in out and job_row(app, int(job_id)).status == "assigned"
    with app.db.session() as session:
        me = session.scalar(select(User).where(User.login == "agus"))
        assert me is not None and me.last_lat == pytest.approx(lat + 0.2)
    out = texts(await agus.share_location(lat, lon + 0.001))
    assert f"On site at job #{job_id}" in out
    assert job_row(app, int(job_id)).status == "on_site"
    rep_out = texts(await chat.as_user("budi").share_location(lat, lon))
    assert "role cannot" not in rep_out and "On site" not in rep_out


async def test_cannot_complete_then_dispatch_again(app: App, chat: CollectingChat) -> None:
    maya, tono, agus = chat.as_user("maya"), chat.as_user("tono"), chat.as_user("agus")
    await create_p1(maya)
    job_id = latest_job_id(app)
    deliver(app, tono, "job.offer")
    await tono.press("Terima · 1 jam")
    await tono.press("Tidak bisa selesai")
    assert "mengapa" in texts(await tono.say("x"))  # too short: asked again
    out = texts(await tono.say("Power supply model not in stock"))
    assert f"#{job_id}" in out and job_row(app, job_id).status == "cannot_complete"
    # The stale offer notice renders as nothing now; the manager gets the failure.
    assert deliver(app, tono, "job.offer") == ""
    out = deliver(app, maya, "job.cannot_complete")
    assert "could not be completed by Tono Sugiarto: Power supply model not in stock" in out
    failed_buttons = list(maya.buttons)
    out = texts(await maya.press("Dispatch again"))
    assert f"Job #{job_id} is offered to Agus Salim now." in out
    job = job_row(app, job_id)
    assert job.status == "offered" and job.technician_id is None
    maya.buttons = failed_buttons  # pressed twice: refused, nothing changes
    assert "does not apply" in texts(await maya.press("Dispatch again"))
    assert "New job offer" in deliver(app, agus, "job.offer")


def _jpeg() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), "gray").save(buffer, "JPEG")
    return buffer.getvalue()
