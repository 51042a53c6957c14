"""Issue 21 on Telegram, through the real PTB stack and the fake Bot API: a contact added in one
line with its duplicate check; the manager's inbox; a quote accepted later; the invite deep
link from getMe's username and its QR code; contact cards as native contacts with the .vcf
one tap away; "uploading document…" / "uploading photo…" while a PDF or a chart is made."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from bot.app import App
from bot.handlers.telegram import TelegramDoor
from core import approvals
from core.models import (
    ApprovalRequest,
    Company,
    Contact,
    Deal,
    DealStageChange,
    InviteCode,
    User,
)
from core.models.customers import BotProfile
from core.models.quotes import Quote
from tests.handlers.fake_telegram import FakeTelegram
from tests.handlers.telegram_fixtures import door_fixture, fake_fixture, link  # noqa: F401
from tests.handlers.test_telegram_scenarios import TgUser

BUDI = FakeTelegram.user(7101, "Budi")
MAYA = FakeTelegram.user(7103, "Maya")
ADMIN = FakeTelegram.user(7109, "Ayu")


def person(app: App, fake: FakeTelegram, login: str, user: dict) -> TgUser:
    link(app, login, user)
    return TgUser(fake, user)


async def test_newcontact_with_its_duplicate_check(app: App, fake: FakeTelegram,
                                                   door: TelegramDoor) -> None:
    budi = person(app, fake, "budi", BUDI)
    out = await budi.say("/newcontact Hadi Effendi, purchasing at Sinar Jaya Abadi, "
                         "0812 3456 789")
    assert "✅ Hadi Effendi added at PT Sinar Jaya Abadi." in out
    out = await budi.say("/newcontact Hadi Efendi, at Sinar Jaya Abadi, 0812 3456 789")
    assert "it may already be recorded" in out
    out = await budi.press("Use Hadi Effendi (PT Sinar Jaya Abadi)")
    assert "👤 Hadi Effendi" in out
    with app.db.session() as s:
        assert s.scalar(select(Contact.id).where(Contact.name == "Hadi Efendi")) is None


async def test_the_inbox_and_a_quote_accepted_later(app: App, fake: FakeTelegram,
                                                    door: TelegramDoor) -> None:
    maya, budi = person(app, fake, "maya", MAYA), person(app, fake, "budi", BUDI)
    with app.db.session() as s:
        requester = s.scalars(select(User).where(User.login == "budi")).one()
        request = approvals.request_approval(
            s, kind="discount", ref_id=980_001, requester=requester,
            now=app.clock.now() - timedelta(hours=1), amount=Decimal("90000000"),
            details={"discount_pct": "14", "quote_number": "Q-2026-980"})
        request_id = request.id
    out = await maya.say("/approvals")
    assert "1 request waits for your decision (oldest first):" in out
    assert "Discount approval: 14% on quote Q-2026-980" in out
    out = await maya.press("Approve")
    assert "✅ Approved" in out
    with app.db.session() as s:
        assert s.get(ApprovalRequest, request_id).status == "approved"
    # a quote made now, accepted later from /quote Q-...
    out = await budi.say("/quote Sinar Jaya")
    if "For which deal" in out:
        out = await budi.press("No deal")
    await budi.say("2 laptop pro")
    out = await budi.press("Create PDF quote")
    actions = [c.params.get("action") for c in fake.calls_of("sendChatAction")]
    assert "upload_document" in actions  # shown while the PDF was made
    with app.db.session() as s:
        number = s.scalars(select(Quote.number).order_by(Quote.id.desc())).first()
    await budi.say("/whoami")
    out = await budi.say(f"/quote {number}")
    assert f"{number} v1" in out
    out = await budi.press("Accept (order)")
    assert "Order SO-2026-" in out


async def test_invite_deep_link_and_qr_code(app: App, fake: FakeTelegram,
                                            door: TelegramDoor) -> None:
    with app.db.session() as s:  # the door kept getMe's username when it started
        assert s.get(BotProfile, "telegram").username == "sfa_test_bot"
    admin = person(app, fake, "admin", ADMIN)
    out = await admin.say("/invite andi")
    with app.db.session() as s:
        code = s.scalars(select(InviteCode.code).order_by(InviteCode.created_at.desc())).first()
    assert f"https://t.me/sfa_test_bot?start={code}" in out
    before = len(fake.calls_of("sendPhoto"))
    await admin.press("QR code")
    photo = fake.calls_of("sendPhoto")[before]
    assert photo.params["photo"]["data"].startswith(b"\x89PNG")
    assert f"https://t.me/sfa_test_bot?start={code}" in photo.params["caption"]
    # the new user opens the link: Telegram sends /start CODE
    andi = FakeTelegram.user(7120, "Andi")
    before = len(fake.sent_to(andi["id"]))
    fake.send_text(andi, f"/start {code}")
    await fake.wait_for(lambda: len(fake.sent_to(andi["id"])) > before, 10)
    assert "Welcome, Andi Pratama!" in fake.sent_to(andi["id"])[-1]["text"]


async def test_contact_card_as_a_native_contact_and_the_vcf(app: App, fake: FakeTelegram,
                                                            door: TelegramDoor) -> None:
    budi = person(app, fake, "budi", BUDI)
    out = await budi.say("/editcontact Hendro Wibisono")
    await budi.press("✅ Done")
    await budi.press("vCard")
    contact = fake.calls_of("sendContact")[-1].params
    assert contact["first_name"] == "Hendro" and contact["last_name"] == "Wibisono"
    assert contact["phone_number"] and "BEGIN:VCARD" in contact["vcard"]
    await budi.press("📎 .vcf file")
    document = fake.calls_of("sendDocument")[-1].params
    assert document["document"]["filename"] == "Hendro-Wibisono.vcf"
    assert b"BEGIN:VCARD" in document["document"]["data"]
    assert out  # the edit card was shown


async def test_a_chart_is_announced_as_a_photo_upload(app: App, fake: FakeTelegram,
                                                      door: TelegramDoor) -> None:
    maya = person(app, fake, "maya", MAYA)
    with app.db.session() as s:
        budi = s.scalars(select(User).where(User.login == "budi")).one()
        company = s.scalars(select(Company)).first()
        deal = Deal(title="won", company_id=company.id, owner_id=budi.id, team_id=budi.team_id,
                    stage="order_placed", amount=Decimal("125000000"), currency="IDR",
                    facts={}, created_at=app.clock.now(), updated_at=app.clock.now())
        s.add(deal)
        s.flush()
        s.add(DealStageChange(deal_id=deal.id, user_id=budi.id, from_stage="solution",
                              to_stage="order_placed", at=app.clock.now() - timedelta(hours=1)))
    await maya.say("/report won by rep this quarter")
    assert any("photo" in m for m in fake.sent_to(maya.chat))
    actions = [(c.params.get("chat_id"), c.params.get("action"))
               for c in fake.calls_of("sendChatAction")]
    assert (str(MAYA["id"]), "upload_photo") in [(str(c), a) for c, a in actions]


async def test_newlead_adds_a_new_company_on_the_way(app: App, fake: FakeTelegram,
                                                    door: TelegramDoor) -> None:
    budi = person(app, fake, "budi", BUDI)
    out = await budi.say("/newlead Baru Sejahtera Abadi Jaya")
    assert "who is the contact?" not in out
    out = await budi.press("➕ New company Baru Sejahtera Abadi Jaya")
    assert "Which city is Baru Sejahtera Abadi Jaya in?" in out
    out = await budi.say("Jakarta")
    assert "✅ Baru Sejahtera Abadi Jaya added." in out
    assert "Baru Sejahtera Abadi Jaya: who is the contact?" in out
    out = await budi.press("No contact yet")
    out = await budi.say("Ten laptops for the sales office")
    out = await budi.press("Referral")
    assert "Lead #" in out and "recorded" in out


async def test_resolving_a_complaint_drafts_the_letter(app: App, fake: FakeTelegram,
                                                      door: TelegramDoor) -> None:
    budi = person(app, fake, "budi", BUDI)
    await budi.say("/complaint Sinar Jaya Abadi")
    await budi.say("The delivered monitors flicker")
    await budi.press("High")
    out = await budi.press("Me")
    assert "registered" in out
    await budi.press("Resolve")
    out = await budi.say("Replaced all five monitors on site")
    assert "A letter for the customer, ready to send:" in out
    assert "What we did: Replaced all five monitors on site" in out
