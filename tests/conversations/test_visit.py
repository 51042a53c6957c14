"""Logging a visit in a few taps: activity, last contacted, follow-up, material, check-in."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from core.db import Database
from core.models import OPEN_STAGES, Activity, Company, Contact, Deal, FollowUp, MaterialSent
from tests.support.chat import CollectingChat, texts


async def test_common_visit_in_four_taps_and_one_line(chat: CollectingChat, database: Database,
                                                      clock) -> None:
    u = chat.as_user("budi")
    with database.session() as s:
        company = s.scalar(select(Company).where(Company.name == "Sinar Jaya Abadi"))
        open_deals = s.scalars(select(Deal.id).where(
            Deal.company_id == company.id,
            Deal.stage.in_([st.value for st in OPEN_STAGES]))).all()
    out = texts(await u.say("log visit hendro wibisno"))  # the one typed line (with a typo)
    assert "How did the visit with Hendro Wibisono (PT Sinar Jaya Abadi) go?" in out
    await u.press("👍 Positive")  # tap 1
    await u.press("Skip")  # tap 2
    out = texts(await u.press("Tomorrow"))  # tap 3
    assert "Saved: visit with Hendro Wibisono" in out
    assert "Next step on Tue 3 Mar 2026 09:00" in out
    with database.session() as s:
        act = s.scalar(select(Activity))
        assert act.kind == "visit" and act.outcome == "positive" and act.notes is None
        assert act.occurred_at == clock.now()
        follow = s.scalar(select(FollowUp))
        assert follow.kind == "follow_up" and follow.status == "open"
        # 09:00 in Jakarta (UTC+7) is 02:00 UTC.
        assert follow.due_at == datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
        assert follow.activity_id == act.id and follow.company_id == company.id
        hendro = s.scalar(select(Contact).where(Contact.name == "Hendro Wibisono"))
        assert hendro.last_contacted_at == clock.now()
        assert s.get(Company, company.id).last_contacted_at == clock.now()
        for deal_id in open_deals:
            assert s.get(Deal, deal_id).last_activity_at == clock.now()
    # check in by sharing a location (tap 4) after the flow ended
    out = texts(await u.share_location(-6.21, 106.82))
    assert "Checked in at your visit to PT Sinar Jaya Abadi" in out
    with database.session() as s:
        act = s.scalar(select(Activity))
        assert (act.lat, act.lon) == (-6.21, 106.82)


async def test_visit_with_kind_notes_and_picked_date_in_indonesian(
        chat: CollectingChat, database: Database) -> None:
    u = chat.as_user("sari")  # Indonesian
    out = texts(await u.say("/visit Sinar Jaya"))
    assert "Siapa di PT Sinar Jaya Abadi?" in out
    await u.press("Ratna Kusumawati")
    out = texts(await u.press("Rapat"))
    assert "Bagaimana hasil rapat dengan Ratna Kusumawati" in out
    await u.press("😐 Netral")
    out = texts(await u.say("Minta penawaran ulang untuk 20 laptop"))
    assert "Langkah berikutnya" in out
    out = texts(await u.press("Pilih tanggal"))
    out = texts(await u.say("kapan-kapan"))
    assert "tidak bisa membaca" in out
    out = texts(await u.say("kemarin"))
    assert "sudah lewat" in out
    out = texts(await u.say("1/3/2026"))
    assert "sudah lewat" in out
    out = texts(await u.say("10/3 14:30"))
    assert "Tersimpan: rapat dengan Ratna Kusumawati" in out
    with database.session() as s:
        act = s.scalar(select(Activity))
        assert act.kind == "meeting" and act.notes == "Minta penawaran ulang untuk 20 laptop"
        follow = s.scalar(select(FollowUp))
        assert follow.kind == "meeting"
        assert follow.due_at == datetime(2026, 3, 10, 7, 30, tzinfo=UTC)


async def test_bad_input_and_cancel_leave_nothing(chat: CollectingChat,
                                                  database: Database) -> None:
    u = chat.as_user("budi")
    out = texts(await u.say("/visit"))
    assert "Who did you meet" in out
    out = texts(await u.say("zzqx qqzz"))
    assert "found nobody" in out
    await u.say("Hendro Wibisono")
    out = texts(await u.say("teleport"))
    assert "Please tap one" in out
    await u.press("Call")
    out = texts(await u.say("great"))
    assert "Please tap one of the outcomes" in out
    out = texts(await u.say("not reached"))  # typed instead of tapped
    assert "Any notes?" in out
    await u.say("x" * 2100)
    await u.say("/cancel")
    with database.session() as s:
        assert s.scalar(select(Activity)) is None
        assert s.scalar(select(FollowUp)) is None


async def test_material_from_visit_and_rep_scope(chat: CollectingChat,
                                                 database: Database) -> None:
    u = chat.as_user("budi")
    await u.say("log call with Hendro Wibisono")
    await u.press("👍 Positive")
    await u.press("Skip")
    out = texts(await u.press("No next step"))
    assert "Saved: call with Hendro Wibisono" in out and "check in" not in out
    out = texts(await u.press("Brochure sent"))
    assert "Which product's brochure" in out
    out = texts(await u.say("laptop pro"))
    assert "Recorded: brochure for Laptop Pro 14 sent to Hendro Wibisono" in out
    with database.session() as s:
        row = s.scalar(select(MaterialSent))
        assert row.product_sku == "LAP-PRO" and row.material == "brochure:LAP-PRO"
        assert s.scalar(select(FollowUp)) is None
    # a location with no recent visit checks nothing in: it lists the customers near there
    out = texts(await u.share_location(-6.2, 106.8))
    assert "Checked in" not in out and "Customers near you:" in out
    # budi cannot log a visit at a Surabaya customer
    out = texts(await u.say("log visit Bambang Hartono"))
    assert "Bambang Hartono ·" not in "".join(b.label for b in u.buttons)
    assert "How did the visit" not in out


async def test_the_visit_form_on_a_door_without_forms(chat: CollectingChat,
                                                      database: Database) -> None:
    from bot.conversations.messages import FormReply, form_file

    u = chat.as_user("budi")
    replies = await u.say("log visit hendro wibisono")
    offer = replies[-1]
    assert isinstance(offer, FormReply) and offer.form is not None
    assert [f.name for f in offer.form.fields] == ["kind", "outcome", "notes", "next_date"]
    # The console shows the form's button; pressing it asks the same question in text.
    replies = await u.press("📝 All in one form")
    assert "How did the visit with Hendro Wibisono (PT Sinar Jaya Abadi) go?" in texts(replies)
    assert [b.label for b in u.buttons] == ["👍 Positive", "😐 Neutral", "👎 Not interested",
                                            "📵 Not reached"]
    await u.press("😐 Neutral")
    await u.say("Asked for the price list")
    assert "Saved: visit" in texts(await u.press("No next step"))
    # Values submitted with a form's button (what the Slack door sends) save in one step; a
    # past date is refused with the form again, filled in, and nothing is written.
    replies = await u.say("log call hendro wibisono")
    button = u.find("📝 All in one form")
    values = {"kind": "call", "outcome": "positive", "notes": "Call back",
              "next_date": "2026-02-01"}
    replies = await u.send(u.incoming(button=button.payload, file=form_file(values)))
    assert "That date is in the past" in texts(replies)
    again = replies[-1]
    assert isinstance(again, FormReply) and again.form is not None
    assert {f.name: f.initial for f in again.form.fields} == values
    with database.session() as s:
        assert len(s.scalars(select(Activity)).all()) == 1
    replies = await u.send(u.incoming(button=u.find("📝 All in one form").payload,
                                      file=form_file({**values, "next_date": "2026-03-09"})))
    assert "Saved: call with Hendro Wibisono" in texts(replies)
    assert "Next step on Mon 9 Mar 2026 09:00" in texts(replies)
    with database.session() as s:
        act = s.scalar(select(Activity).order_by(Activity.id.desc()).limit(1))
        assert (act.kind, act.outcome, act.notes) == ("call", "positive", "Call back")
