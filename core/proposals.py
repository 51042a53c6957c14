"""Documents from templates: proposals and contract summaries filled from a deal's data.

Templates are knowledge documents of type "proposal_template" whose text uses Jinja2
placeholders (``{{ customer.name }}``, ``{% for line in quote.lines %}``...). They are user
content, so they render in Jinja2's sandbox: no attribute starting with "_", no access to
Python internals, only the plain dictionaries built here. A template with a syntax error is
refused with its line number.

A document says only what is true: a placeholder the data cannot fill is never printed (as
nothing or as its name) but reported by name (`MissingData`), so the chat can ask the rep
for it, or say what to do first (make a quote, log the meeting, set the company details);
`{% if last_meeting %}` lets a template thank for a meeting only when one is in the history.
Dates, amounts and the price table are written by the caller's `DocumentWords`, in the
template's language (core builds no user-facing text).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from jinja2 import TemplateSyntaxError, Undefined
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import pipeline
from core.errors import DomainError, NotFound
from core.models import Activity, Company, Contact, Deal, MaterialSent, User
from core.models.knowledge import Document
from core.models.quotes import Quote, QuoteVersion
from core.organisation import Seller
from core.scope import deal_visible

TEMPLATE_TYPE = "proposal_template"
MAX_TEMPLATE_CHARS = 100_000
MEETING_KINDS = ("visit", "meeting")
# Other names (English and Indonesian) -> the name or placeholder they stand for.
ALIASES = {"kontak": "contact", "pelanggan": "customer", "penjual": "seller",
           "tanggal": "today", "date": "today", "pertemuan_terakhir": "last_meeting",
           "tabel_harga": "price_table", "rep_name": "rep.name", "nama_sales": "rep.name"}
# A group printed alone when it does not exist: the placeholder that is missing.
GROUP_NAMES = {"contact": "contact.name", "customer": "customer.name", "quote": "quote.number",
               "seller": "seller.name", "rep": "rep.name", "deal": "deal.title"}
SELLER_FIELDS = {"name": "name", "legal_name": "legal_name", "address": "address",
                 "phone": "phone", "email": "email", "website": "website",
                 "tax_number": "tax_number", "bank": "bank_details"}


class DocumentWords(Protocol):
    """How the caller writes values into a document of one language."""

    language: str

    def date(self, day: date) -> str: ...

    def money(self, amount: Any, currency: str = "") -> str: ...

    def price_table(self, quote: Mapping[str, Any]) -> str: ...

    def not_set(self, detail: str) -> str:
        """A visible stand-in for a company detail not set yet (documents are drafts)."""
        ...


class MissingData(DomainError):
    """The template needs data the deal does not have: `paths` names each placeholder
    (canonical: "contact.job_title", "quote.lines", "last_meeting", "seller.tax_number")."""

    def __init__(self, paths: list[str]) -> None:
        super().__init__("proposal.missing", names=", ".join(paths))
        self.paths = paths


class _Recording(Undefined):
    """An undefined placeholder: remembered by its full dotted name, rendered as nothing."""

    missing: set[str]

    def _name(self) -> str:
        parent = getattr(self, "_undefined_obj", None)
        name = self._undefined_name or "?"
        if isinstance(parent, dict) and "__path__" in parent:
            return f"{parent['__path__']}.{name}"
        name = ALIASES.get(str(name), str(name))
        return GROUP_NAMES.get(name, name)

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


class _Blank:
    """A placeholder whose value is empty: printing it records it as missing; as a
    condition it is simply false (`{% if last_meeting %}` asks for nothing)."""

    def __init__(self, path: str, missing: set[str]) -> None:
        self.path, self.missing = path, missing

    def __str__(self) -> str:
        self.missing.add(self.path)
        return ""

    def __bool__(self) -> bool:
        return False

    def __iter__(self):  # type: ignore[no-untyped-def]
        self.missing.add(self.path)
        return iter(())


class _Node(dict):  # type: ignore[type-arg]
    """A group of placeholders (customer, contact, ...); printed alone it shows its name."""

    def __str__(self) -> str:
        for key in ("name", "title", "number"):
            if key in self:
                return str(self[key])
        return ""


def _environment(missing: set[str], words: DocumentWords | None = None) -> SandboxedEnvironment:
    undefined = type("RecordingUndefined", (_Recording,), {"missing": missing})
    env = SandboxedEnvironment(undefined=undefined, autoescape=False, trim_blocks=True,
                               lstrip_blocks=True)

    def money(value: Any, currency: str = "") -> str:
        if isinstance(value, _Blank):
            return str(value)
        return words.money(value, str(currency)) if words is not None else str(value)

    env.filters["money"] = money
    return env


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


def last_meeting(session: Session, company_id: int, now: datetime) -> datetime | None:
    """When the customer was last visited or met (the history's latest such activity)."""
    return session.scalar(
        select(Activity.occurred_at).where(Activity.company_id == company_id,
                                           Activity.kind.in_(MEETING_KINDS),
                                           Activity.occurred_at <= now)
        .order_by(Activity.occurred_at.desc()).limit(1))


def template_context(session: Session, deal: Deal, rep: User, now: datetime, *,
                     words: DocumentWords, seller: Seller | None = None,
                     answers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Plain data for the template: customer, contact, deal, quote (latest version), rep,
    the seller (the organisation), the last meeting; `answers` are values the rep typed for
    placeholders the data did not fill ("contact.job_title" -> "Head of IT")."""
    zone = ZoneInfo(rep.timezone or "Asia/Jakarta")
    company = session.get(Company, deal.company_id)
    contact = session.get(Contact, deal.contact_id) if deal.contact_id else None
    quote_id = (deal.facts or {}).get("accepted_quote_id") or (deal.facts or {}).get("quote_id")
    quote = session.get(Quote, int(quote_id)) if quote_id else session.scalar(
        select(Quote).where(Quote.deal_id == deal.id).order_by(Quote.id.desc()).limit(1))
    met = last_meeting(session, deal.company_id, now)
    nodes: dict[str, dict[str, Any]] = {
        "customer": {
            "name": company.name if company else None,
            "legal_form": company.legal_form if company else None,
            "industry": company.industry if company else None,
            "address": company.head_office_address if company else None,
            "billing_address": company.billing_address if company else None,
            "delivery_address": company.delivery_address if company else None,
            "city": company.city if company else None,
        },
        "deal": {
            "title": deal.title, "stage": deal.stage, "need": deal.need,
            "amount": deal.amount, "currency": deal.currency,
            "budget": (deal.facts or {}).get("budget"),
            "timeline": (deal.facts or {}).get("timeline"),
        },
        "rep": {"name": rep.name, "email": rep.email, "phone": rep.phone},
    }
    if contact is not None:
        nodes["contact"] = {"name": contact.name, "job_title": contact.job_title,
                            "department": contact.department, "email": contact.email,
                            "phone": contact.phone or contact.mobile}
    seller = seller or Seller()
    nodes["seller"] = {key: getattr(seller, column) or (
        words.not_set(key) if seller.is_draft else None)
        for key, column in SELLER_FIELDS.items()}
    flat: dict[str, Any] = {
        "today": words.date(now.astimezone(zone).date()),
        "last_meeting": words.date(met.astimezone(zone).date()) if met else None,
        "scope": deal.need or deal.title,
        "price_table": None,
    }
    if quote is not None:
        version = session.scalar(select(QuoteVersion).where(
            QuoteVersion.quote_id == quote.id, QuoteVersion.number == quote.current_version))
        if version is not None:
            lines = [{"sku": line.sku, "name": line.name, "quantity": line.quantity,
                      "unit_price": line.unit_price, "discount_pct": line.discount_pct,
                      "net": line.net, "tax": line.tax} for line in version.lines]
            nodes["quote"] = {
                "number": quote.number, "version": version.number,
                "currency": quote.currency, "lines": lines, "subtotal": version.subtotal,
                "discount": version.discount_total, "tax": version.tax_total,
                "net": Decimal(version.subtotal) - Decimal(version.discount_total),
                "total": version.total, "valid_until": words.date(version.valid_until),
            }
            flat["price_table"] = words.price_table(nodes["quote"])
    for path, value in (answers or {}).items():
        root, _, leaf = path.partition(".")
        if leaf and root in ("customer", "contact", "deal", "rep"):
            nodes.setdefault(root, {})[leaf] = value
        elif not leaf and root in ("scope",):
            flat[root] = value
    context: dict[str, Any] = {**nodes, **flat}
    for alias, target in ALIASES.items():  # the other names, for simpler templates
        root, _, leaf = target.partition(".")
        if root in context:
            context[alias] = context[root][leaf] if leaf else context[root]
    return context


def _bind(value: Any, path: str, missing: set[str]) -> Any:
    """The context as the template sees it: groups print as their name, empty values are
    blanks that record themselves when printed."""
    if isinstance(value, dict):
        node = _Node({key: _bind(item, f"{path}.{key}" if path else key, missing)
                      for key, item in value.items()})
        node["__path__"] = path
        return node
    if isinstance(value, list):
        return [_bind(item, path, missing) for item in value]
    if value is None:
        return _Blank(path, missing)
    return value


def render_template(text: str, context: dict[str, Any],
                    words: DocumentWords | None = None) -> str:
    """Render in the sandbox; raise MissingData naming every placeholder left unfilled."""
    validate_template(text)
    missing: set[str] = set()
    env = _environment(missing, words)
    bound = {key: _bind(value, ALIASES.get(key, key), missing) for key, value in context.items()}
    try:
        rendered = env.from_string(text).render(**bound)
    except SecurityError as exc:
        raise DomainError("proposal.template_forbidden") from exc
    except UndefinedError as exc:
        raise MissingData([str(exc)]) from exc
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise DomainError("proposal.template_error", message=str(exc)[:120]) from exc
    if missing:
        raise MissingData(sorted(missing))
    return rendered


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


def template_language(template: Document, user: User) -> str:
    """The language a document from `template` speaks (its own; else the user's)."""
    return template.language if template.language in ("en", "id") else user.locale


def render_proposal(session: Session, user: User, deal_id: int, template_id: int,
                    now: datetime, *, words_for: Callable[[str], DocumentWords],
                    seller: Seller | None = None,
                    answers: Mapping[str, str] | None = None) -> RenderedDocument:
    """Fill a template for a deal the user may see, and note it in the deal's history.

    Args:
        words_for: the DocumentWords of a language (the template's is used).
        seller: the organisation's details (a draft prints visible stand-ins).
        answers: values the rep typed for placeholders the data did not fill.

    Raises MissingData (nothing is noted) when a placeholder has no value.
    """
    deal = session.scalar(select(Deal).where(Deal.id == deal_id, deal_visible(session, user)))
    if deal is None:
        raise NotFound("proposal.deal_not_found")
    template = session.get(Document, template_id)
    if template is None or template.doc_type != TEMPLATE_TYPE or template.status != "published":
        raise NotFound("proposal.template_not_found")
    words = words_for(template_language(template, user))
    context = template_context(session, deal, user, now, words=words, seller=seller,
                               answers=answers)
    text = render_template(template.text, context, words)
    session.add(MaterialSent(material=f"document:{template.title}"[:200], document_id=template.id,
                             company_id=deal.company_id, contact_id=deal.contact_id,
                             deal_id=deal.id, sent_by_id=user.id, sent_at=now,
                             channel="generated"))
    company = session.get(Company, deal.company_id)
    title = f"{template.title} — {company.name if company else deal.title}"
    return RenderedDocument(title=title, text=text, template_id=template.id, deal_id=deal.id,
                            language=words.language)
