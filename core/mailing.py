"""Mailing suggestions: per customer of the user, the next material worth sending.

Four kinds, each keyed by a stable "material" string so that marking it sent (a row in the
materials log) makes it disappear:
- ``brochure:<SKU>``: a product that customers of the same industry ordered, which this
  customer has neither ordered nor received a brochure for;
- ``thank-you:<order>``: an order placed in the last 14 days;
- ``quote-reminder:<quote>``: a quote whose validity ends within 7 days and is not accepted;
- ``delay:<delivery id>``: a delivery that is late or announced as delayed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from core.errors import DomainError, NotFound
from core.models import Company, Contact, MaterialSent, Role, User
from core.models.quotes import Product, Quote, QuoteLine, QuoteVersion, SalesOrder
from core.models.scheduling import DeliverySchedule
from core.scope import company_visible

THANK_YOU_DAYS = 14
QUOTE_EXPIRY_DAYS = 7
MAX_BROCHURES_PER_CUSTOMER = 1


@dataclass(frozen=True)
class Suggestion:
    kind: str  # brochure, thank_you, quote_reminder, delay_notice
    material: str  # the key recorded in the materials log when marked as sent
    company_id: int
    company_name: str
    contact_id: int | None
    contact_name: str | None
    product_sku: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


def _customers(session: Session, user: User) -> list[Company]:
    """The user's customers: a rep's own accounts, a manager's team scope, all for admins."""
    stmt = select(Company).where(company_visible(session, user))
    if user.role == Role.REP.value:
        stmt = stmt.where(Company.owner_id == user.id)
    return list(session.scalars(stmt.order_by(Company.name)))


def _sent(session: Session, company_ids: list[int]) -> set[tuple[int, str]]:
    rows = session.execute(select(MaterialSent.company_id, MaterialSent.material).where(
        MaterialSent.company_id.in_(company_ids))).all()
    return {(c, m) for c, m in rows}


def _best_contact(session: Session, company_id: int) -> Contact | None:
    return session.scalar(select(Contact).where(Contact.company_id == company_id).order_by(
        Contact.is_decision_maker.desc(), (Contact.department == "Purchasing").desc(),
        Contact.id).limit(1))


def suggestions(session: Session, user: User, now: datetime, limit: int = 10
                ) -> list[Suggestion]:
    """What to send next, most urgent first: delay notices, expiring quotes, thank-yous,
    then brochures."""
    customers = _customers(session, user)
    if not customers:
        return []
    by_id = {c.id: c for c in customers}
    ids = list(by_id)
    sent = _sent(session, ids)
    out: list[Suggestion] = []

    def add(kind: str, material: str, company_id: int, **params: Any) -> None:
        if (company_id, material) in sent:
            return
        contact = _best_contact(session, company_id)
        out.append(Suggestion(kind=kind, material=material, company_id=company_id,
                              company_name=by_id[company_id].name,
                              contact_id=contact.id if contact else None,
                              contact_name=contact.name if contact else None,
                              product_sku=params.pop("sku", None), params=params))

    for delivery in session.scalars(select(DeliverySchedule).where(
            DeliverySchedule.company_id.in_(ids),
            or_(DeliverySchedule.status == "delayed",
                and_(DeliverySchedule.status == "scheduled",
                     DeliverySchedule.scheduled_for < now)))
            .order_by(DeliverySchedule.scheduled_for)):
        add("delay_notice", f"delay:{delivery.id}", delivery.company_id,
            description=delivery.description, when=delivery.scheduled_for.isoformat(),
            reason=delivery.delay_reason or "")

    soon = (now + timedelta(days=QUOTE_EXPIRY_DAYS)).date()
    for quote, version in session.execute(
            select(Quote, QuoteVersion)
            .join(QuoteVersion, and_(QuoteVersion.quote_id == Quote.id,
                                     QuoteVersion.number == Quote.current_version))
            .where(Quote.company_id.in_(ids),
                   Quote.status.notin_(["accepted", "ordered", "rejected", "expired",
                                        "superseded"]),
                   QuoteVersion.valid_until >= now.date(), QuoteVersion.valid_until <= soon)
            .order_by(QuoteVersion.valid_until)).all():
        add("quote_reminder", f"quote-reminder:{quote.number}", quote.company_id,
            quote=quote.number, valid_until=version.valid_until.isoformat(),
            total=str(version.total), currency=quote.currency)

    for order in session.scalars(select(SalesOrder).where(
            SalesOrder.company_id.in_(ids),
            SalesOrder.created_at >= now - timedelta(days=THANK_YOU_DAYS))
            .order_by(SalesOrder.created_at)):
        add("thank_you", f"thank-you:{order.number}", order.company_id, order=order.number,
            total=str(order.total), currency=order.currency)

    # Products each industry orders (from order history), most ordered first.
    popular = session.execute(
        select(Company.industry, QuoteLine.sku, Product.name, func.count())
        .select_from(SalesOrder)
        .join(Company, Company.id == SalesOrder.company_id)
        .join(QuoteLine, QuoteLine.version_id == SalesOrder.version_id)
        .join(Product, Product.sku == QuoteLine.sku)
        .where(Company.industry.is_not(None), Product.active)
        .group_by(Company.industry, QuoteLine.sku, Product.name)
        .order_by(func.count().desc(), QuoteLine.sku)).all()
    by_industry: dict[str, list[tuple[str, str]]] = {}
    for industry, sku, name, _n in popular:
        if industry is None:
            continue
        by_industry.setdefault(industry, []).append((sku, name))
    ordered = {(c, s) for c, s in session.execute(
        select(SalesOrder.company_id, QuoteLine.sku)
        .join(QuoteLine, QuoteLine.version_id == SalesOrder.version_id)
        .where(SalesOrder.company_id.in_(ids))).all()}
    received = {(c, s) for c, s in session.execute(
        select(MaterialSent.company_id, MaterialSent.product_sku).where(
            MaterialSent.company_id.in_(ids), MaterialSent.product_sku.is_not(None))).all()}
    for company in customers:
        count = 0
        for sku, name in by_industry.get(company.industry or "", []):
            if (company.id, sku) in ordered or (company.id, sku) in received:
                continue
            add("brochure", f"brochure:{sku}", company.id, sku=sku, product=name,
                industry=company.industry)
            count += 1
            if count >= MAX_BROCHURES_PER_CUSTOMER:
                break
    return out[:limit]


def mark_sent(session: Session, user: User, company_id: int, material: str, now: datetime,
              *, contact_id: int | None = None, channel: str = "email") -> MaterialSent:
    """Record in the materials log that `material` went to the company (idempotent)."""
    company = session.scalar(select(Company).where(Company.id == company_id,
                                                   company_visible(session, user)))
    if company is None:
        raise NotFound("mailing.not_found")
    if not material or len(material) > 200 or ":" not in material:
        raise DomainError("mailing.bad_material")
    existing = session.scalar(select(MaterialSent).where(
        MaterialSent.company_id == company_id, MaterialSent.material == material))
    if existing is not None:
        return existing
    kind, _, ref = material.partition(":")
    row = MaterialSent(material=material, product_sku=ref if kind == "brochure" else None,
                       company_id=company_id, contact_id=contact_id, sent_by_id=user.id,
                       sent_at=now, channel=channel)
    session.add(row)
    session.flush()
    return row
