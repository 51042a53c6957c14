"""Proposals from templates (sandboxed, placeholders filled or named, syntax errors with the
line), the PDF text, and mailing suggestions against a hand-computed list."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from bot.documents.proposal_pdf import proposal_pdf
from bot.documents.words import TemplateWords
from bot.i18n import Translator
from core import mailing, proposals
from core.clock import ManualClock
from core.db import Database
from core.errors import DomainError
from core.models import Company, Contact, Deal, MaterialSent, Stage, User
from core.models.knowledge import Document
from core.models.quotes import Product, Quote, QuoteLine, QuoteVersion, SalesOrder
from core.models.scheduling import DeliverySchedule
from tests.support.chat import CollectingChat, texts


def words_for(language: str) -> TemplateWords:
    return TemplateWords(Translator(language))


def _quote(s, company: Company, deal: Deal | None, number: str, now, valid_days: int,
           status: str = "sent", lines=(("SRV-X1", "Server X1", 2, "15000000"),)) -> Quote:
    quote = Quote(number=number, company_id=company.id, deal_id=deal.id if deal else None,
                  currency="IDR", status=status, current_version=1, created_at=now,
                  updated_at=now)
    s.add(quote)
    s.flush()
    net = sum(Decimal(p) * q for _sku, _n, q, p in lines)
    version = QuoteVersion(quote_id=quote.id, number=1, discount_pct=Decimal(0),
                           requested_discount_pct=Decimal(0), discount_status="none",
                           subtotal=net, discount_total=Decimal(0),
                           tax_total=net * Decimal("0.11"),
                           total=net * Decimal("1.11"), valid_until=(now + timedelta(
                               days=valid_days)).date(), created_at=now)
    s.add(version)
    s.flush()
    for i, (sku, name, qty, price) in enumerate(lines, 1):
        s.add(QuoteLine(version_id=version.id, position=i, sku=sku, name=name, quantity=qty,
                        unit_price=Decimal(price), discount_pct=Decimal(0),
                        net=Decimal(price) * qty, tax_rate=Decimal(11),
                        tax=Decimal(price) * qty * Decimal("0.11"), details={}))
    s.flush()
    return quote


@pytest.fixture
def fixed(database: Database, clock: ManualClock, world: object) -> dict[str, int]:
    """Budi's customers: A (Manufacturing, open deal + quote), B (Manufacturing, ordered
    nothing), C (Retail). D (Manufacturing, Sari's) ordered a server last week."""
    now = clock.now()
    with database.session() as s:
        budi = s.scalar(select(User).where(User.login == "budi"))
        sari = s.scalar(select(User).where(User.login == "sari"))
        assert budi and sari
        s.query(MaterialSent).delete()
        for product in (("SRV-X1", "Server X1"), ("RCK-1", "Rack kit")):
            if s.scalar(select(Product.id).where(Product.sku == product[0])) is None:
                s.add(Product(sku=product[0], name=product[1], category="servers",
                              unit="unit", tax_rate=Decimal(11), active=True, created_at=now,
                              updated_at=now))
        territory = budi.territories[0].id

        def company(name: str, industry: str, owner: User) -> Company:
            c = Company(name=name, industry=industry, territory_id=territory,
                        owner_id=owner.id, head_office_address=f"Jl. {name} 1, Jakarta",
                        billing_address="Finance, Jakarta", created_at=now, updated_at=now)
            s.add(c)
            s.flush()
            return c

        # Hide the demo customers from Budi so the expected list is exactly ours.
        s.query(Company).filter(Company.owner_id == budi.id).update({"owner_id": sari.id})
        a = company("Alpha Fabrication", "Manufacturing", budi)
        b = company("Beta Works", "Manufacturing", budi)
        c = company("Gamma Store", "Retail", budi)
        d = company("Delta Steel", "Manufacturing", sari)
        contact = Contact(company_id=a.id, name="Rina Kusuma", job_title="Purchasing Manager",
                          email="rina@alpha.example", is_decision_maker=True, created_at=now,
                          updated_at=now, version=1)
        s.add(contact)
        s.flush()
        deal = Deal(title="Server upgrade", company_id=a.id, contact_id=contact.id,
                    owner_id=budi.id, team_id=budi.team_id, stage=Stage.SOLUTION,
                    amount=Decimal("30000000"), facts={}, created_at=now, updated_at=now)
        s.add(deal)
        s.flush()
        quote_a = _quote(s, a, deal, "Q-TEST-1", now, valid_days=5)
        deal.facts = {"quote_id": quote_a.id}
        quote_d = _quote(s, d, None, "Q-TEST-2", now - timedelta(days=3), 30, "accepted")
        version_d = s.scalar(select(QuoteVersion).where(QuoteVersion.quote_id == quote_d.id))
        assert version_d
        s.add(SalesOrder(number="SO-TEST-1", quote_id=quote_d.id, version_id=version_d.id,
                         company_id=d.id, currency="IDR", total=version_d.total,
                         created_at=now - timedelta(days=2)))
        s.add(DeliverySchedule(company_id=c.id, description="10 POS terminals",
                               scheduled_for=now - timedelta(days=1), status="scheduled",
                               created_at=now, updated_at=now))
        s.flush()
        return {"budi": budi.id, "a": a.id, "b": b.id, "c": c.id, "d": d.id,
                "deal": deal.id}


def test_suggestions_equal_the_hand_computed_list(database: Database, clock: ManualClock,
                                                  fixed: dict[str, int]) -> None:
    with database.session() as s:
        budi = s.get(User, fixed["budi"])
        assert budi
        got = [(x.kind, x.company_id, x.material)
               for x in mailing.suggestions(s, budi, clock.now())]
    # Delay first (C's delivery is late), then A's quote expiring in 5 days, then brochures:
    # Manufacturing customers ordered the Server X1 (Delta), so A and B should get it.
    assert got == [
        ("delay_notice", fixed["c"], got[0][2]),
        ("quote_reminder", fixed["a"], "quote-reminder:Q-TEST-1"),
        ("brochure", fixed["a"], "brochure:SRV-X1"),
        ("brochure", fixed["b"], "brochure:SRV-X1"),
    ]
    with database.session() as s:
        budi = s.get(User, fixed["budi"])
        assert budi
        mailing.mark_sent(s, budi, fixed["b"], "brochure:SRV-X1", clock.now())
        mailing.mark_sent(s, budi, fixed["b"], "brochure:SRV-X1", clock.now())  # idempotent
        after = [(x.kind, x.company_id) for x in mailing.suggestions(s, budi, clock.now())]
        assert ("brochure", fixed["b"]) not in after and len(after) == 3
        assert s.query(MaterialSent).filter_by(company_id=fixed["b"]).count() == 1
        elsewhere = s.scalar(select(Company.id).where(Company.city == "Surabaya").limit(1))
        assert elsewhere is not None
        with pytest.raises(DomainError):  # another territory's customer: not found
            mailing.mark_sent(s, budi, elsewhere, "brochure:SRV-X1", clock.now())


def test_proposal_fills_every_placeholder(database: Database, clock: ManualClock,
                                          fixed: dict[str, int]) -> None:
    with database.session() as s:
        budi = s.get(User, fixed["budi"])
        template = s.scalar(select(Document).where(Document.title == "Standard proposal"))
        assert budi and template
        doc = proposals.render_proposal(s, budi, fixed["deal"], template.id, clock.now(),
                                        words_for=words_for)
        assert s.query(MaterialSent).filter_by(deal_id=fixed["deal"]).count() == 1
    assert "Proposal for Alpha Fabrication" in doc.text
    assert "Rina Kusuma, Purchasing Manager" in doc.text
    assert "- 2 x Server X1 (SRV-X1): IDR 30,000,000" in doc.text
    assert "Total before VAT: IDR 30,000,000" in doc.text
    assert "VAT: IDR 3,300,000" in doc.text
    assert "Total including VAT: IDR 33,300,000" in doc.text
    assert "{{" not in doc.text and "None" not in doc.text
    pdf = proposal_pdf(doc.title, doc.text, footer="Prepared by Budi")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Alpha Fabrication" in text and "33,300,000" in text


def test_missing_data_is_named_and_bad_templates_refused(database: Database,
                                                         clock: ManualClock,
                                                         fixed: dict[str, int]) -> None:
    with database.session() as s:
        deal = s.get(Deal, fixed["deal"])
        budi = s.get(User, fixed["budi"])
        assert deal and budi
        context = proposals.template_context(s, deal, budi, clock.now(),
                                             words=words_for("en"))
    with pytest.raises(DomainError) as missing:
        proposals.render_template("Budget {{ deal.budget }} for {{ customer.ceo }}", context)
    assert missing.value.params["names"] == "customer.ceo, deal.budget"
    with pytest.raises(DomainError) as nothing:
        proposals.render_template("{{ order.number }}", context)
    assert nothing.value.params["names"] == "order.number"
    with pytest.raises(DomainError) as syntax:
        proposals.validate_template("line one\n{% for x in quote.lines %}\nno end")
    assert syntax.value.code == "proposal.template_syntax"
    assert syntax.value.params["line"] == 3
    for attack in ("{{ customer.__class__.__mro__ }}", "{{ ''.__class__.__subclasses__() }}",
                   "{{ cycler.__init__.__globals__ }}", "{{ customer._sa_instance_state }}",
                   "{{ lipsum.__globals__['os'] }}"):
        with pytest.raises(DomainError) as refused:
            proposals.render_template(attack, context)
        assert refused.value.code in ("proposal.template_forbidden", "proposal.missing")


async def test_proposal_and_mailing_in_chat(chat: CollectingChat, fixed: dict[str, int],
                                            database: Database) -> None:
    budi = chat.as_user("budi")
    out = await budi.say("proposal for Alpha Fabrication")
    if any(b.label == "Standard proposal" for b in budi.buttons):
        out = await budi.press("Standard proposal")
    pdf = out[-1].attachment
    assert pdf is not None and pdf.mime == "application/pdf" and pdf.data.startswith(b"%PDF")
    out = await budi.say("what should I send?")
    joined = texts(out)
    assert "Brochure for Server X1" in joined and "Beta Works" in joined
    assert "Dear Rina Kusuma" in joined
    mark = [b for b in budi.buttons if b.action == "mail.sent" and str(fixed["b"]) in b.arg]
    assert any(b.label == "Mark sent: Beta Works" for b in mark)
    assert mark
    done = await budi.send(budi.incoming(button=mark[0].payload))
    assert "Noted: Server X1 brochure sent" in texts(done)
    again = texts(await budi.say("what should I send?"))
    assert "Beta Works" not in again
    nothing = texts(await budi.say("proposal for Nonexistent Company Zzz"))
    assert "no deal of yours" in nothing
    assert date.today()  # the clock of the test is manual; the real date is irrelevant


def test_broken_template_is_refused_at_add_and_check_in(database: Database,
                                                        clock: ManualClock, world: object) -> None:
    from core import document_checkout as checkout
    from core import knowledge

    with database.session() as s:
        admin = s.scalar(select(User).where(User.login == "admin"))
        assert admin is not None
        with pytest.raises(DomainError) as refused:
            knowledge.add_document(s, title="Broken", text="Hello\n{{ customer.name }\n",
                                   owner=admin, now=clock.now(), doc_type="proposal_template")
        assert refused.value.code == "proposal.template_syntax"
        assert refused.value.params["line"] == 2
        template = s.scalar(select(Document).where(Document.title == "Standard proposal"))
        assert template is not None
        checkout.check_out(s, admin, template.id, now=clock.now())
        with pytest.raises(DomainError) as again:
            checkout.check_in(s, admin, template.id, now=clock.now(), note="edit",
                               text="# Title\n{% if deal.title %}\nno endif")
        assert again.value.code == "proposal.template_syntax"
        version = checkout.check_in(s, admin, template.id, now=clock.now(), note="fine",
                                     text="# Proposal for {{ customer.name }}")
        assert version.version == 2
