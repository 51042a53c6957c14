"""Contacts and companies: fuzzy scoped lookup and the answers to reps' everyday questions.

Lookup goes through the in-memory index (core.contact_index); every hit is re-read from the
database through `company_visible`, so nothing outside the user's scope is ever returned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import vobject
from rapidfuzz import fuzz, process
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.contact_index import ContactIndex
from core.contact_records import COMPANY, CONTACT, normalise
from core.errors import NotFound
from core.models import (
    OPEN_STAGES,
    Base,
    Company,
    Contact,
    Deal,
    MaterialSent,
    User,
)
from core.scope import company_visible, territory_ids_for


@dataclass(frozen=True)
class CompanyMatch:
    company: Company
    score: float


@dataclass(frozen=True)
class ContactMatch:
    contact: Contact
    score: float


# -- lookup ---------------------------------------------------------------------------------
def _index(session: Session, index: ContactIndex) -> ContactIndex:
    index.sync(session)
    return index


def _scope(session: Session, user: User) -> tuple[set[int] | None, int]:
    return territory_ids_for(session, user), user.id


def find_companies(session: Session, user: User, query: str, limit: int = 5, *,
                   index: ContactIndex) -> list[CompanyMatch]:
    """Companies the user may see whose name (or phone) matches `query`, best first."""
    if not user.active or not (query or "").strip():
        return []
    terr, uid = _scope(session, user)
    hits = _index(session, index).search(query, kinds=(COMPANY,), territory_ids=terr,
                                         user_id=uid, limit=limit)
    rows = _load(session, user, Company, [h.id for h in hits])
    return [CompanyMatch(rows[h.id], h.score) for h in hits if h.id in rows]


def find_contacts(session: Session, user: User, query: str, limit: int = 5, *,
                  index: ContactIndex, company: Company | None = None
                  ) -> list[ContactMatch]:
    """Contacts (of companies the user may see) matching `query` by name or phone."""
    if not user.active or not (query or "").strip():
        return []
    terr, uid = _scope(session, user)
    hits = _index(session, index).search(
        query, kinds=(CONTACT,), territory_ids=terr, user_id=uid, limit=limit,
        company_id=company.id if company is not None else None)
    rows = _load(session, user, Contact, [h.id for h in hits])
    return [ContactMatch(rows[h.id], h.score) for h in hits if h.id in rows]


@dataclass(frozen=True)
class Match:
    """A company or a contact found by a free-text lookup."""

    kind: str  # "company" | "contact"
    record: Any
    score: float

    @property
    def company(self) -> Company:
        return self.record if self.kind == "company" else self.record.company


def find_any(session: Session, user: User, query: str, limit: int = 5, *,
             index: ContactIndex) -> list[Match]:
    """Companies and contacts matching `query`, best first, within the user's scope."""
    if not user.active or not (query or "").strip():
        return []
    terr, uid = _scope(session, user)
    hits = _index(session, index).search(query, territory_ids=terr, user_id=uid, limit=limit)
    companies = _load(session, user, Company, [h.id for h in hits if h.kind == COMPANY])
    contacts = _load(session, user, Contact, [h.id for h in hits if h.kind == CONTACT])
    out: list[Match] = []
    for h in hits:
        if h.kind == COMPANY and h.id in companies:
            out.append(Match("company", companies[h.id], h.score))
        elif h.kind == CONTACT and h.id in contacts:
            out.append(Match("contact", contacts[h.id], h.score))
    return out


def _load(session: Session, user: User, model: Any, ids: list[int]) -> dict[int, Any]:
    if not ids:
        return {}
    stmt = select(model).where(model.id.in_(ids))
    if model is Contact:
        stmt = stmt.join(Company, Company.id == Contact.company_id)
    stmt = stmt.where(company_visible(session, user))
    return {row.id: row for row in session.scalars(stmt)}


def is_clear(matches: list[Any], *, margin: float = 3.0, floor: float = 80.0,
             query: str | None = None) -> bool:
    """True when the best match is good and clearly ahead of the second (no need to ask), or
    when `query` names it exactly and nothing else has that name (a customer named in full
    never gets a "did you mean" about itself).

    The index scores a typed beginning a few points under the whole word and one typo a
    few points more under it (core.contact_index), so 3 points apart is a different
    reading: benchmarks/contact_lookup.py measured, at 100k contacts, 93 % answered with the
    right record at once and 1.5 % with a wrong one (6 points: 84 % and 0.5 %)."""
    if not matches:
        return False
    if query is not None:
        wanted = normalise(query)
        exact = [m for m in matches if normalise(_name_of(m)) == wanted]
        if len(exact) == 1:
            matches.remove(exact[0])
            matches.insert(0, exact[0])
            return True
        if len(exact) > 1:
            return False  # two records share that name: ask which one
    if matches[0].score < floor:
        return False
    return len(matches) == 1 or matches[1].score <= matches[0].score - margin


def _name_of(match: Any) -> str:
    record = getattr(match, "record", None) or getattr(match, "company", None) or getattr(
        match, "contact", None)
    return getattr(record, "name", "") or ""


def handled_elsewhere(session: Session, user: User, query: str,
                      index: ContactIndex) -> Company | None:
    """The company a name clearly means when the user may not see it (another team's
    account): they are told it is handled by another team, not that they misspelt it."""
    if not (query or "").strip():
        return None
    hits = _index(session, index).search(query, territory_ids=None, limit=2)
    if not hits or hits[0].score < 85 or (len(hits) > 1 and hits[1].score >= hits[0].score - 3):
        return None
    top = hits[0]
    company_id = top.id if top.kind == COMPANY else top.company_id
    company = session.get(Company, company_id)
    if company is None or session.scalar(select(Company.id).where(
            Company.id == company_id, company_visible(session, user))) is not None:
        return None
    return company


def companies_named(session: Session, user: User, name: str, *, limit: int = 5) -> list[Company]:
    """Companies in the user's scope whose name contains `name` (case-insensitive): the plain
    search behind the fuzzy index."""
    name = (name or "").strip()
    if len(name) < 2:
        return []
    return list(session.scalars(select(Company).where(
        company_visible(session, user), Company.name.ilike(f"%{name}%"))
        .order_by(Company.name).limit(limit)))


def visible_company(session: Session, user: User, company_id: int) -> Company:
    row = session.scalar(select(Company).where(Company.id == company_id,
                                               company_visible(session, user)))
    if row is None:
        raise NotFound("contacts.not_found")
    return row


def visible_contact(session: Session, user: User, contact_id: int) -> Contact:
    row = session.scalar(select(Contact).join(Company, Company.id == Contact.company_id)
                         .where(Contact.id == contact_id, company_visible(session, user)))
    if row is None:
        raise NotFound("contacts.not_found")
    return row


# -- departments ------------------------------------------------------------------------------
DEPARTMENT_WORDS: dict[str, tuple[str, ...]] = {
    "Purchasing": ("purchasing", "purchase", "procurement", "buying", "buyer", "pembelian",
                   "pengadaan"),
    "Finance": ("finance", "financial", "accounting", "accounts", "billing", "keuangan",
                "akuntansi", "tagihan"),
    "IT": ("it", "tech", "technology", "ti", "teknologi", "informasi"),
    "Operations": ("operations", "operation", "ops", "plant", "warehouse", "operasional",
                   "operasi", "gudang"),
    "Management": ("management", "director", "directors", "board", "owner", "manajemen",
                   "direksi", "direktur", "pemilik"),
    "HR": ("hr", "human", "personnel", "hrd", "sdm", "personalia"),
    "Marketing": ("marketing", "pemasaran", "brand"),
}


def department_for(text: str) -> str | None:
    """The canonical department a word names (English or Indonesian), or None."""
    words = normalise(text)
    for canonical, aliases in DEPARTMENT_WORDS.items():
        if any(w in aliases for w in words):
            return canonical
    for w in words:
        for canonical, aliases in DEPARTMENT_WORDS.items():
            best = process.extractOne(w, aliases, scorer=fuzz.ratio, score_cutoff=80)
            if best and len(w) >= 4:
                return canonical
    return None


def contacts_of(session: Session, company: Company, department: str | None = None
                ) -> list[Contact]:
    """The company's contacts (of one department when given), decision makers first."""
    stmt = select(Contact).where(Contact.company_id == company.id)
    if department:
        stmt = stmt.where(func.lower(Contact.department) == department.lower())
    stmt = stmt.order_by(Contact.is_decision_maker.desc(), Contact.name)
    return list(session.scalars(stmt))


# -- company profile --------------------------------------------------------------------------
@dataclass
class CompanyProfile:
    company: Company
    open_deals: int
    open_amount: Decimal
    currency: str
    contacts: int


def company_profile(session: Session, user: User, company: Company) -> CompanyProfile:
    """What a rep wants to know about a company (open deals counted within what exists)."""
    row = session.execute(
        select(func.count(Deal.id), func.coalesce(func.sum(Deal.amount), 0))
        .where(Deal.company_id == company.id,
               Deal.stage.in_([s.value for s in OPEN_STAGES]))).one()
    contacts = session.scalar(select(func.count(Contact.id))
                              .where(Contact.company_id == company.id)) or 0
    return CompanyProfile(company, int(row[0] or 0), Decimal(row[1] or 0), "IDR", contacts)


# -- products, brochures and promotion targets ------------------------------------------------
@dataclass(frozen=True)
class ProductRef:
    sku: str
    name: str
    category: str | None


# Which industries a product category is promoted to (when no better signal exists).
CATEGORY_INDUSTRIES: dict[str, tuple[str, ...]] = {
    "servers": ("Manufacturing", "Logistics", "Healthcare", "Education"),
    "laptops": ("Education", "Healthcare", "Logistics", "Retail"),
    "monitors": ("Education", "Retail", "Manufacturing"),
    "accessories": ("Manufacturing", "Logistics", "Education"),
    "appliances": ("Hospitality", "Healthcare", "Retail"),
    "telecom": ("Retail", "Logistics", "Hospitality"),
    "services": ("Manufacturing", "Healthcare", "Logistics"),
    "bundles": ("Retail", "Education"),
}
# Segments a category suits best (ranked first).
CATEGORY_SEGMENTS: dict[str, tuple[str, ...]] = {
    "servers": ("enterprise", "midmarket"),
    "services": ("enterprise",),
    "bundles": ("smb",),
    "telecom": ("smb", "midmarket"),
}


def _has_table(session: Session, name: str) -> bool:
    """True when another area's table exists in the schema (its models are loaded)."""
    return name in Base.metadata.tables


def resolve_product(session: Session, text: str) -> ProductRef:
    """The product a rep names (SKU or fuzzy name); falls back to the text itself as a SKU
    when no catalogue exists yet. Raises NotFound when a catalogue exists and nothing fits."""
    text = (text or "").strip().strip("?.!\"'")
    if not text:
        raise NotFound("contacts.product_not_found", product=text)
    from core.models.quotes import Product

    if _has_table(session, "products"):
        rows = list(session.execute(select(Product.sku, Product.name, Product.category)))
        if rows:
            upper = text.upper().replace(" ", "-")
            for r in rows:
                if r.sku.upper() == upper or r.sku.upper() == text.upper():
                    return ProductRef(r.sku, r.name, r.category)
            choices = {i: f"{r.name} {r.sku}" for i, r in enumerate(rows)}
            best = process.extractOne(text, choices, scorer=fuzz.WRatio,
                                      processor=lambda s: " ".join(normalise(s)),
                                      score_cutoff=70)
            if best is not None:
                r = rows[best[2]]
                return ProductRef(r.sku, r.name, r.category)
            raise NotFound("contacts.product_not_found", product=text)
    return ProductRef(text.upper(), text, None)


def product_name(session: Session, sku: str) -> str | None:
    """A product's name by its SKU (None when the catalogue does not have it)."""
    if not _has_table(session, "products"):
        return None
    from core.models.quotes import Product

    return session.scalar(select(Product.name).where(Product.sku == sku))


@dataclass
class MaterialRow:
    material: MaterialSent
    company: Company
    contact: Contact | None
    sent_by: User | None


def materials_for(session: Session, user: User, product: ProductRef, limit: int = 50
                  ) -> list[MaterialRow]:
    """Who already got material for `product`: what, to whom, when, by whom (newest first)."""
    rows = session.execute(
        select(MaterialSent, Company, Contact, User)
        .join(Company, Company.id == MaterialSent.company_id)
        .outerjoin(Contact, Contact.id == MaterialSent.contact_id)
        .outerjoin(User, User.id == MaterialSent.sent_by_id)
        .where(MaterialSent.product_sku == product.sku, company_visible(session, user))
        .order_by(MaterialSent.sent_at.desc(), MaterialSent.id.desc())
        .limit(limit))
    return [MaterialRow(m, c, p, u) for m, c, p, u in rows]


@dataclass
class Target:
    company: Company
    reasons: list[str] = field(default_factory=list)  # codes: bought, industry, segment
    score: int = 0


def promotion_targets(session: Session, user: User, product: ProductRef, limit: int = 10
                      ) -> list[Target]:
    """Companies (in scope) to target for `product`: fitting industry/segment or past buyers
    of the category, excluding those who already received the product's brochure."""
    already = set(session.scalars(select(MaterialSent.company_id)
                                  .where(MaterialSent.product_sku == product.sku)))
    industries = CATEGORY_INDUSTRIES.get(product.category or "", ())
    segments = CATEGORY_SEGMENTS.get(product.category or "", ())
    buyers = _category_buyers(session, product)
    companies = session.scalars(select(Company).where(company_visible(session, user))
                                .order_by(Company.name))
    targets: list[Target] = []
    for company in companies:
        if company.id in already:
            continue
        t = Target(company)
        if company.id in buyers:
            t.reasons.append("bought")
            t.score += 3
        if company.industry in industries or (not industries and product.category is None):
            t.reasons.append("industry")
            t.score += 2
        if company.segment in segments:
            t.reasons.append("segment")
            t.score += 1
        if t.score >= 2:
            targets.append(t)
    targets.sort(key=lambda t: (-t.score, -(t.company.employees or 0), t.company.name))
    return targets[:limit]


def _category_buyers(session: Session, product: ProductRef) -> set[int]:
    """Companies with an order containing a product of the same category (or the SKU)."""
    if not _has_table(session, "sales_orders"):
        return set()
    try:
        from core.models.quotes import Product, QuoteLine, SalesOrder
    except ImportError:  # pragma: no cover
        return set()
    stmt = (select(SalesOrder.company_id)
            .join(QuoteLine, QuoteLine.version_id == SalesOrder.version_id)
            .outerjoin(Product, Product.sku == QuoteLine.sku))
    if product.category:
        stmt = stmt.where((Product.category == product.category) | (QuoteLine.sku == product.sku))
    else:
        stmt = stmt.where(QuoteLine.sku == product.sku)
    return set(session.scalars(stmt.distinct()))


# -- vCard ------------------------------------------------------------------------------------
def vcard(contact: Contact) -> bytes:
    """One contact as a vCard 3.0 file."""
    card = vobject.vCard()
    card.add("fn").value = contact.name
    parts = contact.name.split()
    card.add("n").value = vobject.vcard.Name(family=parts[-1] if len(parts) > 1 else "",
                                             given=" ".join(parts[:-1]) or contact.name)
    card.add("org").value = [contact.company.name]
    if contact.job_title:
        card.add("title").value = contact.job_title
    for number, kind in ((contact.mobile, "CELL"), (contact.phone, "WORK")):
        if number:
            tel = card.add("tel")
            tel.value = number
            tel.type_param = kind
    if contact.email:
        mail = card.add("email")
        mail.value = contact.email
        mail.type_param = "INTERNET"
    return card.serialize().encode("utf-8")


def vcard_filename(contact: Contact) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", contact.name).strip("-") or "contact"
    return f"{slug[:40]}.vcf"


def touch(record: Company | Contact, now: datetime) -> None:
    """Mark a record changed (other processes' indexes notice it by updated_at)."""
    record.updated_at = now
