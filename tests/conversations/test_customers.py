"""Customers and contacts from the chat (terminal door): /newcompany and /newcontact with the
duplicate check and its buttons, /newlead offering a new company, /editcontact, /merge."""

from __future__ import annotations

from sqlalchemy import func, select

from core.db import Database
from core.models import Activity, Company, Contact, Deal
from core.models.customers import MergeRecord
from tests.support.chat import CollectingChat, texts


def _count(database: Database, model, *where) -> int:
    with database.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def test_newcontact_in_one_line_with_a_new_company_on_the_way(
        chat: CollectingChat, database: Database) -> None:
    budi = chat.as_user("budi")
    r = await budi.say("/newcontact Hadi Effendi, purchasing at Utama Indah, 0812 3456 789")
    # "Indah" matches other companies partly: they are offered, with a new company
    assert "Which company?" in texts(r) and "Hadi" not in texts(r)
    r = await budi.press("➕ New company Utama Indah")
    assert "Which city is Utama Indah in?" in texts(r)
    r = await budi.say("Jakarta")
    out = texts(r)
    assert "✅ Utama Indah added." in out and "Territory: Jakarta · Owner: Budi Santoso" in out
    # the contact goes on at once (its phone was typed: nothing more to ask)
    assert "✅ Hadi Effendi added at Utama Indah." in out
    assert "Mobile: +628123456789" in out and "Role: Purchasing" in out
    with database.session() as s:
        hadi = s.scalars(select(Contact).where(Contact.name == "Hadi Effendi")).one()
        assert hadi.company.name == "Utama Indah" and hadi.department == "Purchasing"
    # the same person again: the duplicate is offered first
    r = await budi.say("/newcontact Hadi Efendi at Utama Indah")
    r = await budi.press("Skip") if "phone number or e-mail" in texts(r) else r
    assert "it may already be recorded" in texts(r)
    assert "• Hadi Effendi (Utama Indah) — a like name" in texts(r)
    r = await budi.press("Use Hadi Effendi (Utama Indah)")
    assert "👤 Hadi Effendi" in texts(r)
    assert _count(database, Contact, Contact.name.like("Hadi Ef%")) == 1
    # ... or created anyway
    await budi.say("/newcontact Hadi Efendi at Utama Indah, hadi2@utama.example")
    r = await budi.press("Create anyway")
    assert "✅ Hadi Efendi added at Utama Indah." in texts(r)
    assert _count(database, Contact, Contact.name.like("Hadi Ef%")) == 2


async def test_newcompany_checks_duplicates_and_refuses_bad_input(
        chat: CollectingChat, database: Database) -> None:
    sari = chat.as_user("andi")  # Bandung: Sinar Jaya (Jakarta) is out of his scope
    before = _count(database, Company)
    r = await sari.say("/newcompany")
    assert "What is the new company's name?" in texts(r)
    r = await sari.say("PT Sinar Jaya Abadii, Jakarta")
    assert "a record outside your territories — a like name; ask your manager" in texts(r)
    assert "Sinar Jaya Abadi " not in texts(r) and "Sinar Jaya Abadi\n" not in texts(r)
    r = await sari.say("something else")
    assert "Press one of the buttons" in texts(r)
    r = await sari.press("Cancel")
    assert "nothing was added" in texts(r)
    assert _count(database, Company) == before
    r = await sari.say("/newcompany Toko Baru, Bandung, 12, x@y.co")
    assert "\"12\" is not a phone number" in texts(r)
    r = await sari.say("/newcompany Toko Baru, Bandung, not-an-email@")
    assert "is not an e-mail address" in texts(r)
    assert _count(database, Company) == before
    r = await sari.say("/newcompany CV Toko Baru Sejahtera, Bandung, 022 555 0199")
    assert "✅ CV Toko Baru Sejahtera added." in texts(r)
    assert "Territory: Bandung" in texts(r)
    r = await sari.press("👤 Add a contact")
    assert "Who is the new contact?" in texts(r)
    tono = chat.as_user("agus")
    r = await tono.say("/newcompany Anything")
    assert "Your role cannot use that" in texts(r)


async def test_newlead_offers_a_new_company_when_nothing_matches_well(
        chat: CollectingChat, database: Database) -> None:
    budi = chat.as_user("budi")
    r = await budi.say("/newlead Baru Sejahtera Abadi Jaya")
    out = texts(r)
    assert "who is the contact?" not in out  # never matched silently to Sinar Jaya Abadi
    r = await budi.press("➕ New company Baru Sejahtera Abadi Jaya")
    assert "Which city is Baru Sejahtera Abadi Jaya in?" in texts(r)
    r = await budi.say("Jakarta")
    assert "✅ Baru Sejahtera Abadi Jaya added." in texts(r)
    assert "Baru Sejahtera Abadi Jaya: who is the contact?" in texts(r)
    await budi.press("No contact yet")
    await budi.say("10 laptops")
    r = await budi.press("Website")
    assert "Lead #" in texts(r) and "recorded" in texts(r)
    with database.session() as s:
        deal = s.scalars(select(Deal).order_by(Deal.id.desc())).first()
        assert deal.company.name == "Baru Sejahtera Abadi Jaya"


async def test_editcontact_changes_each_detail(chat: CollectingChat,
                                               database: Database) -> None:
    budi = chat.as_user("budi")
    r = await budi.say("/editcontact joko susilo")
    assert "👤 Joko Susilo" in texts(r) and "What do you want to change?" in texts(r)
    r = await budi.press("✉️ E-mail")
    r = await budi.say("not an email")
    assert "is not an e-mail address" in texts(r)
    r = await budi.say("Joko.S@Sinarjaya.example")
    assert "Saved." in texts(r) and "E-mail: joko.s@sinarjaya.example" in texts(r)
    await budi.press("💼 Job title")
    r = await budi.say("IT Manager")
    assert "Role: IT Manager, IT" in texts(r)
    await budi.press("🏢 Department")
    r = await budi.press("Finance")
    assert "Role: IT Manager, Finance" in texts(r)
    r = await budi.press("⭐ Decision maker: yes")
    assert "Decision maker: yes" in texts(r)
    await budi.press("📞 Phone")
    r = await budi.say("-")
    assert "Phone: -" in texts(r)
    r = await budi.press("✅ Done")
    assert "👤 Joko Susilo" in texts(r)
    with database.session() as s:
        joko = s.scalars(select(Contact).where(Contact.name == "Joko Susilo")).one()
        assert (joko.email, joko.job_title, joko.department, joko.is_decision_maker,
                joko.phone) == ("joko.s@sinarjaya.example", "IT Manager", "Finance", True,
                                None)
    # out of scope: Lina Halim is in Surabaya
    r = await budi.say("/editcontact Lina Halim")
    assert "I found no contact like" in texts(r)


async def test_merge_by_a_manager_keeps_the_history(chat: CollectingChat,
                                                    database: Database) -> None:
    budi = chat.as_user("budi")
    await budi.say("/newcontact Hendro W., at Sinar Jaya Abadi, hendro@gmail.example")
    r = await budi.press("Create anyway")
    assert "✅ Hendro W. added" in texts(r)
    r = await budi.say("/merge Hendro W.")
    assert "Your role cannot use that" in texts(r)
    with database.session() as s:
        dup = s.scalars(select(Contact).where(Contact.name == "Hendro W.")).one()
        s.add(Activity(user_id=dup.owner_id, company_id=dup.company_id, contact_id=dup.id,
                       kind="call", occurred_at=dup.created_at, created_at=dup.created_at))
        dup_id = dup.id
    maya = chat.as_user("maya")
    r = await maya.say("/merge Hendro W.")
    if "Which one is the duplicate?" in texts(r):
        r = await maya.press("👤 Hendro W.")
    assert "into which record?" in texts(r)
    r = await maya.press("👤 Hendro Wibisono")
    assert "Merge 👤 Hendro W. (Sinar Jaya Abadi) into 👤 Hendro Wibisono" in texts(r)
    r = await maya.press("Merge")
    assert "✅ Merged Hendro W. into the record kept; 1 record moved with it." in texts(r)
    with database.session() as s:
        assert s.get(Contact, dup_id) is None
        record = s.scalars(select(MergeRecord)).one()
        assert record.merged_name == "Hendro W." and record.moved == {"activities": 1}
    r = await maya.say("/editcontact Hendro Wibisono")
    assert "Merged with Hendro W. on" in texts(r) and "by Maya" in texts(r)


async def test_a_looked_up_contact_can_be_corrected_from_its_card(
        chat: CollectingChat, database: Database) -> None:
    budi = chat.as_user("budi")
    r = await budi.say("/contact Ratna Kusumawati")
    if "✏️ Edit" not in [b.label for b in budi.buttons]:
        r = await budi.press("Ratna Kusumawati")
    r = await budi.press("✏️ Edit")
    assert "What do you want to change?" in texts(r)
    await budi.press("📱 Mobile")
    r = await budi.say("0811 9999 000")
    assert "Mobile: +628119999000" in texts(r)
