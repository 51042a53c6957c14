"""The pricing engine: pure functions over Decimal, no database.

Rules: each line is rounded once, by its currency's rule (IDR whole rupiah, USD cents, half
up); a line's discount is its best volume tier combined with the quote's discount
(1 - (1 - tier)(1 - quote)); no discount takes a line below its floor price; tax is computed
on the rounded net line and rounded once; totals are the sums of the rounded lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from core.errors import DomainError

# Decimal places of each currency (ISO 4217 minor units); anything else: 2.
CURRENCY_EXPONENT: dict[str, int] = {"IDR": 0, "JPY": 0, "KRW": 0, "VND": 0}
HUNDRED = Decimal(100)
ZERO = Decimal(0)
PCT_QUANTUM = Decimal("0.0001")
MAX_QUANTITY = 1_000_000  # per line; keeps amounts inside Numeric(18, 2)


def quantum(currency: str) -> Decimal:
    """The smallest amount of `currency` a line is rounded to (1 for IDR, 0.01 for USD)."""
    return Decimal(1).scaleb(-CURRENCY_EXPONENT.get(currency.upper(), 2))


def round_money(amount: Decimal, currency: str, rounding: str = ROUND_HALF_UP) -> Decimal:
    """Round `amount` by the currency's rule (half up unless told otherwise)."""
    return Decimal(amount).quantize(quantum(currency), rounding=rounding)


@dataclass(frozen=True)
class Tier:
    """A volume tier: from `min_quantity` units, `pct` off, for one product or one category
    (both None: every product), valid between two dates (inclusive; None = open)."""

    min_quantity: int
    pct: Decimal
    product_key: str | None = None
    category: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None

    def applies(self, line: LineInput, on: date) -> bool:
        if self.valid_from is not None and on < self.valid_from:
            return False
        if self.valid_to is not None and on > self.valid_to:
            return False
        if self.product_key is not None and self.product_key != line.key:
            return False
        if self.category is not None and self.category != line.category:
            return False
        return line.quantity >= self.min_quantity


@dataclass(frozen=True)
class LineInput:
    """What to price: a product (its key, e.g. the SKU), a quantity and its list prices."""

    key: str
    name: str
    quantity: int
    unit_price: Decimal
    floor_price: Decimal = ZERO
    tax_rate: Decimal = ZERO  # percent
    category: str = ""


@dataclass(frozen=True)
class PricedLine:
    key: str
    name: str
    quantity: int
    unit_price: Decimal
    gross: Decimal  # unit price x quantity, rounded
    tier_pct: Decimal
    discount_pct: Decimal  # effective discount of the line (tier and quote), percent
    net: Decimal  # after discounts, rounded, never below the floor
    tax_rate: Decimal
    tax: Decimal
    floored: bool  # the floor stopped the discount

    @property
    def total(self) -> Decimal:
        return self.net + self.tax


@dataclass(frozen=True)
class PricedQuote:
    currency: str
    lines: tuple[PricedLine, ...]
    discount_pct: Decimal
    subtotal: Decimal  # sum of gross lines
    discount_total: Decimal  # subtotal - net total
    net_total: Decimal
    tax_total: Decimal
    total: Decimal

    @property
    def floored(self) -> tuple[PricedLine, ...]:
        return tuple(line for line in self.lines if line.floored)


def best_tier(tiers: Iterable[Tier], line: LineInput, on: date) -> Decimal:
    """The largest tier percentage that applies to `line` on `on` (0 if none)."""
    return max((t.pct for t in tiers if t.applies(line, on)), default=ZERO)


def check_discount(pct: Decimal) -> Decimal:
    """A quote discount must be a percentage from 0 to 100."""
    pct = Decimal(pct)
    if not pct.is_finite() or pct < 0 or pct > HUNDRED:
        raise DomainError("quote.bad_discount", pct=str(pct))
    return pct


def price_line(line: LineInput, currency: str, tier_pct: Decimal, discount_pct: Decimal
               ) -> PricedLine:
    if line.quantity <= 0:
        raise DomainError("quote.bad_quantity", quantity=line.quantity, name=line.name)
    if line.quantity > MAX_QUANTITY:
        raise DomainError("quote.too_many", quantity=line.quantity, name=line.name,
                          max=MAX_QUANTITY)
    if line.unit_price < 0:
        raise DomainError("quote.bad_price", name=line.name)
    keep = (1 - tier_pct / HUNDRED) * (1 - discount_pct / HUNDRED)
    raw_gross = line.unit_price * line.quantity
    gross = round_money(raw_gross, currency)
    floor_total = min(max(line.floor_price, ZERO), line.unit_price) * line.quantity
    floor_rounded = min(round_money(floor_total, currency, ROUND_CEILING), gross)
    net = round_money(raw_gross * keep, currency)
    floored = net < floor_rounded
    if floored:
        net = floor_rounded
    effective = ZERO if gross == 0 else ((1 - net / gross) * HUNDRED).quantize(PCT_QUANTUM)
    tax = round_money(net * line.tax_rate / HUNDRED, currency)
    return PricedLine(key=line.key, name=line.name, quantity=line.quantity,
                      unit_price=line.unit_price, gross=gross, tier_pct=tier_pct,
                      discount_pct=effective, net=net, tax_rate=line.tax_rate, tax=tax,
                      floored=floored)


def price_quote(lines: Sequence[LineInput], *, currency: str, on: date,
                tiers: Sequence[Tier] = (), discount_pct: Decimal = ZERO) -> PricedQuote:
    """Price every line, then sum the rounded lines."""
    discount_pct = check_discount(discount_pct)
    priced = tuple(price_line(line, currency, best_tier(tiers, line, on), discount_pct)
                   for line in lines)
    subtotal = sum((p.gross for p in priced), ZERO)
    net_total = sum((p.net for p in priced), ZERO)
    tax_total = sum((p.tax for p in priced), ZERO)
    q = quantum(currency)
    return PricedQuote(currency=currency, lines=priced, discount_pct=discount_pct,
                       subtotal=subtotal.quantize(q), discount_total=(subtotal - net_total)
                       .quantize(q), net_total=net_total.quantize(q),
                       tax_total=tax_total.quantize(q),
                       total=(net_total + tax_total).quantize(q))
