"""Quotes: price a configured item list for a customer, versions (v1, v2, ...), a discount
within the rep's limit or sent for approval, and acceptance into an order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import approvals, organisation
from core.catalog import check_configuration, expand_bundles
from core.errors import Conflict, DomainError, NotFound
from core.models import ApprovalRequest, Company, Deal, Role, Stage, User
from core.models.quotes import (
    DiscountSchedule,
    PriceList,
    PriceListItem,
    Product,
    Quote,
    QuoteLine,
    QuoteVersion,
    SalesOrder,
)
from core.notices import enqueue_notice
from core.pricing import LineInput, PricedQuote, Tier, check_discount, price_quote
from core.scope import company_visible

VALIDITY_DAYS = 30  # until the admin sets the organisation's quote validity
DEFAULT_LIMIT_PCT = Decimal("0")


@dataclass(frozen=True, slots=True)
class PricedProduct:
    """What a quote line keeps of its product."""

    id: int
    sku: str
    name: str
    unit: str | None
    category: str | None


@dataclass(frozen=True)
class Pricing:
    price_list: PriceList
    priced: PricedQuote
    products: dict[str, PricedProduct]  # by SKU


def local_day(now: datetime) -> date:
    return now.date()


def price_list_for(session: Session, company: Company, on: date, currency: str | None = None
                   ) -> PriceList:
    """The customer's price list on `on`: its segment's list first, then the general one."""
    query = select(PriceList).where(PriceList.active)
    if currency is not None:
        query = query.where(PriceList.currency == currency.upper())
    lists = list(session.scalars(query.order_by(PriceList.id)))
    if not lists:
        if currency is not None:
            raise DomainError("quote.no_currency", currency=currency.upper())
        raise DomainError("quote.no_price_list")
    fitting = [pl for pl in lists if pl.segment in (None, company.segment)]
    valid = [pl for pl in fitting if pl.valid_from <= on and (pl.valid_to is None
                                                               or pl.valid_to >= on)]
    if not valid:
        expired = [pl for pl in fitting if pl.valid_to is not None and pl.valid_to < on]
        if expired:
            last = max(expired, key=lambda pl: pl.valid_to or on)
            raise DomainError("quote.price_list_expired", name=last.name,
                              date=(last.valid_to or on).isoformat())
        raise DomainError("quote.no_price_list")
    # Segment-specific before general; the home currency (IDR) before others.
    valid.sort(key=lambda pl: (pl.segment is None, pl.currency != "IDR",
                               -pl.valid_from.toordinal()))
    return valid[0]


def tiers_on(session: Session, on: date) -> list[Tier]:
    d = DiscountSchedule
    rows = session.execute(
        select(d.min_quantity, d.pct, Product.sku, d.category, d.valid_from, d.valid_to)
        .outerjoin(Product, Product.id == d.product_id)
        .where(d.valid_from <= on, (d.valid_to.is_(None)) | (d.valid_to >= on))).all()
    return [Tier(min_quantity=qty, pct=Decimal(pct), product_key=sku, category=category,
                 valid_from=valid_from, valid_to=valid_to)
            for qty, pct, sku, category, valid_from, valid_to in rows]


def price_items(session: Session, price_list: PriceList, items: dict[int, int], on: date,
                discount_pct: Decimal = Decimal(0)) -> Pricing:
    """Price `items` (product id -> quantity, bundles expanded) on `price_list`."""
    if price_list.valid_from > on or (price_list.valid_to is not None
                                      and price_list.valid_to < on):
        raise DomainError("quote.price_list_expired", name=price_list.name,
                          date=(price_list.valid_to or price_list.valid_from).isoformat())
    if not items:
        raise DomainError("quote.no_items")
    expanded = expand_bundles(session, items)
    # Columns, not entities: a 200-line quote is 400 ORM objects less (a third of the time).
    rows = session.execute(
        select(Product.id, Product.sku, Product.name, Product.unit, Product.category,
               Product.tax_rate, PriceListItem.id, PriceListItem.unit_price,
               PriceListItem.floor_price)
        .outerjoin(PriceListItem, (PriceListItem.product_id == Product.id)
                   & (PriceListItem.price_list_id == price_list.id))
        .where(Product.id.in_(list(expanded)))).all()
    by_id = {row[0]: row for row in rows}
    lines = []
    products: dict[str, PricedProduct] = {}
    for pid, qty in expanded.items():
        if pid not in by_id:
            raise NotFound("quote.unknown_product", name=str(pid))
        _, sku, name, unit, category, tax_rate, item_id, unit_price, floor_price = by_id[pid]
        if item_id is None:
            raise DomainError("quote.no_price", name=name, price_list=price_list.name,
                              currency=price_list.currency)
        if qty <= 0:
            raise DomainError("quote.bad_quantity", quantity=qty, name=name)
        products[sku] = PricedProduct(pid, sku, name, unit, category)
        lines.append(LineInput(key=sku, name=name, quantity=qty,
                               unit_price=Decimal(unit_price),
                               floor_price=Decimal(floor_price),
                               tax_rate=Decimal(tax_rate), category=category))
    priced = price_quote(lines, currency=price_list.currency, on=on,
                         tiers=tiers_on(session, on), discount_pct=discount_pct)
    return Pricing(price_list, priced, products)


def discount_limit(user: User) -> Decimal:
    if user.role == Role.ADMIN.value:
        return Decimal(100)
    return Decimal(user.discount_limit_pct) if user.discount_limit_pct is not None \
        else DEFAULT_LIMIT_PCT


def _next_number(session: Session, prefix: str, model: Any, now: datetime) -> str:
    year = now.year
    count = session.scalar(select(func.count()).select_from(model).where(
        model.number.like(f"{prefix}-{year}-%"))) or 0
    return f"{prefix}-{year}-{count + 1:04d}"


def _write_version(session: Session, quote: Quote, number: int, pricing: Pricing, user: User,
                   now: datetime, *, discount_pct: Decimal, requested: Decimal, status: str,
                   note: str | None) -> QuoteVersion:
    on = local_day(now)
    valid_until = on + timedelta(days=organisation.quote_validity_days(session))
    if pricing.price_list.valid_to is not None:
        valid_until = min(valid_until, pricing.price_list.valid_to)
    p = pricing.priced
    version = QuoteVersion(
        quote_id=quote.id, number=number, discount_pct=discount_pct,
        requested_discount_pct=requested, discount_status=status, subtotal=p.subtotal,
        discount_total=p.discount_total, tax_total=p.tax_total, total=p.total,
        valid_until=valid_until, note=note, created_by_id=user.id, created_at=now)
    _set_lines(version, pricing)
    session.add(version)
    session.flush()
    return version


def _set_lines(version: QuoteVersion, pricing: Pricing) -> None:
    version.lines = [
        QuoteLine(position=i, product_id=pricing.products[line.key].id, sku=line.key,
                  name=line.name, quantity=line.quantity, unit_price=line.unit_price,
                  discount_pct=line.discount_pct, net=line.net, tax_rate=line.tax_rate,
                  tax=line.tax, details={"tier_pct": str(line.tier_pct),
                                         "unit": pricing.products[line.key].unit})
        for i, line in enumerate(pricing.priced.lines, start=1)]


def _check_config(session: Session, items: dict[int, int]) -> None:
    issues = check_configuration(session, expand_bundles(session, items))
    if issues:
        issue = issues[0]
        raise DomainError(f"quote.config_{issue.kind}", product=issue.product.name,
                          target=issue.target.name)


def _check_floor(pricing: Pricing, discount_pct: Decimal) -> None:
    if discount_pct > 0 and pricing.priced.floored:
        line = pricing.priced.floored[0]
        raise DomainError("quote.below_floor", name=line.name, pct=str(discount_pct))


def save_quote(session: Session, user: User, *, company: Company, items: dict[int, int],
               now: datetime, deal: Deal | None = None, quote: Quote | None = None,
               currency: str | None = None, discount_pct: Decimal = Decimal(0),
               reason: str | None = None) -> QuoteVersion:
    """Save a new quote (v1) or a new version of `quote`, priced now.

    A discount within the user's limit is applied; above it the version is priced without
    it and an approval request goes to the manager (applied when approved).
    """
    discount_pct = check_discount(discount_pct)
    on = local_day(now)
    if quote is not None:
        if quote.status == "accepted":
            raise Conflict("quote.already_accepted", number=quote.number)
        if currency is not None and currency.upper() != quote.currency:
            raise DomainError("quote.currency_mismatch", currency=currency.upper(),
                              quote_currency=quote.currency)
        currency = quote.currency
        company = session.get(Company, quote.company_id) or company
        if session.scalar(select(ApprovalRequest.id).where(
                ApprovalRequest.kind == "discount", ApprovalRequest.ref_id == quote.id,
                ApprovalRequest.status == "pending")) is not None:
            raise DomainError("quote.revise_pending", number=quote.number)
    _check_config(session, items)
    price_list = price_list_for(session, company, on, currency)
    if quote is not None and price_list.currency != quote.currency:
        raise DomainError("quote.currency_mismatch", currency=price_list.currency,
                          quote_currency=quote.currency)
    full = price_items(session, price_list, items, on, discount_pct)
    _check_floor(full, discount_pct)
    needs_approval = discount_pct > discount_limit(user)
    pricing = price_items(session, price_list, items, on) if needs_approval else full
    if quote is None:
        quote = Quote(number=_next_number(session, "Q", Quote, now), company_id=company.id,
                      deal_id=deal.id if deal else None, owner_id=user.id,
                      currency=price_list.currency, price_list_id=price_list.id,
                      status="draft", current_version=0, created_at=now, updated_at=now)
        session.add(quote)
        session.flush()
    number = quote.current_version + 1
    status = "pending" if needs_approval else ("applied" if discount_pct > 0 else "none")
    version = _write_version(session, quote, number, pricing, user, now,
                             discount_pct=Decimal(0) if needs_approval else discount_pct,
                             requested=discount_pct, status=status, note=reason)
    quote.current_version = number
    quote.price_list_id = price_list.id
    quote.status = "pending" if needs_approval else "sent"
    quote.updated_at = now
    deal = deal or (session.get(Deal, quote.deal_id) if quote.deal_id else None)
    if deal is not None:
        facts = dict(deal.facts or {})
        facts["quote_id"] = quote.id
        deal.facts = facts
        if deal.currency == quote.currency:
            deal.amount = full.priced.net_total
    if needs_approval:
        request = approvals.request_approval(
            session, kind="discount", ref_id=quote.id, requester=user, now=now,
            deal_id=quote.deal_id, amount=full.priced.total, reason=reason,
            details={"quote_id": quote.id, "quote_number": quote.number,
                     "version": number, "discount_pct": str(discount_pct.normalize()),
                     "customer": company.name, "currency": quote.currency,
                     "total": str(full.priced.total)})
        version.approval_id = request.id
    session.flush()
    return version


def on_discount_decided(session: Session, request: ApprovalRequest, now: datetime) -> None:
    """Apply (approved) or drop (rejected) the discount of the version it was asked for."""
    quote = session.get(Quote, request.ref_id)
    if quote is None:
        return
    number = int(request.details.get("version") or quote.current_version)
    version = session.scalar(select(QuoteVersion).where(
        QuoteVersion.quote_id == quote.id, QuoteVersion.number == number))
    if version is None or version.discount_status != "pending":
        return
    if request.status == "approved":
        pct = Decimal(version.requested_discount_pct)
        items: dict[int, int] = {}
        for line in version.lines:
            if line.product_id is not None:
                items[line.product_id] = items.get(line.product_id, 0) + line.quantity
        plist = session.get(PriceList, quote.price_list_id) if quote.price_list_id else None
        if plist is None:
            return
        pricing = price_items(session, plist, items, version.created_at.date(), pct)
        p = pricing.priced
        version.lines.clear()
        session.flush()
        _set_lines(version, pricing)
        version.subtotal, version.discount_total = p.subtotal, p.discount_total
        version.tax_total, version.total = p.tax_total, p.total
        version.discount_pct = pct
        version.discount_status = "applied"
    else:
        version.discount_status = "rejected"
    if quote.current_version == number and quote.status == "pending":
        quote.status = "sent"
    quote.updated_at = now
    # Urgent like the decision itself (core.approvals): the rep asked for it and waits to
    # send the quote; the decision's push must not arrive at 21:05 with its PDF at 07:00.
    enqueue_notice(session, kind="quote.ready", reason=f"quote:{quote.id}:v{number}:decided",
                   recipient_user_id=request.requested_by_id, due_at=now, now=now,
                   params={"quote_id": quote.id, "version": number,
                           "decision": request.status}, urgent=True)



def get_quote(session: Session, user: User, ref: int | str) -> Quote:
    """A quote the user may see, by id or number (Q-2026-0001); else not found."""
    query = select(Quote).join(Company, Company.id == Quote.company_id).where(
        company_visible(session, user))
    text = str(ref).strip()
    if isinstance(ref, int) or (text.isascii() and text.isdigit()):
        if len(text) > 9:
            raise NotFound("quote.not_found", ref=text[:20])
        query = query.where(Quote.id == int(text))
    else:
        query = query.where(func.upper(Quote.number) == text[:40].upper())
    quote = session.scalar(query)
    if quote is None:
        raise NotFound("quote.not_found", ref=str(ref))
    return quote


def current_version(session: Session, quote: Quote) -> QuoteVersion:
    version = session.scalar(select(QuoteVersion).where(
        QuoteVersion.quote_id == quote.id, QuoteVersion.number == quote.current_version))
    if version is None:
        raise NotFound("quote.not_found", ref=quote.number)
    return version


def version_items(version: QuoteVersion) -> dict[int, int]:
    items: dict[int, int] = {}
    for line in version.lines:
        if line.product_id is not None:
            items[line.product_id] = items.get(line.product_id, 0) + line.quantity
    return items


def recent_quotes(session: Session, user: User, limit: int = 5) -> Sequence[Quote]:
    return session.scalars(select(Quote).join(Company, Company.id == Quote.company_id)
                           .where(company_visible(session, user))
                           .order_by(Quote.updated_at.desc(), Quote.id.desc())
                           .limit(limit)).all()


def accept_quote(session: Session, user: User, quote_ref: int | str, now: datetime
                 ) -> SalesOrder:
    """Turn the quote's current version into an order; the deal moves to Order placed."""
    quote = get_quote(session, user, quote_ref)
    if quote.status == "accepted":
        raise Conflict("quote.already_accepted", number=quote.number)
    version = current_version(session, quote)
    if version.discount_status == "pending":
        raise DomainError("quote.discount_pending", number=quote.number)
    if version.valid_until < local_day(now):
        raise DomainError("quote.expired", number=quote.number,
                          date=version.valid_until.isoformat())
    order = SalesOrder(number=_next_number(session, "SO", SalesOrder, now), quote_id=quote.id,
                       version_id=version.id, company_id=quote.company_id, deal_id=quote.deal_id,
                       currency=quote.currency, total=version.total, created_by_id=user.id,
                       created_at=now)
    session.add(order)
    quote.status = "accepted"
    quote.updated_at = now
    session.flush()
    if quote.deal_id is not None:
        deal = session.get(Deal, quote.deal_id)
        if deal is not None and deal.stage != Stage.ORDER_PLACED.value:
            from core import pipeline  # the pipeline's gates decide

            facts = dict(deal.facts or {})
            facts["accepted_quote_id"] = quote.id
            facts["order_ref"] = order.number
            deal.facts = facts
            if deal.currency == quote.currency:
                deal.amount = version.total - version.tax_total
            pipeline.advance_deal(session, deal, Stage.ORDER_PLACED, user, now,
                                  reason=f"quote {quote.number} v{version.number} accepted")
    return order
