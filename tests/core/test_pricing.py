"""The pricing engine: properties (hypothesis) and the rules at their boundaries."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import DomainError
from core.pricing import LineInput, Tier, price_quote, quantum, round_money

ON = date(2026, 3, 2)
CURRENCIES = st.sampled_from(["IDR", "USD"])
PCT = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def lines(draw: st.DrawFn) -> LineInput:
    price = draw(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False,
                             allow_infinity=False))
    floor_share = draw(st.decimals(min_value=0, max_value=1, places=2))
    return LineInput(
        key=draw(st.sampled_from(["A", "B", "C", "D"])), name="x",
        quantity=draw(st.integers(min_value=1, max_value=10_000)), unit_price=price,
        floor_price=(price * floor_share).quantize(Decimal("0.01")),
        tax_rate=draw(st.sampled_from([Decimal(0), Decimal(11), Decimal("12.5")])),
        category=draw(st.sampled_from(["laptops", "servers"])))


TIERS = (Tier(10, Decimal(5), category="laptops"), Tier(50, Decimal(10), category="laptops"),
         Tier(5, Decimal(3), product_key="C"))


@settings(max_examples=150, deadline=None)
@given(st.lists(lines(), min_size=1, max_size=20), CURRENCIES, PCT)
def test_totals_are_the_sum_of_rounded_lines(items, currency, pct) -> None:
    q = price_quote(items, currency=currency, on=ON, tiers=TIERS, discount_pct=pct)
    assert q.subtotal == sum(line.gross for line in q.lines)
    assert q.net_total == sum(line.net for line in q.lines)
    assert q.tax_total == sum(line.tax for line in q.lines)
    assert q.total == q.net_total + q.tax_total
    assert q.discount_total == q.subtotal - q.net_total
    step = quantum(currency)
    for line in q.lines:
        for amount in (line.gross, line.net, line.tax):
            assert amount % step == 0  # rounded once, to the currency's unit


@settings(max_examples=150, deadline=None)
@given(st.lists(lines(), min_size=1, max_size=20), CURRENCIES, PCT)
def test_discounts_never_push_a_line_below_its_floor(items, currency, pct) -> None:
    q = price_quote(items, currency=currency, on=ON, tiers=TIERS, discount_pct=pct)
    for item, line in zip(items, q.lines, strict=True):
        assert line.net >= min(item.floor_price * item.quantity, line.gross)
        assert line.net <= line.gross
        assert line.net >= 0


@settings(max_examples=100, deadline=None)
@given(st.lists(lines(), min_size=1, max_size=20), CURRENCIES, PCT)
def test_the_same_quote_prices_the_same_way_twice(items, currency, pct) -> None:
    first = price_quote(items, currency=currency, on=ON, tiers=TIERS, discount_pct=pct)
    again = price_quote(list(items), currency=currency, on=ON, tiers=TIERS, discount_pct=pct)
    assert first == again


@given(st.decimals(min_value=-10**12, max_value=10**12, places=6, allow_nan=False,
                   allow_infinity=False), CURRENCIES)
def test_rounding_is_stable(amount, currency) -> None:
    once = round_money(amount, currency)
    assert round_money(once, currency) == once
    assert abs(once - amount) <= quantum(currency) / 2


def test_rounding_rules_per_currency() -> None:
    assert round_money(Decimal("1000.5"), "IDR") == Decimal("1001")
    assert round_money(Decimal("1000.49"), "IDR") == Decimal("1000")
    assert round_money(Decimal("10.005"), "USD") == Decimal("10.01")
    assert round_money(Decimal("10.004"), "USD") == Decimal("10.00")


def _one(quantity: int, **kw: object) -> LineInput:
    base = {"key": "L", "name": "Laptop", "quantity": quantity, "unit_price": Decimal("1000"),
            "floor_price": Decimal("0"), "tax_rate": Decimal("11"), "category": "laptops"}
    base.update(kw)
    return LineInput(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(("quantity", "tier"), [(9, 0), (10, 5), (49, 5), (50, 10), (51, 10)])
def test_volume_tiers_at_their_boundaries(quantity: int, tier: int) -> None:
    q = price_quote([_one(quantity)], currency="IDR", on=ON, tiers=TIERS)
    assert q.lines[0].tier_pct == tier
    assert q.lines[0].net == Decimal(1000 * quantity * (100 - tier) / 100)


def test_tier_validity_dates_are_inclusive() -> None:
    tier = Tier(1, Decimal(5), valid_from=date(2026, 3, 1), valid_to=date(2026, 3, 31))
    for day, pct in ((date(2026, 2, 28), 0), (date(2026, 3, 1), 5), (date(2026, 3, 31), 5),
                     (date(2026, 4, 1), 0)):
        assert price_quote([_one(1)], currency="IDR", on=day, tiers=[tier]).lines[0].tier_pct \
            == pct


def test_tier_for_another_product_or_category_does_not_apply() -> None:
    q = price_quote([_one(100, category="servers", key="Z")], currency="IDR", on=ON,
                    tiers=TIERS)
    assert q.lines[0].tier_pct == 0


def test_tier_and_quote_discount_combine_and_floor_stops_them() -> None:
    q = price_quote([_one(10)], currency="IDR", on=ON, tiers=TIERS, discount_pct=Decimal(10))
    assert q.lines[0].net == Decimal("8550")  # 10000 x 0.95 x 0.90
    assert q.lines[0].discount_pct == Decimal("14.5")
    floored = price_quote([_one(10, floor_price=Decimal("900"))], currency="IDR", on=ON,
                          tiers=TIERS, discount_pct=Decimal(50))
    assert floored.lines[0].net == Decimal("9000") and floored.lines[0].floored


def test_tax_is_on_the_rounded_net_line() -> None:
    q = price_quote([_one(3, unit_price=Decimal("333.33"))], currency="USD", on=ON)
    line = q.lines[0]
    assert line.net == Decimal("999.99")
    assert line.tax == Decimal("110.00")  # 999.99 x 11% = 109.9989
    assert q.total == Decimal("1109.99")


@pytest.mark.parametrize("pct", ["-1", "100.01", "250"])
def test_bad_discounts_are_refused(pct: str) -> None:
    with pytest.raises(DomainError) as err:
        price_quote([_one(1)], currency="IDR", on=ON, discount_pct=Decimal(pct))
    assert err.value.code == "quote.bad_discount"


@pytest.mark.parametrize("quantity", [0, -3])
def test_zero_or_negative_quantity_is_refused(quantity: int) -> None:
    with pytest.raises(DomainError) as err:
        price_quote([_one(quantity)], currency="IDR", on=ON)
    assert err.value.code == "quote.bad_quantity"


def test_full_discount_without_floor_is_free_but_never_negative() -> None:
    q = price_quote([_one(2)], currency="IDR", on=ON, discount_pct=Decimal(100))
    assert q.lines[0].net == 0 and q.total == 0


def test_absurd_quantity_is_refused() -> None:
    with pytest.raises(DomainError) as err:
        price_quote([_one(10**9)], currency="IDR", on=ON)
    assert err.value.code == "quote.too_many"
