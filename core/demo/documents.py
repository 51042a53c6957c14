"""Demo data: proposal and contract-summary templates (knowledge documents, Jinja2)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.demo import DemoWorld
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

Subtotal: {{ quote.subtotal | money(quote.currency) }}
Discount: {{ quote.discount | money(quote.currency) }}
Tax: {{ quote.tax | money(quote.currency) }}
Total: {{ quote.total | money(quote.currency) }}

This offer is valid until {{ quote.valid_until }}.

## Your contact
{{ rep.name }} - {{ rep.email }}
"""

CONTRACT_SUMMARY = """# Contract summary: {{ customer.name }}

## Parties
- Customer: {{ customer.name }}, {{ customer.address }}
- Invoices to: {{ customer.billing_address }}
- Delivery to: {{ customer.delivery_address }}

## Scope (quote {{ quote.number }} v{{ quote.version }})
{% for line in quote.lines %}
- {{ line.quantity }} x {{ line.name }}
{% endfor %}

## Value
Total {{ quote.total | money(quote.currency) }}
of which tax {{ quote.tax | money(quote.currency) }}

Account manager: {{ rep.name }}
"""


def seed(session: Session, world: DemoWorld) -> None:
    """Add the proposal and contract-summary templates."""
    admin = world.users.get("admin")
    for title, text, tags in (
        ("Standard proposal", PROPOSAL, ("proposal", "template")),
        ("Contract summary", CONTRACT_SUMMARY, ("contract", "template")),
    ):
        add_document(session, title=title, text=text, owner=admin, now=world.now,
                     doc_type=TEMPLATE_TYPE, tags=tags, status="published", source="demo",
                     language="en", note="demo template")
