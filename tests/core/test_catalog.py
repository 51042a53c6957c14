"""The catalogue: item parsing, fuzzy search, every rule type, cross-sell, CSV imports."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import catalog
from core.clock import ManualClock
from core.db import Database
from core.demo import DemoWorld
from core.errors import DomainError
from core.models.quotes import PriceList, PriceListItem, Product


def ids(session: Session) -> dict[str, int]:
    return {p.sku: p.id for p in session.scalars(select(Product))}


def test_parse_items_reads_several_items_in_one_line() -> None:
    items = catalog.parse_items("2 server x1, 10 laptop pro; rack kit and 3x UPS")
    assert [(i.text, i.quantity) for i in items] == [
        ("server x1", 2), ("laptop pro", 10), ("rack kit", 1), ("UPS", 3)]
    assert catalog.parse_items("0 laptop pro")[0].quantity == 0
    assert catalog.parse_items("-2 laptop pro")[0].quantity == -2


def test_resolve_items_matches_typos_and_suggests(database: Database, world: DemoWorld
                                                  ) -> None:
    with database.session() as s:
        found = catalog.resolve_items(s, "2 server x1, 10 laptop pro, servr x2, xyzzy")
        assert [(p.sku, q) for p, q in found.found] == [("SRV-X1", 2), ("LAP-PRO", 10)]
        unknown = dict(found.unknown)
        assert [p.sku for p in unknown["servr x2"]][:1] == ["SRV-X2"]
        assert unknown["xyzzy"] == []
        for bad in ("0 laptop pro", "-1 rack kit"):
            with pytest.raises(DomainError) as err:
                catalog.resolve_items(s, bad)
            assert err.value.code == "quote.bad_quantity"
        with pytest.raises(DomainError):
            catalog.resolve_items(s, " , ")


def test_requires_rule_asks_for_the_missing_quantity(database: Database, world: DemoWorld
                                                     ) -> None:
    with database.session() as s:
        p = ids(s)
        issues = catalog.check_configuration(s, {p["SRV-X1"]: 3, p["RACK-KIT"]: 1})
        assert [(i.kind, i.product.sku, i.target.sku, i.quantity) for i in issues] == [
            ("requires", "SRV-X1", "RACK-KIT", 2)]
        assert catalog.check_configuration(s, {p["SRV-X1"]: 3, p["RACK-KIT"]: 3}) == []


def test_excludes_rule_is_symmetric(database: Database, world: DemoWorld) -> None:
    with database.session() as s:
        p = ids(s)
        items = {p["PLAN-A"]: 1, p["PLAN-B"]: 1, p["SIM-BIZ"]: 2}
        issues = catalog.check_configuration(s, items)
        assert [(i.kind, {i.product.sku, i.target.sku}) for i in issues] == [
            ("excludes", {"PLAN-A", "PLAN-B"})]
        assert catalog.check_configuration(s, {p["PLAN-B"]: 1, p["SIM-BIZ"]: 1}) == []


def test_a_requirement_that_is_excluded_cannot_be_satisfied(database: Database,
                                                            world: DemoWorld) -> None:
    with database.session() as s:
        p = {sku: s.get(Product, i) for sku, i in ids(s).items()}
        # Add a rule: the UPS needs plan B; plan A (in the quote) excludes plan B.
        catalog.add_rule(s, "requires", p["UPS-1K"], p["PLAN-B"])
        issues = catalog.check_configuration(
            s, {p["UPS-1K"].id: 1, p["PLAN-A"].id: 1, p["SIM-BIZ"].id: 1})
        assert issues[0].kind == "unsatisfiable"
        assert (issues[0].product.sku, issues[0].target.sku) == ("UPS-1K", "PLAN-B")
        with pytest.raises(DomainError):
            catalog.add_rule(s, "requires", p["UPS-1K"], p["UPS-1K"])
        with pytest.raises(DomainError):
            catalog.add_rule(s, "sometimes", p["UPS-1K"], p["PLAN-B"])


def test_bundle_expands_into_its_components(database: Database, world: DemoWorld) -> None:
    with database.session() as s:
        p = ids(s)
        expanded = catalog.expand_bundles(s, {p["BND-OFFICE"]: 2, p["LAP-AIR"]: 1})
        assert expanded == {p["LAP-AIR"]: 11, p["DOCK-USB"]: 10, p["MON-27"]: 10}


def test_cross_sell_from_rules_and_order_history(database: Database, world: DemoWorld
                                                 ) -> None:
    with database.session() as s:
        p = ids(s)
        by_rule = [x.sku for x in catalog.cross_sell(s, {p["SRV-X1"]: 1})]
        assert by_rule[:2] == ["WARR-3Y", "UPS-1K"]
        # Demo orders put laptops and monitors together: history suggests the monitor.
        laptops = [x.sku for x in catalog.cross_sell(s, {p["LAP-PRO"]: 1}, limit=3)]
        assert "MON-27" in laptops and "LAP-PRO" not in laptops
        assert "WSH-8" in [x.sku for x in catalog.cross_sell(s, {p["FRG-400"]: 1})]
        assert catalog.cross_sell(s, {}) == []


def numbered(rows: list[dict[str, str]]) -> list[tuple[int, dict[str, str]]]:
    return list(enumerate(rows, start=2))


def test_product_import_reports_rows_and_is_idempotent(database: Database, world: DemoWorld,
                                                       clock: ManualClock) -> None:
    rows = numbered([
        {"sku": "PRN-1", "name": "Laser printer", "category": "printers", "tax_rate": "11"},
        {"sku": "SRV-X1", "name": "Server X1 (rev B)", "category": "servers", "unit": "unit",
         "tax_rate": "11"},
        {"sku": "", "name": "no sku"},
        {"sku": "BAD", "name": "Bad tax", "tax_rate": "eleven"},
        {"sku": "BAD2", "name": "Bad tax", "tax_rate": "111"},
    ])
    with database.session() as s:
        report = catalog.import_products(s, rows, clock.now())
        assert (report.created, report.updated, report.unchanged) == (1, 1, 0)
        assert [(e.line, e.code) for e in report.errors] == [
            (4, "catalog.sku_name_required"), (5, "catalog.bad_number"), (6, "catalog.bad_tax")]
    with database.session() as s:
        again = catalog.import_products(s, rows, clock.now())
        assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
        assert s.scalar(select(Product.name).where(Product.sku == "SRV-X1")) == \
            "Server X1 (rev B)"
        assert s.scalar(select(Product.id).where(Product.sku.in_(["BAD", "BAD2"]))) is None


def test_price_list_import(database: Database, world: DemoWorld, clock: ManualClock) -> None:
    today = clock.now().date()
    rows = [
        {"price_list": "SGD-2026", "currency": "SGD", "valid_from": today.isoformat(),
         "valid_to": (today + timedelta(days=90)).isoformat(), "sku": "SRV-X1",
         "unit_price": "7000", "floor_price": "5600"},
        {"price_list": "SGD-2026", "currency": "SGD", "sku": "RACK-KIT", "unit_price": "380",
         "valid_from": today.isoformat(), "valid_to": (today + timedelta(days=90)).isoformat()},
        {"price_list": "SGD-2026", "currency": "USD", "sku": "UPS-1K", "unit_price": "1"},
        {"price_list": "SGD-2026", "currency": "SGD", "sku": "NOPE", "unit_price": "1"},
        {"price_list": "SGD-2026", "currency": "SGD", "sku": "UPS-1K", "unit_price": "10",
         "floor_price": "20"},
        {"price_list": "X", "currency": "SGD", "sku": "UPS-1K", "unit_price": "10",
         "valid_from": "2026-05-01", "valid_to": "2026-04-01"},
        {"price_list": "X", "currency": "SGD", "sku": "UPS-1K", "unit_price": "NaN"},
        {"price_list": "X", "currency": "SGD", "sku": "UPS-1K", "unit_price": "1",
         "valid_from": "1 May"},
    ]
    with database.session() as s:
        report = catalog.import_price_lists(s, numbered(rows), clock.now())
        assert report.created == 2
        assert [(e.line, e.code) for e in report.errors] == [
            (4, "catalog.currency_clash"), (5, "catalog.unknown_sku"),
            (6, "catalog.floor_above_price"), (7, "catalog.dates_reversed"),
            (8, "catalog.bad_number"), (9, "catalog.bad_date")]
        plist = s.scalar(select(PriceList).where(PriceList.code == "SGD-2026"))
        assert plist is not None and plist.currency == "SGD"
        assert s.scalar(select(PriceList).where(PriceList.code == "X")) is None
    with database.session() as s:
        again = catalog.import_price_lists(s, numbered(rows[:2]), clock.now())
        assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
        rows[0]["unit_price"] = "7100"
        changed = catalog.import_price_lists(s, numbered(rows[:2]), clock.now())
        assert (changed.updated, changed.unchanged) == (1, 1)
        assert s.scalar(select(PriceListItem.unit_price).join(Product).where(
            Product.sku == "SRV-X1", PriceListItem.price_list_id == plist.id)) == Decimal(7100)
