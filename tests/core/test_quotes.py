"""Quotes: versions, discounts within the limit and through approval, validity, currency,
and the hand-over to an order (and the deal to Order placed)."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import approval_outcomes
from core import quotes as svc
from core.clock import ManualClock
from core.db import Database
from core.demo import DemoWorld
from core.errors import DomainError
from core.models import ApprovalRequest, Company, Deal, NoticeRow, Stage, User
from core.models.quotes import PriceList, Product, Quote, QuoteVersion, SalesOrder


def sku_ids(s: Session) -> dict[str, int]:
    return {p.sku: p.id for p in s.scalars(select(Product))}


def user(s: Session, login: str) -> User:
    return s.scalars(select(User).where(User.login == login)).one()


def sinar(s: Session) -> Company:
    return s.scalars(select(Company).where(Company.name == "Sinar Jaya Abadi")).one()


def make_deal(s: Session, company: Company, owner: User, now, stage: Stage = Stage.SOLUTION
              ) -> Deal:
    deal = Deal(title="Servers for Sinar Jaya", company_id=company.id, owner_id=owner.id,
                team_id=owner.team_id, territory_id=company.territory_id, stage=stage.value,
                amount=Decimal(0), currency="IDR", facts={}, created_at=now, updated_at=now)
    s.add(deal)
    s.flush()
    return deal


def servers(p: dict[str, int]) -> dict[int, int]:
    return {p["SRV-X1"]: 2, p["RACK-KIT"]: 2}


def test_versions_are_kept_and_the_deal_knows_the_quote(database: Database, world: DemoWorld,
                                                        clock: ManualClock) -> None:
    with database.session() as s:
        p, budi, company = sku_ids(s), user(s, "budi"), sinar(s)
        deal = make_deal(s, company, budi, clock.now())
        v1 = svc.save_quote(s, budi, company=company, items=servers(p), now=clock.now(),
                            deal=deal)
        assert v1.number == 1 and v1.quote.status == "sent"
        assert deal.facts["quote_id"] == v1.quote_id
        assert deal.amount == v1.total - v1.tax_total
        v2 = svc.save_quote(s, budi, company=company, quote=v1.quote, now=clock.now(),
                            items={**servers(p), p["UPS-1K"]: 1}, discount_pct=Decimal(5))
        assert v2.number == 2 and v2.quote_id == v1.quote_id
        assert v2.discount_status == "applied" and v2.total < v1.total + Decimal(4_000_000)
        quote_id, v1_total = v1.quote_id, v1.total
    with database.session() as s:
        versions = s.scalars(select(QuoteVersion).where(QuoteVersion.quote_id == quote_id)
                             .order_by(QuoteVersion.number)).all()
        assert [v.number for v in versions] == [1, 2]
        assert versions[0].total == v1_total and len(versions[0].lines) == 2
        assert len(versions[1].lines) == 3
        # Totals are the sum of the stored rounded lines plus tax.
        for v in versions:
            assert v.total == sum(line.net + line.tax for line in v.lines)
        assert s.get(Quote, quote_id).current_version == 2


def test_segment_price_list_and_currency(database: Database, world: DemoWorld,
                                         clock: ManualClock) -> None:
    with database.session() as s:
        p, budi, company = sku_ids(s), user(s, "budi"), sinar(s)
        v = svc.save_quote(s, budi, company=company, items=servers(p), now=clock.now())
        assert s.get(PriceList, v.quote.price_list_id).code == "IDR-ENT"  # enterprise
        usd = svc.save_quote(s, budi, company=company, items=servers(p), now=clock.now(),
                             currency="USD")
        assert usd.quote.currency == "USD" and usd.total < Decimal(20000)
        with pytest.raises(DomainError) as err:
            svc.save_quote(s, budi, company=company, items=servers(p), now=clock.now(),
                           quote=v.quote, currency="USD")
        assert err.value.code == "quote.currency_mismatch"
        with pytest.raises(DomainError) as err:
            svc.save_quote(s, budi, company=company, items=servers(p), now=clock.now(),
                           currency="EUR")
        assert err.value.code == "quote.no_currency"


def test_expired_price_list_is_refused(database: Database, world: DemoWorld,
                                       clock: ManualClock) -> None:
    with database.session() as s:
        p, budi, company = sku_ids(s), user(s, "budi"), sinar(s)
        count = s.scalar(select(func.count()).select_from(Quote))
        with pytest.raises(DomainError) as err:
            svc.save_quote(s, budi, company=company, items=servers(p),
                           now=clock.now() + timedelta(days=400))
        assert err.value.code == "quote.price_list_expired"
        assert s.scalar(select(func.count()).select_from(Quote)) == count


def test_configuration_and_floor_are_checked_on_save(database: Database, world: DemoWorld,
                                                     clock: ManualClock) -> None:
    with database.session() as s:
        p, budi, company = sku_ids(s), user(s, "budi"), sinar(s)
        with pytest.raises(DomainError) as err:
            svc.save_quote(s, budi, company=company, items={p["SRV-X1"]: 1}, now=clock.now())
        assert err.value.code == "quote.config_requires"
        with pytest.raises(DomainError) as err:
            svc.save_quote(s, budi, company=company, now=clock.now(),
                           items={p["PLAN-A"]: 1, p["PLAN-B"]: 1, p["SIM-BIZ"]: 2})
        assert err.value.code == "quote.config_excludes"
        maya = user(s, "maya")  # limit 25%: the floor (80%) stops a 22% discount
        with pytest.raises(DomainError) as err:
            svc.save_quote(s, maya, company=company, items=servers(p), now=clock.now(),
                           discount_pct=Decimal(22))
        assert err.value.code == "quote.below_floor"
        with pytest.raises(DomainError) as err:
            svc.save_quote(s, budi, company=company, items=servers(p), now=clock.now(),
                           discount_pct=Decimal(101))
        assert err.value.code == "quote.bad_discount"


def test_discount_above_limit_goes_to_the_manager_and_is_applied(
        database: Database, world: DemoWorld, clock: ManualClock) -> None:
    with database.session() as s:
        p, budi, company = sku_ids(s), user(s, "budi"), sinar(s)
        v = svc.save_quote(s, budi, company=company, items=servers(p), now=clock.now(),
                           discount_pct=Decimal("12.5"), reason="competitor offer")
        assert v.discount_status == "pending" and v.discount_pct == 0
        assert v.quote.status == "pending"
        request = s.get(ApprovalRequest, v.approval_id)
        assert request.kind == "discount" and request.ref_id == v.quote_id
        assert request.details["discount_pct"] == "12.5"
        assert request.details["quote_number"] == v.quote.number
        assert request.approver_id == user(s, "maya").id
        undiscounted, request_id, quote_id = v.total, request.id, v.quote_id
        with pytest.raises(DomainError) as err:
            svc.accept_quote(s, budi, quote_id, clock.now())
        assert err.value.code == "quote.discount_pending"
    with database.session() as s:
        with pytest.raises(DomainError) as err:  # not the approver
            approval_outcomes.decide(s, request_id=request_id, user=user(s, "hendra"),
                                     approve=True, now=clock.now())
        assert err.value.code == "approval.not_approver"
    with database.session() as s:
        approval_outcomes.decide(s, request_id=request_id, user=user(s, "maya"), approve=True,
                                 now=clock.now())
    with database.session() as s:
        v = s.scalar(select(QuoteVersion).where(QuoteVersion.quote_id == quote_id))
        assert v.discount_status == "applied" and v.discount_pct == Decimal("12.5")
        assert v.total < undiscounted
        assert v.total == sum(line.net + line.tax for line in v.lines)
        assert s.get(Quote, quote_id).status == "sent"
        notice = s.scalar(select(NoticeRow).where(NoticeRow.kind == "quote.ready"))
        assert notice.recipient_user_id == user(s, "budi").id
        assert notice.params["decision"] == "approved"
        # Pushed with the decision, whatever the hour (the decision itself is urgent): a
        # decision at 21:05 must not leave its PDF for 07:00.
        assert notice.urgent
        with pytest.raises(DomainError) as err:  # a second decision
            approval_outcomes.decide(s, request_id=request_id, user=user(s, "maya"), approve=False,
                                     now=clock.now())
        assert err.value.code == "approval.already_decided"
        assert v.discount_status == "applied"


def test_rejected_discount_leaves_the_quote_without_it(database: Database, world: DemoWorld,
                                                       clock: ManualClock) -> None:
    with database.session() as s:
        p, budi, company = sku_ids(s), user(s, "budi"), sinar(s)
        v = svc.save_quote(s, budi, company=company, items=servers(p), now=clock.now(),
                           discount_pct=Decimal(15), reason="big customer")
        total, request_id, quote_id = v.total, v.approval_id, v.quote_id
    with database.session() as s:
        approval_outcomes.decide(s, request_id=request_id, user=user(s, "maya"), approve=False,
                                 now=clock.now())
    with database.session() as s:
        v = s.scalar(select(QuoteVersion).where(QuoteVersion.quote_id == quote_id))
        assert v.discount_status == "rejected" and v.total == total and v.discount_pct == 0
        order = svc.accept_quote(s, user(s, "budi"), quote_id, clock.now())
        assert order.total == total


def test_accept_makes_one_order_and_refuses_twice_and_when_expired(
        database: Database, world: DemoWorld, clock: ManualClock) -> None:
    with database.session() as s:
        p, budi, company = sku_ids(s), user(s, "budi"), sinar(s)
        v = svc.save_quote(s, budi, company=company, items=servers(p), now=clock.now())
        old = svc.save_quote(s, budi, company=company, items=servers(p), now=clock.now())
        order = svc.accept_quote(s, budi, v.quote.number, clock.now())
        assert order.total == v.total and order.version_id == v.id
        with pytest.raises(DomainError) as err:
            svc.accept_quote(s, budi, v.quote_id, clock.now())
        assert err.value.code == "quote.already_accepted"
        with pytest.raises(DomainError) as err:
            svc.save_quote(s, budi, company=company, items=servers(p), now=clock.now(),
                           quote=v.quote)
        assert err.value.code == "quote.already_accepted"
        with pytest.raises(DomainError) as err:
            svc.accept_quote(s, budi, old.quote_id, clock.now() + timedelta(days=31))
        assert err.value.code == "quote.expired"
        assert s.scalar(select(func.count()).select_from(SalesOrder).where(
            SalesOrder.quote_id.in_([v.quote_id, old.quote_id]))) == 1


def test_a_quote_out_of_scope_is_not_found(database: Database, world: DemoWorld,
                                           clock: ManualClock) -> None:
    with database.session() as s:
        p, budi, company = sku_ids(s), user(s, "budi"), sinar(s)
        v = svc.save_quote(s, budi, company=company, items=servers(p), now=clock.now())
        andi = user(s, "andi")  # Bandung rep: Sinar Jaya (Jakarta) is not his
        with pytest.raises(DomainError) as err:
            svc.get_quote(s, andi, v.quote.number)
        assert err.value.code == "quote.not_found"


@pytest.mark.skipif(importlib.util.find_spec("core.pipeline") is None,
                    reason="core.pipeline (advance_deal) not there yet")
def test_accepting_moves_the_deal_to_order_placed(database: Database, world: DemoWorld,
                                                  clock: ManualClock) -> None:
    with database.session() as s:
        p, budi, company = sku_ids(s), user(s, "budi"), sinar(s)
        deal = make_deal(s, company, budi, clock.now())
        deal.facts = {"budget": "yes", "need": "servers", "timeline": "Q2",
                      "decision_maker_contact_id": company.contacts[0].id}
        v = svc.save_quote(s, budi, company=company, items=servers(p), now=clock.now(),
                           deal=deal)
        order = svc.accept_quote(s, budi, v.quote_id, clock.now())
        assert deal.stage == Stage.ORDER_PLACED.value
        assert deal.facts["accepted_quote_id"] == v.quote_id
        assert deal.facts["order_ref"] == order.number
        # Servers get installed: the order hands an installation job to field service.
        from core.models.fieldservice import ServiceJob

        jobs = s.scalars(select(ServiceJob).where(ServiceJob.deal_id == deal.id)).all()
        assert [(j.kind, j.skill) for j in jobs] == [("installation", "installation")]
        assert jobs[0].status in ("offered", "escalated")


def test_a_quote_with_a_pending_discount_is_not_revised(database: Database, world: DemoWorld,
                                                       clock: ManualClock) -> None:
    with database.session() as s:
        p, budi, company = sku_ids(s), user(s, "budi"), sinar(s)
        v = svc.save_quote(s, budi, company=company, items=servers(p), now=clock.now(),
                           discount_pct=Decimal(12), reason="loyal customer")
        with pytest.raises(DomainError) as err:
            svc.save_quote(s, budi, company=company, items=servers(p), now=clock.now(),
                           quote=v.quote)
        assert err.value.code == "quote.revise_pending"
        assert s.get(Quote, v.quote_id).current_version == 1
