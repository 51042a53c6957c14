"""Pricing and PDF of a 200-line quote.

Targets (issue 5): pricing a 200-line quote at most 50 ms; its PDF at most 300 ms.
Measured three ways: the pure engine (core.pricing.price_quote), the service with the
database (core.quotes.price_items on SQLite: products, price list items, tiers, bundles), and
the PDF (bot.documents.quote_pdf). Data is generated (seeded): 200 products in 8 categories,
one IDR price list with floors, volume tiers per category.

    .venv/bin/python benchmarks/quotes.py [--lines 200] [--runs 60]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from bot.documents.quote_pdf import PdfLine, PdfQuote, render_quote_pdf
from bot.i18n import Translator
from core import quotes as quote_service
from core.db import Database
from core.models import Base
from core.models.quotes import DiscountSchedule, PriceList, PriceListItem, Product
from core.pricing import LineInput, Tier, price_quote

RESULTS = Path(__file__).resolve().parent / "results"
CATEGORIES = ("laptops", "servers", "monitors", "accessories", "appliances", "telecom",
              "services", "printers")
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
TODAY = NOW.date()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def timed(fn: Callable[[], object], runs: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def make_lines(rng: random.Random, n: int) -> list[LineInput]:
    lines = []
    for i in range(n):
        price = Decimal(rng.randrange(50_000, 150_000_000, 1000))
        lines.append(LineInput(
            key=f"SKU-{i:04d}", name=f"Product {i} {rng.choice(CATEGORIES).title()} Ultra",
            quantity=rng.randint(1, 120), unit_price=price,
            floor_price=(price * Decimal("0.8")).quantize(Decimal(1000)),
            tax_rate=Decimal(11), category=CATEGORIES[i % len(CATEGORIES)]))
    return lines


def make_tiers() -> list[Tier]:
    tiers = []
    for c in CATEGORIES:
        tiers += [Tier(10, Decimal(3), category=c, valid_from=TODAY - timedelta(days=30)),
                  Tier(50, Decimal(7), category=c, valid_to=TODAY + timedelta(days=300))]
    return tiers


def seed_db(db: Database, lines: list[LineInput]) -> tuple[PriceList, dict[int, int]]:
    with db.session() as s:
        plist = PriceList(code="BENCH", name="Bench IDR", currency="IDR", segment=None,
                          valid_from=TODAY - timedelta(days=10),
                          valid_to=TODAY + timedelta(days=300), active=True)
        s.add(plist)
        s.flush()
        items: dict[int, int] = {}
        for line in lines:
            p = Product(sku=line.key, name=line.name, category=line.category, unit="unit",
                        tax_rate=line.tax_rate, active=True, created_at=NOW, updated_at=NOW)
            s.add(p)
            s.flush()
            s.add(PriceListItem(price_list_id=plist.id, product_id=p.id,
                                unit_price=line.unit_price, floor_price=line.floor_price))
            items[p.id] = line.quantity
        for c in CATEGORIES:
            for qty, pct in ((10, 3), (50, 7)):
                s.add(DiscountSchedule(name=f"{c} {qty}+", category=c, min_quantity=qty,
                                       pct=Decimal(pct), valid_from=TODAY - timedelta(days=30),
                                       valid_to=TODAY + timedelta(days=300)))
        plist_id = plist.id
    with db.session() as s:
        return s.get(PriceList, plist_id), items  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    lines = make_lines(rng, args.lines)
    tiers = make_tiers()

    engine_ms = timed(lambda: price_quote(lines, currency="IDR", on=TODAY, tiers=tiers,
                                          discount_pct=Decimal("7.5")), args.runs)

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        Base.metadata.create_all(db.engine)
        _plist, items = seed_db(db, lines)

        def service() -> object:
            with db.session() as s:
                plist = s.scalar(select(PriceList).where(PriceList.code == "BENCH"))
                return quote_service.price_items(s, plist, items, TODAY, Decimal("7.5"))

        service_ms = timed(service, args.runs)
        db.dispose()

    priced = price_quote(lines, currency="IDR", on=TODAY, tiers=tiers,
                         discount_pct=Decimal("7.5"))
    doc = PdfQuote(
        number="Q-2026-0042", version=3, currency="IDR", issued=NOW,
        valid_until=TODAY + timedelta(days=30), customer="PT Sinar Jaya Abadi",
        customer_address="Jl. Hayam Wuruk No. 16, Jakarta", customer_city="Jakarta",
        deal_title="Office refresh 2026", prepared_by="Budi Santoso",
        lines=tuple(PdfLine(sku=p.key, name=p.name, quantity=p.quantity, unit="unit",
                            unit_price=p.unit_price, discount_pct=p.discount_pct, net=p.net)
                    for p in priced.lines),
        subtotal=priced.subtotal, discount_total=priced.discount_total,
        discount_pct=priced.discount_pct, tax_total=priced.tax_total, total=priced.total)
    t = Translator("en")
    pdf_runs = max(10, args.runs // 3)
    pdf_ms = timed(lambda: render_quote_pdf(doc, t), pdf_runs)
    size = len(render_quote_pdf(doc, t))

    rows = (("price (engine, pure)", engine_ms, 50.0), ("price (service, SQLite)", service_ms,
                                                        50.0), ("PDF (fpdf2)", pdf_ms, 300.0))
    print(f"quotes benchmark: {args.lines} lines, {args.runs} runs ({pdf_runs} for the PDF); "
          f"PDF {size / 1024:.0f} KiB")
    print(f"{'what':<26}{'median ms':>11}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
          f"{'target':>9}{'median/target':>15}")
    result: dict[str, object] = {"lines": args.lines, "runs": args.runs,
                                 "date": date.today().isoformat(), "pdf_bytes": size}
    for name, values, target in rows:
        med = statistics.median(values)
        p95, p99 = percentile(values, 95), percentile(values, 99)
        print(f"{name:<26}{med:>11.2f}{p95:>9.2f}{p99:>9.2f}{max(values):>9.2f}"
              f"{target:>9.0f}{med / target:>15.2f}")
        result[name] = {"median_ms": round(med, 3), "p95_ms": round(p95, 3),
                        "p99_ms": round(p99, 3), "max_ms": round(max(values), 3),
                        "target_ms": target, "ok": p95 <= target}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "quotes.json").write_text(json.dumps(result, indent=2))
    print(f"written {RESULTS / 'quotes.json'}")


if __name__ == "__main__":
    main()
