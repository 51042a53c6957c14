"""Demo data of this area: the product catalogue, price lists, discount schedules, quotes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from core.catalog import add_rule
from core.demo.world import DemoWorld
from core.models.quotes import DiscountSchedule, PriceList, PriceListItem, Product

USD_RATE = Decimal(16000)

# sku, name, category, unit, tax rate, IDR list price, floor as a share of the price
PRODUCTS: tuple[tuple[str, str, str, str, str, int, str], ...] = (
    ("SRV-X1", "Server X1", "servers", "unit", "11", 85_000_000, "0.80"),
    ("SRV-X2", "Server X2", "servers", "unit", "11", 140_000_000, "0.80"),
    ("RACK-KIT", "Rack kit", "accessories", "set", "11", 4_500_000, "0.85"),
    ("UPS-1K", "UPS 1 kVA", "accessories", "unit", "11", 3_200_000, "0.85"),
    ("LAP-PRO", "Laptop Pro 14", "laptops", "unit", "11", 21_500_000, "0.82"),
    ("LAP-AIR", "Laptop Air 13", "laptops", "unit", "11", 14_900_000, "0.82"),
    ("DOCK-USB", "USB-C dock", "accessories", "unit", "11", 1_850_000, "0.75"),
    ("MON-27", "Monitor 27 inch", "monitors", "unit", "11", 4_100_000, "0.80"),
    ("WARR-3Y", "Extended warranty 3 years", "services", "contract", "11", 2_400_000, "0.70"),
    ("FRG-400", "Refrigerator 400 L", "appliances", "unit", "11", 9_800_000, "0.85"),
    ("WSH-8", "Washing machine 8 kg", "appliances", "unit", "11", 6_300_000, "0.85"),
    ("AC-1PK", "Air conditioner 1 PK", "appliances", "unit", "11", 5_400_000, "0.85"),
    ("AC-INST", "AC installation kit", "accessories", "set", "11", 650_000, "0.90"),
    ("PLAN-A", "Business plan A 50 Mbps", "telecom", "month", "11", 1_250_000, "0.80"),
    ("PLAN-B", "Business plan B 100 Mbps", "telecom", "month", "11", 2_100_000, "0.80"),
    ("ROUTER-4G", "4G router", "telecom", "unit", "11", 1_150_000, "0.85"),
    ("SIM-BIZ", "Business SIM card", "telecom", "unit", "0", 50_000, "1.00"),
    ("BND-OFFICE", "Office starter bundle", "bundles", "set", "11", 0, "0"),
)

# kind, product, target, quantity, note
RULES: tuple[tuple[str, str, str, int, str], ...] = (
    ("requires", "SRV-X1", "RACK-KIT", 1, "a server requires a rack kit"),
    ("requires", "SRV-X2", "RACK-KIT", 1, "a server requires a rack kit"),
    ("requires", "AC-1PK", "AC-INST", 1, "an air conditioner needs its installation kit"),
    ("requires", "PLAN-A", "SIM-BIZ", 1, "a plan needs a SIM card"),
    ("requires", "PLAN-B", "SIM-BIZ", 1, "a plan needs a SIM card"),
    ("excludes", "PLAN-A", "PLAN-B", 1, "plan A excludes plan B"),
    ("bundle", "BND-OFFICE", "LAP-AIR", 5, "office starter"),
    ("bundle", "BND-OFFICE", "DOCK-USB", 5, "office starter"),
    ("bundle", "BND-OFFICE", "MON-27", 5, "office starter"),
    ("option", "LAP-PRO", "WARR-3Y", 1, "extended warranty"),
    ("option", "SRV-X1", "WARR-3Y", 1, "extended warranty"),
    ("suggests", "SRV-X1", "UPS-1K", 1, "servers need a UPS"),
    ("suggests", "SRV-X2", "UPS-1K", 1, "servers need a UPS"),
    ("suggests", "LAP-PRO", "DOCK-USB", 1, "laptop users need a dock"),
    ("suggests", "PLAN-A", "ROUTER-4G", 1, "a router for the plan"),
    ("suggests", "PLAN-B", "ROUTER-4G", 1, "a router for the plan"),
)

# name, category, product sku, minimum quantity, percent
TIERS: tuple[tuple[str, str | None, str | None, int, str], ...] = (
    ("Laptops 10+", "laptops", None, 10, "5"),
    ("Laptops 50+", "laptops", None, 50, "10"),
    ("Servers 5+", "servers", None, 5, "3"),
    ("Plan A 20+ lines", None, "PLAN-A", 20, "7"),
    ("Appliances 10+", "appliances", None, 10, "4"),
)


def _usd(idr: Decimal) -> Decimal:
    return (idr / USD_RATE).quantize(Decimal("0.01"))


def seed(session: Session, world: DemoWorld) -> None:
    """Add this area's demo records on top of the base world."""
    now = world.now
    today = now.date()
    products: dict[str, Product] = {}
    for sku, name, category, unit, tax, _price, _floor in PRODUCTS:
        products[sku] = Product(sku=sku, name=name, category=category, unit=unit,
                                tax_rate=Decimal(tax), active=True, created_at=now,
                                updated_at=now)
        session.add(products[sku])
    session.flush()
    for kind, sku, target, qty, note in RULES:
        add_rule(session, kind, products[sku], products[target], qty, note)
    start, end = today - timedelta(days=60), today + timedelta(days=300)
    lists = (
        ("IDR-STD", "Standard IDR", "IDR", None, Decimal(1), start, end),
        ("IDR-ENT", "Enterprise IDR", "IDR", "enterprise", Decimal("0.95"), start, end),
        ("USD-STD", "Standard USD", "USD", None, Decimal(1), start, end),
        ("IDR-GOV-2025", "Government IDR 2025", "IDR", "government", Decimal("0.97"),
         start - timedelta(days=365), start - timedelta(days=10)),
    )
    for code, name, currency, segment, factor, valid_from, valid_to in lists:
        plist = PriceList(code=code, name=name, currency=currency, segment=segment,
                          valid_from=valid_from, valid_to=valid_to, active=True)
        session.add(plist)
        session.flush()
        for sku, _n, _c, _u, _t, price, floor in PRODUCTS:
            if price == 0:
                continue
            unit_price = (Decimal(price) * factor).quantize(Decimal(1000))
            floor_price = (unit_price * Decimal(floor)).quantize(Decimal(1000))
            if currency == "USD":
                unit_price, floor_price = _usd(unit_price), _usd(floor_price)
            session.add(PriceListItem(price_list_id=plist.id, product_id=products[sku].id,
                                      unit_price=unit_price, floor_price=floor_price))
    for tier_name, tier_category, tier_sku, min_qty, pct in TIERS:
        session.add(DiscountSchedule(
            name=tier_name, category=tier_category,
            product_id=products[tier_sku].id if tier_sku else None,
            min_quantity=min_qty, pct=Decimal(pct), valid_from=start, valid_to=end))
    session.flush()
    _seed_orders(session, world, products)


def _seed_orders(session: Session, world: DemoWorld, products: dict[str, Product]) -> None:
    """A few past orders, so "often ordered together" has something to say."""
    from core.quotes import accept_quote, save_quote

    admin = world.users.get("admin")
    if admin is None or not world.companies:
        return
    baskets = (
        {"LAP-PRO": 5, "MON-27": 5},
        {"LAP-PRO": 2, "MON-27": 2, "DOCK-USB": 2},
        {"LAP-AIR": 10, "MON-27": 10},
        {"FRG-400": 3, "WSH-8": 3},
    )
    for i, basket in enumerate(baskets):
        company = world.companies[(i * 7 + 3) % len(world.companies)]
        when = world.now - timedelta(days=40 - i * 5)
        version = save_quote(session, admin, company=company, now=when,
                             items={products[s].id: q for s, q in basket.items()})
        accept_quote(session, admin, version.quote_id, when + timedelta(days=2))
