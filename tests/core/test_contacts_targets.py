"""Promotion targets: past buyers of the category first, industry/segment rules, and
nobody who already received the product's brochure."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from core import activities
from core import contacts as svc
from core.db import Database
from core.demo import DemoWorld
from core.models import Company, User
from core.models.quotes import Quote, QuoteLine, QuoteVersion, SalesOrder


def test_targets_rank_buyers_and_skip_brochure_holders(database: Database, world: DemoWorld,
                                                       clock) -> None:
    now = clock.now()
    with database.session() as s:
        budi = s.scalar(select(User).where(User.login == "budi"))
        hotel = s.scalar(select(Company).where(Company.name == "Hotel Cahaya Indah"))
        sinar = s.scalar(select(Company).where(Company.name == "Sinar Jaya Abadi"))
        product = svc.resolve_product(s, "server x2")
        assert (product.sku, product.category) == ("SRV-X2", "servers")
        before = [t.company.name for t in svc.promotion_targets(s, budi, product, limit=100)]
        assert "Sinar Jaya Abadi" in before  # Manufacturing fits servers
        assert "Hotel Cahaya Indah" not in before  # Hospitality does not
        # The hotel bought a server X1 (same category): it becomes the first target.
        quote = Quote(number="Q-T1", company_id=hotel.id, currency="IDR", status="accepted",
                      created_at=now, updated_at=now)
        s.add(quote)
        s.flush()
        version = QuoteVersion(quote_id=quote.id, number=1, subtotal=Decimal(1),
                               discount_total=Decimal(0), tax_total=Decimal(0),
                               total=Decimal(1), valid_until=date(2026, 4, 1), created_at=now)
        s.add(version)
        s.flush()
        s.add(QuoteLine(version_id=version.id, position=1, sku="SRV-X1", name="Server X1",
                        quantity=1, unit_price=Decimal(1), discount_pct=Decimal(0),
                        net=Decimal(1), tax_rate=Decimal(0), tax=Decimal(0)))
        s.add(SalesOrder(number="SO-T1", quote_id=quote.id, version_id=version.id,
                         company_id=hotel.id, currency="IDR", total=Decimal(1),
                         created_at=now))
        activities.record_material(s, budi, company=sinar, contact=None,
                                   material="brochure:SRV-X2", product_sku="SRV-X2", now=now)
        s.flush()
        after = svc.promotion_targets(s, budi, product, limit=100)
        assert after[0].company.name == "Hotel Cahaya Indah"
        assert after[0].reasons == ["bought", "segment"]  # midmarket suits servers
        assert "Sinar Jaya Abadi" not in [t.company.name for t in after]
        # Scope: nothing outside budi's territories.
        assert all(t.company.city == "Jakarta" or t.company.owner_id == budi.id for t in after)
