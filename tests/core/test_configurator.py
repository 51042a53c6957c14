"""The guided configurator's core: families as data (refused when malformed), only the
questions that matter (ask_if, no effect, one possible answer, answers nothing fits), the
catalogue's rules in the bill of materials (requires added, excludes never together, a bundle
priced by its parts, options in the recommended alternative), the cache following the data,
revisions kept on the deal and their quotes as versions of one quote."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import config_families as families
from core import configurator as cfg
from core.catalog import add_rule
from core.clock import ManualClock
from core.db import Database
from core.demo import DemoWorld
from core.errors import DomainError
from core.models import Company, Deal, Stage, User
from core.models.configurator import Configuration
from core.models.quotes import PriceList, PriceListItem, Product, Quote
from core.pipeline import advance_deal
from core.quotes import price_list_for
from core.stamped_cache import StampedCache


def user(s: Session, login: str) -> User:
    return s.scalars(select(User).where(User.login == login)).one()


def company(s: Session, name: str = "Sinar Jaya Abadi") -> Company:
    return s.scalars(select(Company).where(Company.name == name)).one()


def walk(model: families.Model, picks: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Answer every question asked with `picks` (else the first offered); return the answers
    and the questions asked, in order."""
    answers: dict[str, Any] = {}
    asked: list[str] = []
    while True:
        ask = cfg.next_question(model, answers)
        answers.update(ask.auto)
        if ask.question is None:
            return answers, asked
        assert ask.blocked is None
        offered = [ask.question.options[i].value for i in ask.options]
        value = picks.get(ask.question.attr, offered[0])
        assert value in offered, (ask.question.attr, value, offered)
        answers[ask.question.attr] = value
        asked.append(ask.question.attr)


def test_only_the_questions_that_matter(database: Database, world: DemoWorld) -> None:
    with database.session() as s:
        model = families.load_model(s, "server_room")
        # 25 users: storage is not asked (ask_if users >= 100); both servers fit, so the
        # budget band (which picks the recommended one) is asked
        _answers, asked = walk(model, {"users": 25})
        assert asked == ["users", "sites", "uptime", "budget"]
        # 300 users: only Server X2 fits, it holds 16 TB: storage and budget change nothing
        answers, asked = walk(model, {"users": 300})
        assert asked == ["users", "sites", "uptime"]
        assert "storage_tb" not in answers and "budget" not in answers
        # 100 users: 8 TB rules out Server X1 (4 TB), so storage is asked
        _answers, asked = walk(model, {"users": 100, "storage_tb": 8})
        assert "storage_tb" in asked and "budget" not in asked
        # an answer nothing fits is not offered (no plan for more than 60 staff)
        telecom = families.load_model(s, "office_connectivity")
        ask = cfg.next_question(telecom, {})
        assert ask.question is not None and ask.question.attr == "staff"
        assert [ask.question.options[i].value for i in ask.options] == [10, 30, 60]
        # "not sure" takes the family's default, else the answer keeping the most products
        sites = next(q for q in model.questions if q.attr == "sites")
        assert cfg.not_sure(model, sites, {}, [0, 1, 2, 3]) == 1
        users = next(q for q in model.questions if q.attr == "users")
        assert cfg.not_sure(model, users, {}, [0, 1, 2, 3]) == 25


def test_rules_shape_the_bill_of_materials(database: Database, world: DemoWorld,
                                           clock: ManualClock) -> None:
    with database.session() as s:
        model = families.load_model(s, "server_room")
        answers = {"users": 25, "sites": 2, "uptime": "24x7", "budget": "economy"}
        proposal = cfg.build(s, model, company(s), answers, clock.now().date())
        assert proposal.missing == []
        budget, best = proposal.alternatives
        skus = {line.sku: line.quantity for line in budget.lines}
        # Server X1 for 25 users, per site; its rack kit (requires), a UPS for 24/7
        assert skus == {"SRV-X1": 2, "RACK-KIT": 2, "UPS-1K": 2}
        assert ("requires", "Rack kit", "Server X1") in budget.added
        # the recommended one also carries the server's option (the extended warranty)
        assert {line.sku for line in best.lines} == {"SRV-X1", "RACK-KIT", "UPS-1K",
                                                     "WARR-3Y"}
        assert best.total > budget.total
        assert budget.total == sum((line.net for line in budget.lines), Decimal(0)) \
            + budget.tax_total


def test_excludes_and_bundles(database: Database, world: DemoWorld,
                              clock: ManualClock) -> None:
    with database.session() as s:
        products = {p.sku: p for p in s.scalars(select(Product))}
        # the cheap UPS now excludes Server X1: with 24/7, X1 cannot be picked next to it;
        # the budget alternative takes Server X2 instead (never the two together)
        add_rule(s, "excludes", products["UPS-1K"], products["SRV-X1"])
        model = families.load_model(s, "server_room")
        proposal = cfg.build(s, model, company(s), {"users": 25, "sites": 1,
                                                    "uptime": "24x7"}, clock.now().date())
        for alt in proposal.alternatives:
            skus = {line.sku for line in alt.lines}
            assert not {"UPS-1K", "SRV-X1"} <= skus
            assert "SRV-X2" in skus
        # a bundle fills a component and is priced by its parts
        bundle = products["BND-OFFICE"]
        data = {"families": [{
            "code": "office_kit", "name": "Office kit",
            "questions": [{"attr": "desks", "text": "Desks?",
                           "options": [{"value": 5, "label": "5"}, {"value": 10,
                                                                    "label": "10"}]}],
            "components": [{"role": "kit", "quantity": {"per": "desks", "divide": 5}}]}],
            "products": {"BND-OFFICE": {"family": "office_kit", "attrs": {"role": "kit"}}}}
        families.load_families(s, data, clock.now())
        kit = families.load_model(s, "office_kit")
        answers, _asked = walk(kit, {"desks": 10})
        budget = cfg.build(s, kit, company(s), answers, clock.now().date()).alternatives[0]
        assert budget.items == {bundle.id: 2}
        assert {line.sku: line.quantity for line in budget.lines} == {
            "LAP-AIR": 10, "DOCK-USB": 10, "MON-27": 10}


def test_a_family_is_checked_and_the_cache_follows_the_data(
        database: Database, world: DemoWorld, clock: ManualClock) -> None:
    bad = [
        {"code": "x", "questions": [], "components": [{"role": "a"}]},
        {"code": "x", "questions": [{"attr": "a", "text": "A?", "options": [{"value": 1}]}],
         "components": [{"role": "a"}]},
        {"code": "x", "questions": [{"attr": "a", "text": "A?",
                                     "options": [{"value": 1}, {"value": 2}]}],
         "components": [{"role": "r", "fit": [{"attr": "n", "op": "~", "answer": "a"}]}]},
        {"code": "x", "questions": [{"attr": "a", "text": "A?",
                                     "options": [{"value": 1}, {"value": 2}]}],
         "components": [{"role": "r", "quantity": {"per": "unasked"}}]},
    ]
    with database.session() as s:
        for spec in bad:
            with pytest.raises(DomainError) as refused:
                families.load_families(s, {"families": [spec]}, clock.now())
            assert refused.value.code == "config.bad_family"
        with pytest.raises(DomainError):
            families.load_families(s, {"products": {"NOPE": {"family": "x", "attrs": {}}}},
                                   clock.now())
        cache = StampedCache()  # the app's is Services.configurator
        before = families.load_model(s, "server_room", cache)
        assert families.load_model(s, "server_room", cache) is before  # kept
        assert families.load_model(s, "server_room") is not before  # no cache: compiled
        assert len(cache) == 1
        # Server X1 now serves 400 users: the next use sees it
        spec = s.get(Product, s.scalar(select(Product.id).where(Product.sku == "SRV-X1")))
        assert spec is not None
        families.load_families(s, {"products": {"SRV-X1": {"family": "server_room", "attrs": {
            "role": "server", "max_users": 400, "storage_tb": 4, "tier": "economy"}}}},
            clock.now() + timedelta(minutes=1))
        after = families.load_model(s, "server_room", cache)
        assert after is not before
        answers = {"users": 300, "sites": 1, "uptime": "office"}
        proposal = cfg.build(s, after, company(s), answers, clock.now().date(), cache)
        line = next(li for li in proposal.alternatives[0].lines if li.sku == "SRV-X1")
        assert len(cache) == 2  # the family and the price list's table
        # A price changed on the list: the next proposal prices with it
        listed = price_list_for(s, company(s), clock.now().date())
        item = s.scalar(select(PriceListItem).where(
            PriceListItem.price_list_id == listed.id,
            PriceListItem.product_id == line.product_id))
        assert item is not None
        item.unit_price = line.unit_price + 1000
        s.flush()
        again = cfg.build(s, after, company(s), answers, clock.now().date(), cache)
        assert next(li.unit_price for li in again.alternatives[0].lines
                    if li.sku == "SRV-X1") == line.unit_price + 1000


def test_revisions_on_the_deal_and_their_quotes(database: Database, world: DemoWorld,
                                                clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as s:
        budi = user(s, "budi")
        customer = company(s)
        deal = Deal(title="Sinar Jaya: servers", company_id=customer.id, owner_id=budi.id,
                    team_id=budi.team_id, territory_id=customer.territory_id,
                    stage=Stage.QUALIFIED.value, amount=Decimal(0), currency="IDR",
                    facts={"budget": "IDR 300 million", "need": "servers",
                           "timeline": "Q3", "decision_maker_contact_id": 1},
                    created_at=now, updated_at=now)
        s.add(deal)
        s.flush()
        model = families.load_model(s, "server_room")
        answers = {"users": 25, "sites": 1, "uptime": "office", "budget": "economy"}
        first = cfg.save(s, budi, customer, deal, model, answers,
                         cfg.build(s, model, customer, answers, now.date()), now)
        assert (first.revision, first.deal_id) == (1, deal.id)
        assert deal.facts["configuration_id"] == first.id
        v1 = cfg.to_quote(s, budi, first, "recommended", now)
        assert first.chosen == "recommended" and first.quote_id == v1.quote_id
        assert deal.facts["quote_id"] == v1.quote_id and "solution" in deal.facts
        with pytest.raises(DomainError):
            cfg.to_quote(s, budi, first, "budget", now)  # quoted already
        # the deal can now enter Solution identified (a configured solution and a quote)
        advance_deal(s, deal.id, Stage.SOLUTION.value, budi, now)
        # reopened: the answers come back; the revision's quote is the quote's next version
        assert cfg.latest(s, deal.id).answers == answers
        changed = {**answers, "sites": 3}
        second = cfg.save(s, budi, customer, deal, model, changed,
                          cfg.build(s, model, customer, changed, now.date()), now)
        assert second.revision == 2
        v2 = cfg.to_quote(s, budi, second, "budget", now)
        assert v2.quote_id == v1.quote_id and v2.number == 2
        quote = s.get(Quote, v2.quote_id)
        assert quote is not None and quote.current_version == 2
        assert [c.revision for c in s.scalars(select(Configuration).where(
            Configuration.deal_id == deal.id).order_by(Configuration.revision))] == [1, 2]


def test_no_price_means_no_pick(database: Database, world: DemoWorld,
                                clock: ManualClock) -> None:
    with database.session() as s:
        ups = s.scalar(select(Product.id).where(Product.sku == "UPS-1K"))
        for item in s.scalars(select(PriceListItem).where(PriceListItem.product_id == ups)):
            s.delete(item)
        s.flush()
        model = families.load_model(s, "server_room")
        proposal = cfg.build(s, model, company(s), {"users": 25, "sites": 1,
                                                    "uptime": "24x7"}, clock.now().date())
        assert proposal.alternatives == [] and [c.name for c in proposal.missing] == ["ups"]
        assert s.scalar(select(PriceList.id)) is not None
