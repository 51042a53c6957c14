"""Documents say what is true: a price table whose VAT wording agrees with its totals; no
meeting thanked for that is not in the history; an Indonesian template makes an Indonesian
document to its footer, whoever asks; a placeholder the data cannot fill is asked for in
chat (in words, never its name), or the chat says what to do first."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from bot.app import App
from core.activities import log_activity
from core.knowledge import add_document
from core.models import Company, Contact, Deal, User
from core.models.quotes import Quote, QuoteVersion
from core.proposals import TEMPLATE_TYPE
from tests.support.chat import ChatUser, CollectingChat, texts

CUSTOMER = "Truthful Trading"


@pytest.fixture
def deal(app: App) -> dict[str, int]:
    """Budi's demo deal that has a quote, its customer renamed; a contact with no
    department."""
    with app.db.session() as s:
        budi = s.scalars(select(User).where(User.login == "budi")).one()
        quote = s.scalars(select(Quote).join(Deal, Deal.id == Quote.deal_id)
                          .where(Deal.owner_id == budi.id).limit(1)).one()
        row = s.get(Deal, quote.deal_id)
        assert row is not None and row.contact_id is not None
        company = s.get(Company, row.company_id)
        contact = s.get(Contact, row.contact_id)
        assert company is not None and contact is not None
        company.name, row.title = CUSTOMER, "Truth deal"
        contact.department = None
        return {"deal": row.id, "company": company.id, "quote": quote.id, "budi": budi.id}


def template(app: App, title: str, text: str, language: str = "en") -> None:
    with app.db.session() as s:
        admin = s.scalars(select(User).where(User.login == "admin")).one()
        add_document(s, title=title, text=text, owner=admin, now=app.clock.now(),
                     doc_type=TEMPLATE_TYPE, status="published", language=language)


async def make(user: ChatUser, title: str):
    await user.say("/cancel")
    await user.say(f"proposal for {CUSTOMER}")
    if any(b.label.startswith(CUSTOMER[:20]) for b in user.buttons):  # several deals
        await user.press(next(b.label for b in user.buttons if "Truth deal" in b.label))
    return await user.press(title)


def pdf_text(replies) -> str:
    data = next(r.attachment for r in replies if r.attachment is not None).data
    pages = PdfReader(io.BytesIO(data)).pages
    return " ".join(" ".join(page.extract_text() for page in pages).split())


async def test_the_price_table_and_its_vat_wording_agree(app: App, chat: CollectingChat,
                                                         deal: dict[str, int]) -> None:
    template(app, "Offer letter", "{{ price_table }}")
    text = pdf_text(await make(chat.as_user("budi"), "Offer letter"))
    with app.db.session() as s:
        quote = s.get(Quote, deal["quote"])
        assert quote is not None
        version = s.scalars(select(QuoteVersion).where(
            QuoteVersion.quote_id == quote.id,
            QuoteVersion.number == quote.current_version)).one()
        net = Decimal(version.subtotal) - Decimal(version.discount_total)
        lines = sum(Decimal(line.net) for line in version.lines)
        tax, total = Decimal(version.tax_total), Decimal(version.total)
    assert lines == net and net + tax == total  # what the wording below claims
    assert f"Total before VAT: IDR {net:,.0f}" in text
    assert f"VAT: IDR {tax:,.0f}" in text
    assert f"Total including VAT: IDR {total:,.0f}" in text


async def test_a_meeting_is_mentioned_only_when_it_is_in_the_history(
        app: App, chat: CollectingChat, deal: dict[str, int]) -> None:
    template(app, "Meeting letter", "{% if last_meeting %}Thank you for meeting us on "
             "{{ last_meeting }}.{% else %}Thank you for your interest.{% endif %}")
    template(app, "Careless letter", "Thank you for meeting us on {{ last_meeting }}.")
    budi = chat.as_user("budi")
    text = pdf_text(await make(budi, "Meeting letter"))
    assert "Thank you for your interest." in text and "meeting us" not in text
    out = texts(await make(budi, "Careless letter"))
    assert "no visit or meeting with them is in the history" in out
    assert "last_meeting" not in out
    with app.db.session() as s:
        user = s.get(User, deal["budi"])
        company = s.get(Company, deal["company"])
        assert user is not None and company is not None
        log_activity(s, user, company=company, contact=None, kind="meeting",
                     outcome="positive", notes=None, now=app.clock.now())
    text = pdf_text(await make(budi, "Meeting letter"))
    assert "Thank you for meeting us on 2 March 2026." in text


async def test_an_indonesian_template_is_indonesian_to_its_footer(
        app: App, chat: CollectingChat, deal: dict[str, int]) -> None:
    template(app, "Surat penawaran singkat", "Yth. {{ kontak }}\n\n{{ tabel_harga }}\n\n"
             "Berlaku sampai {{ quote.valid_until }}.", language="id")
    text = pdf_text(await make(chat.as_user("budi"), "Surat penawaran singkat"))  # English rep
    assert "Disiapkan oleh Budi Santoso pada" in text
    assert "DRAF — isi data perusahaan Anda dengan sfa org set" in text
    assert "Total termasuk PPN: Rp" in text and "Berlaku sampai" in text
    for english in ("Prepared by", "DRAFT", "Total including VAT", "IDR", "Phone"):
        assert english not in text, english


async def test_a_missing_value_is_asked_for_in_chat(app: App, chat: CollectingChat,
                                                    deal: dict[str, int]) -> None:
    template(app, "Letter to a department", "To the {{ contact.department }} department of "
             "{{ customer.name }}, attention {{ contact.name }} ({{ customer.ceo }}).")
    budi = chat.as_user("budi")
    out = texts(await make(budi, "Letter to a department"))
    assert "The document needs the contact's department" in out
    assert "contact.department" not in out and "{{" not in out
    out = texts(await budi.say("Procurement"))
    assert "customer" in out and "ceo" in out  # a field the data model does not know: words
    replies = await budi.press("Leave out")
    text = pdf_text(replies)
    assert f"To the Procurement department of {CUSTOMER}" in text and "()" in text
    assert "{{" not in text and "None" not in text


async def test_no_quote_yet_offers_to_make_it(app: App, chat: CollectingChat,
                                             deal: dict[str, int]) -> None:
    with app.db.session() as s:
        row = s.get(Deal, deal["deal"])
        assert row is not None
        s.query(QuoteVersion).filter(QuoteVersion.quote_id == deal["quote"]).delete()
        s.query(Quote).filter(Quote.id == deal["quote"]).delete()
        row.facts = {k: v for k, v in (row.facts or {}).items() if k != "quote_id"}
    template(app, "Offer letter", "{{ price_table }}")
    budi = chat.as_user("budi")
    out = texts(await make(budi, "Offer letter"))
    assert "the deal has no quote yet" in out and "price_table" not in out
    out = texts(await budi.press("Make the quote now"))
    assert "Which products?" in out
