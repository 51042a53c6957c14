"""Demo data: proposal and contract-summary templates (knowledge documents, Jinja2)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.demo.world import DemoWorld
from core.knowledge import add_document
from core.proposals import TEMPLATE_TYPE

PROPOSAL = """# Proposal for {{ customer.name }}

For the attention of {{ contact.name }}, {{ contact.job_title }}
Date: {{ today }}

## What you asked for
{{ deal.title }}

## Our offer (quote {{ quote.number }}, version {{ quote.version }})
{% for line in quote.lines %}
- {{ line.quantity }} x {{ line.name }} ({{ line.sku }}): {{ line.net | money(quote.currency) }}
{% endfor %}

Subtotal before discounts: {{ quote.subtotal | money(quote.currency) }}
Discounts: {{ quote.discount | money(quote.currency) }}
Total before VAT: {{ quote.net | money(quote.currency) }}
VAT: {{ quote.tax | money(quote.currency) }}
Total including VAT: {{ quote.total | money(quote.currency) }}

This offer is valid until {{ quote.valid_until }}.

## Your contact
{{ rep.name }} - {{ rep.email }}
"""

CONTRACT_SUMMARY = """# Contract summary: {{ customer.name }}

## Parties
- Supplier: {{ seller.name }}, {{ seller.address }}
- Customer: {{ customer.name }}, {{ customer.address }}
- Invoices to: {{ customer.billing_address }}
- Delivery to: {{ customer.delivery_address }}

## Scope (quote {{ quote.number }} v{{ quote.version }})
{% for line in quote.lines %}
- {{ line.quantity }} x {{ line.name }}
{% endfor %}

## Value
Total including VAT {{ quote.total | money(quote.currency) }}
of which VAT {{ quote.tax | money(quote.currency) }}

Account manager: {{ rep.name }}
"""


def seed(session: Session, world: DemoWorld) -> None:
    """Add the proposal and contract-summary templates, and give one of the demo rep's open
    deals a contact and a quote, so "proposal for ..." works out of the box."""
    admin = world.users.get("admin")
    for title, text, tags in (
        ("Standard proposal", PROPOSAL, ("proposal", "template")),
        ("Contract summary", CONTRACT_SUMMARY, ("contract", "template")),
    ):
        add_document(session, title=title, text=text, owner=admin, now=world.now,
                     doc_type=TEMPLATE_TYPE, tags=tags, status="published", source="demo",
                     language="en", note="demo template")
    _quote_for_a_demo_deal(session, world)


def _quote_for_a_demo_deal(session: Session, world: DemoWorld) -> None:
    from sqlalchemy import select

    from core.models import Contact, Deal
    from core.models.quotes import Product
    from core.quotes import save_quote

    budi = world.users.get("budi")
    if budi is None:
        return
    deal = session.scalar(select(Deal).where(
        Deal.owner_id == budi.id, Deal.stage.in_(["qualified", "solution"]))
        .order_by(Deal.id).limit(1))
    products = {p.sku: p.id for p in session.scalars(select(Product))}
    if deal is None or not products:
        return
    wanted = {"LAP-AIR": 20, "DOCK-USB": 20} if "laptop" in deal.title.lower() else {
        "SRV-X1": 2, "RACK-KIT": 2}
    items = {products[sku]: qty for sku, qty in wanted.items() if sku in products}
    if not items:
        return
    if deal.contact_id is None:
        deal.contact_id = session.scalar(select(Contact.id).where(
            Contact.company_id == deal.company_id).order_by(
            Contact.is_decision_maker.desc(), Contact.id).limit(1))
    save_quote(session, budi, company=deal.company, deal=deal, now=world.now, items=items)
