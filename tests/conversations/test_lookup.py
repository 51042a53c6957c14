"""Lookup questions in plain words (EN + ID) on the seeded demo world, through the engine."""

from __future__ import annotations

import pytest

from core import activities
from core.db import Database
from core.models import Company, Contact, MaterialSent, User
from tests.support.chat import CollectingChat, texts


def _ids(database: Database, login: str = "budi") -> tuple[int, int, int]:
    with database.session() as s:
        user = s.query(User).filter_by(login=login).one()
        company = s.query(Company).filter_by(name="Sinar Jaya Abadi").one()
        hendro = s.query(Contact).filter_by(name="Hendro Wibisono").one()
        return user.id, company.id, hendro.id


@pytest.mark.parametrize("question", [
    "who handles Sinar Jaya?",
    "who handles PT Sinar Jaya Abadi",
    "siapa yang menangani Sinar Jaya?",
    "who handles sinar jya abadi?",  # typo
    "who handles Jaya Sinar",  # word order
])
async def test_who_handles_company(chat: CollectingChat, question: str) -> None:
    u = chat.as_user("budi")
    out = texts(await u.say(question))
    assert "PT Sinar Jaya Abadi is handled by" in out or "PT Sinar Jaya Abadi ditangani" in out
    assert "Hendro Wibisono" in out  # the decision maker


@pytest.mark.parametrize("question, expect, absent", [
    ("who handles Sinar Jaya's purchasing department?", "Hendro Wibisono", "Ratna"),
    ("who handles finance at Sinar Jaya?", "Ratna Kusumawati", "Hendro"),
    ("siapa yang menangani bagian keuangan Sinar Jaya?", "Ratna Kusumawati", "Hendro"),
    ("siapa pic IT di Sinar Jaya Abadi?", "Joko Susilo", "Ratna"),
])
async def test_who_handles_department(chat: CollectingChat, question: str, expect: str,
                                      absent: str) -> None:
    out = texts(await chat.as_user("budi").say(question))
    assert expect in out
    assert absent not in out


async def test_what_is_company_en_and_id(chat: CollectingChat) -> None:
    out = texts(await chat.as_user("budi").say("what is Sinar Jaya?"))
    assert "PT Sinar Jaya Abadi" in out and "Manufacturing" in out
    assert "Territory: Jakarta" in out and "850 employees" in out
    assert "open deal" in out or "No open deals." in out
    out = texts(await chat.as_user("sari").say("apa itu Sinar Jaya?"))
    assert "Manufacturing" in out and "Wilayah: Jakarta" in out


async def test_billing_question(chat: CollectingChat, database: Database) -> None:
    with database.session() as s:
        c = s.query(Company).filter_by(name="Sinar Jaya Abadi").one()
        billing, office = c.billing_address, c.billing_office
    out = texts(await chat.as_user("budi").say("where does Sinar Jaya's bill go?"))
    assert billing in out and office in out and "Bills go to" in out
    out = texts(await chat.as_user("sari").say("kantor mana yang membayar Sinar Jaya?"))
    assert billing in out and "Tagihan dikirim ke" in out


async def test_contact_and_phone_with_vcard(chat: CollectingChat) -> None:
    u = chat.as_user("budi")
    out = texts(await u.say("who is Sinar Jaya's contact?"))
    assert "Hendro Wibisono" in out and "Ratna Kusumawati" in out and "+62" in out
    replies = await u.press("vCard Hendro")
    card = replies[0].attachment
    assert card is not None and card.mime == "text/vcard"
    assert b"FN:Hendro Wibisono" in card.data and b"ORG:Sinar Jaya Abadi" in card.data
    out = texts(await u.say("nomor telepon Hendro Wibisono"))
    assert "Hendro Wibisono" in out and "+62" in out


@pytest.mark.parametrize("query", [
    "hendro wibisno",  # typo
    "Wibisono Hendro",  # word order
    "Hêndro Wîbisono",  # extra diacritics
    "wibis",  # partial
    "/find hendro",
    "/contact Hendro W",
])
async def test_fuzzy_lookup_finds_hendro(chat: CollectingChat, query: str) -> None:
    u = chat.as_user("budi")
    out = texts(await u.say(query))
    assert "Hendro Wibisono" in out and "Purchasing Manager" in out


async def test_phone_in_any_format(chat: CollectingChat, database: Database) -> None:
    with database.session() as s:
        mobile = s.query(Contact).filter_by(name="Hendro Wibisono").one().mobile
    digits = "".join(ch for ch in mobile if ch.isdigit())  # 62812...
    local = "0" + digits[2:]
    for typed in (mobile, local, f"{local[:4]}-{local[4:8]}-{local[8:]}", "+" + digits):
        out = texts(await chat.as_user("budi").say(typed))
        assert "Hendro Wibisono" in out, typed


async def test_did_you_mean_when_not_clear(chat: CollectingChat) -> None:
    u = chat.as_user("admin")
    out = texts(await u.say("/find jaya"))
    assert "Did you mean" in out
    assert len(u.buttons) >= 3
    first = u.buttons[0].label
    out = texts(await u.press(first))
    assert first.split(" · ")[0] in out


async def test_rep_cannot_see_other_territory(chat: CollectingChat) -> None:
    # Nusantara Logistik is in Surabaya: budi (Jakarta) is told another team handles it, and
    # nothing of it (no owner, no contact), dewi sees it.
    budi = chat.as_user("budi")
    out = texts(await budi.say("who handles Nusantara Logistik?"))
    assert "is handled by another team" in out and "spelling" not in out
    assert "Dewi" not in out and "Rizky" not in out and "Contacts" not in out
    assert not any("Logistik" in b.label for b in budi.buttons)
    out = texts(await budi.say("/find Bambang Hartono"))
    assert "Operations Manager" not in out
    assert not any("Bambang Hartono · PT Nusantara" in b.label for b in budi.buttons)
    out = texts(await budi.say("/find Lina Halim"))
    assert "Procurement Officer" not in out
    out = texts(await chat.as_user("dewi").say("who handles Nusantara Logistik?"))
    assert "PT Nusantara Logistik" in out
    out = texts(await chat.as_user("maya").say("what is Nusantara Logistik"))
    assert "Logistics" not in out  # maya manages Java West, not Surabaya


async def test_last_and_next_contact(chat: CollectingChat, database: Database,
                                     clock) -> None:
    u = chat.as_user("budi")
    out = texts(await u.say("when did I last contact Sinar Jaya?"))
    assert "Nobody has logged any contact" in out
    with database.session() as s:
        user = s.get(User, _ids(database)[0])
        company = s.query(Company).filter_by(name="Sinar Jaya Abadi").one()
        hendro = s.query(Contact).filter_by(name="Hendro Wibisono").one()
        activities.log_activity(s, user, company=company, contact=hendro, kind="call",
                                outcome="positive", notes=None, now=clock.now(),
                                next_due=activities.due_for("tomorrow", user.timezone,
                                                            clock.now()))
    out = texts(await u.say("when did I last contact Sinar Jaya?"))
    assert "You last contacted PT Sinar Jaya Abadi on Mon 2 Mar 2026 (call)" in out
    out = texts(await u.say("when is my next contact with Hendro Wibisono?"))
    assert "Tue 3 Mar 2026 09:00" in out
    out = texts(await chat.as_user("sari").say("kapan terakhir saya menghubungi Sinar Jaya?"))
    assert "Budi Santoso" in out  # sari has not, budi has
    out = texts(await chat.as_user("sari").say("kapan kontak berikutnya dengan Sinar Jaya?"))
    assert "Sinar Jaya" in out


async def test_brochure_log_and_targets(chat: CollectingChat, database: Database,
                                        clock) -> None:
    u = chat.as_user("budi")
    out = texts(await u.say("which customers should be targeted for promotion of product "
                            "SRV-X1?"))
    assert "PT Sinar Jaya Abadi" in out and "industry fits" in out
    out = texts(await u.say("I sent the brochure for SRV-X1 to Hendro Wibisono"))
    assert "Recorded" in out and "Server X1" in out
    with database.session() as s:
        row = s.query(MaterialSent).one()
        assert row.product_sku == "SRV-X1"
        assert s.get(Contact, row.contact_id).name == "Hendro Wibisono"
    out = texts(await u.say("who already got the brochure for Server X1?"))
    assert "Hendro Wibisono" in out and "Budi Santoso" in out and "Mon 2 Mar 2026" in out
    out = texts(await u.say("which customers should be targeted for promotion of SRV-X1?"))
    assert "PT Sinar Jaya Abadi" not in out  # already has the brochure
    out = texts(await chat.as_user("sari").say("siapa yang sudah menerima brosur SRV-X1?"))
    assert "Hendro Wibisono" in out
    out = texts(await chat.as_user("sari").say("pelanggan mana yang ditargetkan untuk "
                                                "promosi SRV-X1?"))
    assert "industri cocok" in out
    out = texts(await u.say("who got the brochure for Quantum Toaster 9000?"))
    assert "I know no product" in out


@pytest.mark.parametrize("login, question, expect", [
    ("budi", "who is Sinar Jaya's sales agent?", "PT Sinar Jaya Abadi is handled by"),
    ("budi", "phone number of Ratna Kusumawati", "Ratna Kusumawati"),
    ("sari", "siapa sales Sinar Jaya?", "PT Sinar Jaya Abadi ditangani oleh"),
    ("budi", "contacts at Sinar Jaya Abadi", "Contacts at PT Sinar Jaya Abadi:"),
    ("sari", "siapa kontak di Sinar Jaya Abadi?", "Kontak di PT Sinar Jaya Abadi:"),
    ("sari", "no hp Joko Susilo berapa?", "Joko Susilo"),
    ("sari", "info Sinar Jaya", "Wilayah: Jakarta"),
    ("sari", "alamat tagihan Sinar Jaya", "Kantor yang membayar:"),
    ("maya", "who handles Maju Bersama?", "CV Maju Bersama is handled by"),  # team scope
])
async def test_more_phrasings(chat: CollectingChat, login: str, question: str,
                              expect: str) -> None:
    out = texts(await chat.as_user(login).say(question))
    assert expect in out


async def test_company_command_asks_then_answers(chat: CollectingChat) -> None:
    u = chat.as_user("budi")
    out = texts(await u.say("/company"))
    assert "Which company?" in out
    out = texts(await u.say("sinar jaya"))
    assert "🏢 PT Sinar Jaya Abadi" in out
    out = texts(await u.press("Hendro Wibisono"))
    assert "Purchasing Manager" in out and "Decision maker" in out


async def test_targets_for_who_should_i_target(chat: CollectingChat) -> None:
    out = texts(await chat.as_user("budi").say("who should I target for laptop pro?"))
    assert "Customers to target for Laptop Pro 14" in out
