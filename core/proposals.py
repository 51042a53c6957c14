"""Documents from templates: proposals and contract summaries filled from a deal's data.

Templates are knowledge documents of type "proposal_template" whose text uses Jinja2
placeholders (``{{ customer.name }}``, ``{% for line in quote.lines %}``...). They are user
content, so they render in Jinja2's sandbox: no attribute starting with "_", no access to
Python internals, only the plain dictionaries built here. A placeholder the data cannot fill
is reported by name (never printed raw); a template with a syntax error is refused with its
line number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from jinja2 import TemplateSyntaxError, Undefined
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import pipeline
from core.errors import DomainError, NotFound
from core.models import Company, Contact, Deal, MaterialSent, User
from core.models.knowledge import Document
from core.models.quotes import Quote, QuoteVersion
from core.scope import deal_visible

TEMPLATE_TYPE = "proposal_template"
MAX_TEMPLATE_CHARS = 100_000


class _Recording(Undefined):
    """An undefined placeholder: remembered by its full dotted name, rendered as nothing."""

    missing: set[str]

    def _name(self) -> str:
        parent = getattr(self, "_undefined_obj", None)
        name = self._undefined_name or "?"
        if isinstance(parent, dict) and "__path__" in parent:
            return f"{parent['__path__']}.{name}"
        return str(name)

    def __str__(self) -> str:
        self.missing.add(self._name())
        return ""

    def __iter__(self):  # type: ignore[no-untyped-def]
        self.missing.add(self._name())
        return iter(())

    def __bool__(self) -> bool:
        self.missing.add(self._name())
        return False

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return type(self)(name=f"{self._name()}.{name}")


def _environment(missing: set[str]) -> SandboxedEnvironment:
    undefined = type("RecordingUndefined", (_Recording,), {"missing": missing})
    env = SandboxedEnvironment(undefined=undefined, autoescape=False, trim_blocks=True,
                               lstrip_blocks=True)
    env.filters["money"] = _money
    return env


def _money(value: Any, currency: str = "") -> str:
    try:
        amount = Decimal(str(value))
    except Exception:
        return str(value)
    text = f"{amount:,.2f}" if amount != amount.to_integral() else f"{amount:,.0f}"
    return f"{currency} {text}".strip()


def validate_template(text: str) -> None:
    """Refuse a template that does not parse, naming the line."""
    if len(text) > MAX_TEMPLATE_CHARS:
        raise DomainError("proposal.template_too_long", limit=MAX_TEMPLATE_CHARS)
    try:
        _environment(set()).parse(text)
    except TemplateSyntaxError as exc:
        raise DomainError("proposal.template_syntax", line=exc.lineno,
                          message=str(exc.message or "")[:120]) from exc


@dataclass(frozen=True)
class RenderedDocument:
    title: str
    text: str
    template_id: int
    deal_id: int
    language: str = "en"  # the template's: the document speaks it to its footer


class _Node(dict):  # type: ignore[type-arg]
    """A group of placeholders (customer, contact, ...); printed alone it shows its name."""

    def __str__(self) -> str:
        name = self.get("name") or self.get("title") or self.get("number")
        return "" if name is None else str(name)


def _node(path: str, values: dict[str, Any]) -> dict[str, Any]:
    return _Node({"__path__": path, **values})


def template_context(session: Session, deal: Deal, rep: User, now: datetime) -> dict[str, Any]:
    """Plain data for the template: customer, contact, deal, quote (latest version), rep."""
    company = session.get(Company, deal.company_id)
    contact = session.get(Contact, deal.contact_id) if deal.contact_id else None
    quote_id = (deal.facts or {}).get("accepted_quote_id") or (deal.facts or {}).get("quote_id")
    quote = session.get(Quote, int(quote_id)) if quote_id else session.scalar(
        select(Quote).where(Quote.deal_id == deal.id).order_by(Quote.id.desc()).limit(1))
    context: dict[str, Any] = {
        "today": now.date().isoformat(),
        "customer": _node("customer", {
            "name": company.name if company else None,
            "legal_form": company.legal_form if company else None,
            "industry": company.industry if company else None,
            "address": company.head_office_address if company else None,
            "billing_address": company.billing_address if company else None,
            "delivery_address": company.delivery_address if company else None,
            "city": company.city if company else None,
        }),
        "deal": _node("deal", {
            "title": deal.title, "stage": deal.stage, "need": deal.need,
            "amount": deal.amount, "currency": deal.currency,
            "budget": (deal.facts or {}).get("budget"),
            "timeline": (deal.facts or {}).get("timeline"),
        }),
        "rep": _node("rep", {"name": rep.name, "email": rep.email, "phone": rep.phone}),
    }
    if contact is not None:
        context["contact"] = _node("contact", {"name": contact.name,
                                               "job_title": contact.job_title,
                                               "department": contact.department,
                                               "email": contact.email,
                                               "phone": contact.phone or contact.mobile})
    if quote is not None:
        version = session.scalar(select(QuoteVersion).where(
            QuoteVersion.quote_id == quote.id, QuoteVersion.number == quote.current_version))
        if version is not None:
            lines = [_node("quote.lines", {
                "sku": line.sku, "name": line.name, "quantity": line.quantity,
                "unit_price": line.unit_price, "discount_pct": line.discount_pct,
                "net": line.net, "tax": line.tax}) for line in version.lines]
            context["quote"] = _node("quote", {
                "number": quote.number, "version": version.number,
                "currency": quote.currency, "lines": lines, "subtotal": version.subtotal,
                "discount": version.discount_total, "tax": version.tax_total,
                "total": version.total, "valid_until": version.valid_until.isoformat(),
            })
    # Flat names (English and Indonesian) for simpler templates.
    context["date"] = context["tanggal"] = context["today"]
    context["rep_name"] = context["nama_sales"] = rep.name
    context["pelanggan"] = context["customer"]
    context["scope"] = deal.need or deal.title
    if "contact" in context:
        context["kontak"] = context["contact"]
    if "quote" in context:
        q = context["quote"]
        rows = [f"- {line['quantity']} x {line['name']}: "
                f"{_money(line['net'], q['currency'])}" for line in q["lines"]]
        rows.append(f"Total: {_money(q['total'], q['currency'])}")
        context["price_table"] = "\n".join(rows)
    return context


def render_template(text: str, context: dict[str, Any]) -> str:
    """Render in the sandbox; raise DomainError naming every placeholder left unfilled."""
    validate_template(text)
    missing: set[str] = set()
    env = _environment(missing)
    try:
        rendered = env.from_string(text).render(**context)
    except SecurityError as exc:
        raise DomainError("proposal.template_forbidden") from exc
    except UndefinedError as exc:
        raise DomainError("proposal.missing", names=str(exc)) from exc
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise DomainError("proposal.template_error", message=str(exc)[:120]) from exc
    # A placeholder whose value is None is as unfilled as a missing one.
    missing |= _none_placeholders(text, context)
    if missing:
        raise DomainError("proposal.missing", names=", ".join(sorted(missing)))
    return rendered


def _none_placeholders(text: str, context: dict[str, Any]) -> set[str]:
    import re

    found = set()
    for match in re.finditer(r"\{\{\s*([a-z_]+(?:\.[a-z_]+)*)", text):
        path = match.group(1).split(".")
        node: Any = context
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
            if node is None:
                break
        if node is None and path[0] in context:
            found.add(".".join(path))
    return found


def list_templates(session: Session) -> list[Document]:
    """Published proposal / contract templates, by title."""
    return list(session.scalars(select(Document).where(
        Document.doc_type == TEMPLATE_TYPE, Document.status == "published")
        .order_by(Document.title)))


def find_deals(session: Session, user: User, query: str, limit: int = 5) -> list[Deal]:
    """Deals the user may see whose title or customer matches `query` (open ones first;
    fuzzy when no deal has every word)."""
    return pipeline.find_deals(session, user, query, open_only=False, limit=limit,
                               open_first=True)


def render_proposal(session: Session, user: User, deal_id: int, template_id: int,
                    now: datetime) -> RenderedDocument:
    """Fill a template for a deal the user may see, and note it in the deal's history."""
    deal = session.scalar(select(Deal).where(Deal.id == deal_id, deal_visible(session, user)))
    if deal is None:
        raise NotFound("proposal.deal_not_found")
    template = session.get(Document, template_id)
    if template is None or template.doc_type != TEMPLATE_TYPE or template.status != "published":
        raise NotFound("proposal.template_not_found")
    text = render_template(template.text, template_context(session, deal, user, now))
    session.add(MaterialSent(material=f"document:{template.title}"[:200], document_id=template.id,
                             company_id=deal.company_id, contact_id=deal.contact_id,
                             deal_id=deal.id, sent_by_id=user.id, sent_at=now,
                             channel="generated"))
    company = session.get(Company, deal.company_id)
    title = f"{template.title} — {company.name if company else deal.title}"
    return RenderedDocument(title=title, text=text, template_id=template.id, deal_id=deal.id,
                            language=template.language if template.language in ("en", "id")
                            else user.locale)
