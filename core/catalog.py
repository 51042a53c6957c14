"""The catalogue: products, fuzzy search, configuration rules (requires / excludes / bundle /
option / suggests), cross-sell suggestions and the products / price lists CSV import."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from rapidfuzz import fuzz, process, utils
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from core.csv_files import ImportReport, Row, import_rows
from core.errors import DomainError
from core.models.quotes import (
    PriceList,
    PriceListItem,
    Product,
    ProductRule,
    QuoteLine,
    SalesOrder,
)
from core.pricing import MAX_QUANTITY

RULE_KINDS = ("requires", "excludes", "bundle", "option", "suggests")
MATCH_CUTOFF = 50.0  # below this a product is not even suggested


# -- search --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProductMatch:
    product: Product
    score: float


def active_products(session: Session) -> list[Product]:
    return list(session.scalars(select(Product).where(Product.active).order_by(Product.id)))


def find_products(session: Session, query: str, limit: int = 5,
                  products: list[Product] | None = None) -> list[ProductMatch]:
    """Active products whose SKU or name resembles `query`, best first."""
    q = " ".join(query.split())
    if not q:
        return []
    products = products if products is not None else active_products(session)
    for p in products:
        if p.sku.lower() == q.lower() or p.name.lower() == q.lower():
            return [ProductMatch(p, 100.0)]
    choices = {i: f"{p.name} {p.sku}" for i, p in enumerate(products)}
    found = process.extract(q, choices, scorer=fuzz.token_set_ratio,
                            processor=utils.default_process, limit=limit)
    return [ProductMatch(products[i], float(score)) for _c, score, i in found]


@dataclass(frozen=True)
class ItemRequest:
    text: str
    quantity: int


_QTY = re.compile(r"^\s*(?P<qty>[-+]?\d+)\s*(?:x|pcs|units?|buah|unit)?\s+(?P<name>\S.*)$",
                  re.IGNORECASE)
_SPLIT = re.compile(r"\s*(?:[,;\n]|\band\b|\bdan\b|&)\s*", re.IGNORECASE)


def parse_items(text: str) -> list[ItemRequest]:
    """Read "2 server x1, 10 laptop pro" into (text, quantity) pairs (default quantity 1)."""
    items = []
    for part in _SPLIT.split(text.strip()):
        if not part.strip():
            continue
        m = _QTY.match(part)
        if m:
            items.append(ItemRequest(m.group("name").strip(), int(m.group("qty"))))
        else:
            items.append(ItemRequest(part.strip(), 1))
    return items


@dataclass
class ResolvedItems:
    found: list[tuple[Product, int]] = field(default_factory=list)
    # (what was typed, suggestions)
    unknown: list[tuple[str, list[Product]]] = field(default_factory=list)


def resolve_items(session: Session, text: str) -> ResolvedItems:
    """Match each typed item to a product; quantities must be positive whole numbers."""
    requests = parse_items(text)
    if not requests:
        raise DomainError("quote.no_items")
    products = active_products(session)
    result = ResolvedItems()
    for item in requests:
        if item.quantity <= 0:
            raise DomainError("quote.bad_quantity", quantity=item.quantity, name=item.text)
        if item.quantity > MAX_QUANTITY:
            raise DomainError("quote.too_many", quantity=item.quantity, name=item.text,
                              max=MAX_QUANTITY)
        matches = find_products(session, item.text, limit=3, products=products)
        best = matches[0] if matches else None
        clear = best is not None and best.score >= 90 and (
            len(matches) == 1 or matches[1].score < best.score - 10)
        if clear and best is not None:
            result.found.append((best.product, item.quantity))
        else:
            result.unknown.append((item.text, [m.product for m in matches
                                               if m.score >= MATCH_CUTOFF]))
    return result


# -- configuration rules -------------------------------------------------------------------
@dataclass(frozen=True)
class Issue:
    """A configuration problem: `product` requires / excludes `target`.

    kind: requires (add `quantity` x target), excludes (remove one of the two),
    unsatisfiable (the product requires something that is excluded: remove the product).
    """

    kind: str
    product: Product
    target: Product
    quantity: int = 0


def rules_for(session: Session, product_ids: Iterable[int], kinds: Iterable[str] = RULE_KINDS
              ) -> list[ProductRule]:
    ids = list(set(product_ids))
    if not ids:
        return []
    return list(session.scalars(select(ProductRule).where(
        ProductRule.product_id.in_(ids), ProductRule.kind.in_(list(kinds)))
        .order_by(ProductRule.id)))


def expand_bundles(session: Session, items: Mapping[int, int]) -> dict[int, int]:
    """Replace every bundle by its components (quantity x component quantity), recursively."""
    result: dict[int, int] = dict(items)
    for _depth in range(5):
        bundles = rules_for(session, result, ("bundle",))
        if not bundles:
            return result
        expanded: dict[int, int] = {}
        bundle_ids = {r.product_id for r in bundles}
        for pid, qty in result.items():
            if pid not in bundle_ids:
                expanded[pid] = expanded.get(pid, 0) + qty
        for rule in bundles:
            qty = result[rule.product_id] * rule.quantity
            expanded[rule.target_id] = expanded.get(rule.target_id, 0) + qty
        result = expanded
    raise DomainError("catalog.bundle_loop")


def check_configuration(session: Session, items: Mapping[int, int]) -> list[Issue]:
    """Every requires / excludes rule the items break (items: product id -> quantity)."""
    present = {pid for pid, qty in items.items() if qty > 0}
    rules = rules_for(session, present, ("requires", "excludes"))
    # Excludes are symmetric: a rule stored on either side counts.
    excluded_pairs = {frozenset((r.product_id, r.target_id)) for r in rules_for(
        session, present | {r.target_id for r in rules}, ("excludes",))}
    issues: list[Issue] = []
    seen: set[frozenset[int]] = set()
    for rule in rules:
        if rule.kind == "requires":
            needed = items[rule.product_id] * rule.quantity
            have = items.get(rule.target_id, 0)
            if have >= needed:
                continue
            blockers = {p for p in present | {rule.product_id}
                        if frozenset((p, rule.target_id)) in excluded_pairs}
            kind = "unsatisfiable" if blockers else "requires"
            issues.append(Issue(kind, rule.product, rule.target, needed - have))
        elif rule.target_id in present:
            pair = frozenset((rule.product_id, rule.target_id))
            if pair not in seen:
                seen.add(pair)
                issues.append(Issue("excludes", rule.product, rule.target))
    order = {"unsatisfiable": 0, "excludes": 1, "requires": 2}
    return sorted(issues, key=lambda i: order[i.kind])


def cross_sell(session: Session, product_ids: Iterable[int], limit: int = 3) -> list[Product]:
    """What customers buying these products also need: rules first (suggests, options,
    requires), then products often ordered together, never one already in the quote."""
    ids = set(product_ids)
    if not ids:
        return []
    picked: list[Product] = []
    for rule in rules_for(session, ids, ("suggests", "option")):
        target = rule.target
        if target.id not in ids and target.active and target not in picked:
            picked.append(target)
    if len(picked) < limit:
        mine, other = aliased(QuoteLine), aliased(QuoteLine)
        rows = session.execute(
            select(other.product_id, func.count().label("n"))
            .select_from(SalesOrder)
            .join(mine, mine.version_id == SalesOrder.version_id)
            .join(other, other.version_id == SalesOrder.version_id)
            .where(mine.product_id.in_(ids), other.product_id.is_not(None),
                   other.product_id.not_in(ids))
            .group_by(other.product_id).order_by(func.count().desc(), other.product_id)
            .limit(limit * 2)).all()
        for pid, _n in rows:
            product = session.get(Product, pid)
            if product is not None and product.active and product not in picked:
                picked.append(product)
    return picked[:limit]


# -- CSV import (products, price lists) ----------------------------------------------------
# Reuses the generic row-report import of core.imports: each row is parsed (a DomainError
# refuses it, with a code the CLI words) and upserted in its own savepoint; the same file
# twice creates nothing new.
def _decimal(row: Row, column: str, default: Decimal | None = None) -> Decimal:
    text = (row.get(column) or "").strip().replace(" ", "")
    if not text:
        if default is not None:
            return default
        raise DomainError("catalog.missing", column=column)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise DomainError("catalog.bad_number", column=column, value=text[:40]) from None
    if not number.is_finite() or number < 0 or number >= Decimal("1e15"):
        raise DomainError("catalog.bad_number", column=column, value=text[:40])
    return number


def _date(row: Row, column: str) -> date | None:
    text = (row.get(column) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DomainError("catalog.bad_date", column=column, value=text[:40]) from None


def _active(row: Row) -> bool:
    return (row.get("active") or "yes").strip().lower() not in {
        "0", "no", "false", "n", "tidak", "inactive"}


def _apply(obj: object, values: Mapping[str, object]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def import_products(session: Session, rows: Iterable[tuple[int, Row]], now: datetime,
                    progress: Callable[[int], None] | None = None) -> ImportReport:
    """Columns: sku, name, category, unit, tax_rate, active, description (matched by SKU)."""

    def parse(row: Row) -> dict[str, Any]:
        sku, name = (row.get("sku") or "").strip(), (row.get("name") or "").strip()
        if not sku or not name:
            raise DomainError("catalog.sku_name_required")
        tax = _decimal(row, "tax_rate", Decimal("11"))
        if tax > 100:
            raise DomainError("catalog.bad_tax", value=str(tax))
        return {"sku": sku[:40], "name": name[:160],
                "category": (row.get("category") or "").strip()[:60] or "general",
                "unit": (row.get("unit") or "").strip()[:20] or "unit", "tax_rate": tax,
                "active": _active(row),
                "description": (row.get("description") or "").strip() or None}

    def upsert(s: Session, values: dict[str, Any]) -> str:
        product = s.scalar(select(Product).where(Product.sku == values["sku"]))
        if product is None:
            s.add(Product(created_at=now, updated_at=now, **values))
            return "created"
        if _apply(product, values):
            product.updated_at = now
            return "updated"
        return "unchanged"

    return import_rows(session, rows, parse, upsert, progress)


def import_price_lists(session: Session, rows: Iterable[tuple[int, Row]], now: datetime,
                       progress: Callable[[int], None] | None = None) -> ImportReport:
    """Columns: price_list, currency, segment, valid_from, valid_to, sku, unit_price,
    floor_price (optional name). One row per product price; lists are made as needed."""

    def parse(row: Row) -> dict[str, Any]:
        code, sku = (row.get("price_list") or "").strip(), (row.get("sku") or "").strip()
        if not code or not sku:
            raise DomainError("catalog.list_sku_required")
        currency = (row.get("currency") or "").strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise DomainError("catalog.bad_currency", value=(row.get("currency") or "")[:20])
        valid_from = _date(row, "valid_from") or now.date()
        valid_to = _date(row, "valid_to")
        if valid_to is not None and valid_to < valid_from:
            raise DomainError("catalog.dates_reversed")
        unit_price = _decimal(row, "unit_price")
        floor_price = _decimal(row, "floor_price", Decimal("0"))
        if floor_price > unit_price:
            raise DomainError("catalog.floor_above_price")
        product = session.scalar(select(Product).where(Product.sku == sku))
        if product is None:
            raise DomainError("catalog.unknown_sku", sku=sku[:40])
        plist = session.scalar(select(PriceList).where(PriceList.code == code))
        if plist is not None and plist.currency != currency:
            raise DomainError("catalog.currency_clash", price_list=code[:40],
                              currency=plist.currency, value=currency)
        return {"code": code[:40], "currency": currency, "product_id": product.id,
                "list": {"name": (row.get("name") or code).strip()[:120],
                         "segment": (row.get("segment") or "").strip().lower()[:40] or None,
                         "valid_from": valid_from, "valid_to": valid_to},
                "item": {"unit_price": unit_price, "floor_price": floor_price}}

    def upsert(s: Session, v: dict[str, Any]) -> str:
        plist = s.scalar(select(PriceList).where(PriceList.code == v["code"]))
        changed = False
        if plist is None:
            plist = PriceList(code=v["code"], currency=v["currency"], active=True, **v["list"])
            s.add(plist)
            s.flush()
        else:
            changed = _apply(plist, v["list"])
        item = s.scalar(select(PriceListItem).where(
            PriceListItem.price_list_id == plist.id,
            PriceListItem.product_id == v["product_id"]))
        if item is None:
            s.add(PriceListItem(price_list_id=plist.id, product_id=v["product_id"],
                                **v["item"]))
            return "created"
        return "updated" if _apply(item, v["item"]) or changed else "unchanged"

    return import_rows(session, rows, parse, upsert, progress)


def add_rule(session: Session, kind: str, product: Product, target: Product, quantity: int = 1,
             note: str | None = None) -> ProductRule:
    if kind not in RULE_KINDS:
        raise DomainError("catalog.bad_rule", kind=kind)
    if product.id == target.id or quantity <= 0:
        raise DomainError("catalog.bad_rule", kind=kind)
    rule = ProductRule(kind=kind, product_id=product.id, target_id=target.id, quantity=quantity,
                       note=note)
    session.add(rule)
    session.flush()
    return rule
