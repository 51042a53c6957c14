"""Stage gates, refusal of skipped stages, Lost from every stage, history, the version
conflict, admin overrides of the gates, and 10 concurrent advances losing no update."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import approval_outcomes
from core import pipeline as svc
from core.activities import log_activity
from core.clock import ManualClock
from core.db import Database
from core.demo import DemoWorld
from core.errors import Conflict, DomainError, Forbidden, NotFound
from core.models import OPEN_STAGES, Company, Contact, Deal, DealStageChange, Stage, User


def user(s: Session, login: str) -> User:
    return s.scalars(select(User).where(User.login == login)).one()


def sinar(s: Session) -> Company:
    return s.scalars(select(Company).where(Company.name == "Sinar Jaya Abadi")).one()


def new_deal(s: Session, now, stage: Stage = Stage.LEAD_ALLOCATED, amount: str = "1000000",
             owner: str = "budi") -> Deal:
    rep, company = user(s, owner), sinar(s)
    deal = Deal(title="Servers", company_id=company.id, owner_id=rep.id, team_id=rep.team_id,
                territory_id=company.territory_id, stage=stage.value, amount=Decimal(amount),
                currency="IDR", facts={}, allocated_at=now, created_at=now, updated_at=now)
    s.add(deal)
    s.flush()
    return deal


QUALIFY = {"budget": "300m", "need": "servers", "timeline": "Q2"}


def dm(s: Session) -> int:
    return s.scalars(select(Contact).where(Contact.name == "Hendro Wibisono")).one().id


def code_of(fn, *a, **kw) -> str:
    with pytest.raises(DomainError) as err:
        fn(*a, **kw)
    return err.value.code


def test_every_gate_refuses_until_met(database: Database, world: DemoWorld,
                                      clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as s:
        budi = user(s, "budi")
        deal = new_deal(s, now)
        # contacted: needs a logged activity
        assert code_of(svc.advance_deal, s, deal, Stage.CONTACTED, budi, now) == \
            "deal.gate_missing"
        log_activity(s, budi, company=deal.company, contact=None, kind="call",
                     outcome="positive", notes=None, now=now + timedelta(minutes=5))
        svc.advance_deal(s, deal, Stage.CONTACTED, budi, now)
        # qualified: each of budget, need, timeline, decision maker
        for leave_out in ("budget", "need", "timeline", "decision_maker_contact_id"):
            facts = {**QUALIFY, "decision_maker_contact_id": dm(s)}
            facts.pop(leave_out)
            deal.facts = facts
            with pytest.raises(DomainError) as err:
                svc.advance_deal(s, deal, Stage.QUALIFIED, budi, now)
            assert err.value.code == "deal.gate_missing"
            expected = "decision_maker" if leave_out.startswith("decision") else leave_out
            assert err.value.params["missing"] == expected
        deal.facts = {**QUALIFY, "decision_maker_contact_id": dm(s)}
        svc.advance_deal(s, deal, Stage.QUALIFIED, budi, now)
        # solution: a solution text or a quote
        assert code_of(svc.advance_deal, s, deal, Stage.SOLUTION, budi, now) == \
            "deal.gate_missing"
        svc.advance_deal(s, deal, Stage.SOLUTION, budi, now, facts={"solution": "2 x X1"})
        # order placed: an order ref or accepted quote
        assert code_of(svc.advance_deal, s, deal, Stage.ORDER_PLACED, budi, now) == \
            "deal.gate_missing"
        svc.advance_deal(s, deal, Stage.ORDER_PLACED, budi, now, facts={"order_ref": "PO-1"})
        assert deal.stage == Stage.ORDER_PLACED.value and deal.closed_at == now
        assert code_of(svc.advance_deal, s, deal, Stage.ORDER_PLACED, budi, now) == \
            "deal.closed"
        hist = svc.history(s, deal)
        assert [(h.from_stage, h.to_stage) for h in hist] == [
            ("lead_allocated", "contacted"), ("contacted", "qualified"),
            ("qualified", "solution"), ("solution", "order_placed")]
        assert all(h.user_id == budi.id and h.at == now for h in hist)


def test_a_decision_maker_of_another_company_does_not_count(database: Database,
                                                            world: DemoWorld,
                                                            clock: ManualClock) -> None:
    with database.session() as s:
        budi = user(s, "budi")
        deal = new_deal(s, clock.now(), Stage.CONTACTED)
        other = s.scalars(select(Contact).where(Contact.company_id != deal.company_id)).first()
        assert code_of(svc.advance_deal, s, deal, Stage.QUALIFIED, budi, clock.now(),
                       facts={**QUALIFY, "decision_maker_contact_id": other.id}) == \
            "deal.contact_not_of_company"
        deal.facts = {**QUALIFY, "decision_maker_contact_id": other.id}
        assert not svc.requirement_met(s, deal, svc.DECISION_MAKER)


def test_skipping_a_gate_is_refused_and_says_which(database: Database, world: DemoWorld,
                                                   clock: ManualClock) -> None:
    with database.session() as s:
        budi = user(s, "budi")
        deal = new_deal(s, clock.now(), Stage.LEAD_ALLOCATED)
        deal.facts = {"solution": "x"}
        with pytest.raises(DomainError) as err:
            svc.advance_deal(s, deal, Stage.SOLUTION, budi, clock.now())
        assert err.value.code == "deal.gate_skipped"
        assert err.value.params["stage"] == "contacted"
        assert err.value.params["missing"] == "activity"
        assert code_of(svc.advance_deal, s, deal, Stage.OPPORTUNITY, budi, clock.now()) == \
            "deal.not_forward"
        assert deal.stage == Stage.LEAD_ALLOCATED.value
        assert svc.history(s, deal) == []


def test_a_jump_is_fine_when_every_gate_on_the_way_is_met(database: Database,
                                                          world: DemoWorld,
                                                          clock: ManualClock) -> None:
    with database.session() as s:
        budi = user(s, "budi")
        deal = new_deal(s, clock.now(), Stage.CONTACTED)
        deal.facts = {**QUALIFY, "decision_maker_contact_id": dm(s), "solution": "x"}
        svc.advance_deal(s, deal, "solution", budi, clock.now())
        assert deal.stage == Stage.SOLUTION.value


@pytest.mark.parametrize("stage", [s for s in OPEN_STAGES])
def test_lost_from_every_open_stage(database: Database, world: DemoWorld, clock: ManualClock,
                                    stage: Stage) -> None:
    with database.session() as s:
        budi = user(s, "budi")
        deal = new_deal(s, clock.now(), stage)
        assert code_of(svc.mark_lost, s, deal, budi, clock.now(), "  ") == \
            "deal.lost_needs_reason"
        change = svc.mark_lost(s, deal, budi, clock.now(), "competitor")
        assert (change.from_stage, change.to_stage, change.reason) == (
            stage.value, "lost", "competitor")
        assert deal.stage == "lost" and deal.lost_reason == "competitor"
        assert code_of(svc.mark_lost, s, deal, budi, clock.now(), "price") == "deal.closed"
        assert code_of(svc.advance_deal, s, deal, Stage.ORDER_PLACED, budi, clock.now()) == \
            "deal.closed"


def test_version_conflict_names_who_changed_it(database: Database, world: DemoWorld,
                                               clock: ManualClock) -> None:
    with database.session() as s:
        deal = new_deal(s, clock.now(), Stage.QUALIFIED)
        deal_id, version = deal.id, deal.version
    with database.session() as s:
        svc.mark_lost(s, deal_id, user(s, "maya"), clock.now(), "price")
    with database.session() as s:
        with pytest.raises(Conflict) as err:
            svc.advance_deal(s, deal_id, Stage.SOLUTION, user(s, "budi"), clock.now(),
                             expected_version=version, facts={"solution": "x"})
        assert err.value.code == "deal.changed" and err.value.params["by"] == "Maya Wijaya"


def test_out_of_scope_deal_is_not_found(database: Database, world: DemoWorld,
                                        clock: ManualClock) -> None:
    with database.session() as s:
        deal = new_deal(s, clock.now(), Stage.QUALIFIED)
        with pytest.raises(NotFound):
            svc.advance_deal(s, deal.id, Stage.SOLUTION, user(s, "andi"), clock.now())


def test_admin_changes_a_gate_and_a_probability(database: Database, world: DemoWorld,
                                                clock: ManualClock) -> None:
    with database.session() as s:
        admin, budi = user(s, "admin"), user(s, "budi")
        with pytest.raises(Forbidden):
            svc.set_stage_rule(s, budi, "qualified", now=clock.now(), requirements=["budget"])
        assert code_of(svc.set_stage_rule, s, admin, "qualified", now=clock.now(),
                       requirements=["budget", "horoscope"]) == "deal.bad_requirement"
        svc.set_stage_rule(s, admin, "qualified", now=clock.now(), requirements=["budget"],
                           probability=50)
        deal = new_deal(s, clock.now(), Stage.CONTACTED)
        svc.advance_deal(s, deal, Stage.QUALIFIED, budi, clock.now(), facts={"budget": "1m"})
        assert deal.stage == "qualified" and svc.probability(s, "qualified") == 50


def test_contract_approval_only_by_the_manager_and_once(database: Database, world: DemoWorld,
                                                        clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as s:
        budi, sari, hendra, maya = (user(s, x) for x in ("budi", "sari", "hendra", "maya"))
        deal = new_deal(s, now, Stage.SOLUTION, amount="900000000")
        deal.facts = {"order_ref": "PO-9"}
        assert code_of(svc.advance_deal, s, deal, Stage.ORDER_PLACED, budi, now) == \
            "deal.gate_missing"
        request = svc.request_contract_approval(s, budi, deal, now)
        assert request.approver_id == maya.id
        for wrong in (sari, hendra):
            with pytest.raises(Forbidden):
                approval_outcomes.decide(s, request_id=request.id, user=wrong, approve=True,
                                         now=now)
        approval_outcomes.decide(s, request_id=request.id, user=maya, approve=True, now=now)
        with pytest.raises(Conflict):
            approval_outcomes.decide(s, request_id=request.id, user=maya, approve=False, now=now)
        assert deal.facts["contract_approval_id"] == request.id
        svc.advance_deal(s, deal, Stage.ORDER_PLACED, budi, now)
        assert deal.stage == "order_placed"


def test_a_rejected_contract_keeps_the_gate_closed(database: Database, world: DemoWorld,
                                                   clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as s:
        budi, maya = user(s, "budi"), user(s, "maya")
        deal = new_deal(s, now, Stage.SOLUTION, amount="900000000")
        deal.facts = {"order_ref": "PO-9"}
        request = svc.request_contract_approval(s, budi, deal, now)
        approval_outcomes.decide(s, request_id=request.id, user=maya, approve=False, now=now,
                                 note="too risky")
        assert code_of(svc.advance_deal, s, deal, Stage.ORDER_PLACED, budi, now) == \
            "deal.gate_missing"


def _threads(n: int, target) -> list[BaseException | None]:
    results: list[BaseException | None] = [None] * n
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        try:
            target(i)
        except BaseException as exc:  # collected for the assertions
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    return results


def test_ten_concurrent_advances_lose_no_update(database: Database, world: DemoWorld,
                                                clock: ManualClock) -> None:
    now = clock.now()
    with database.session() as s:
        deal = new_deal(s, now, Stage.CONTACTED)
        deal.facts = {"need": "servers", "timeline": "Q2", "decision_maker_contact_id": dm(s)}
        deal_id = deal.id
    with database.session() as s:
        version = s.get(Deal, deal_id).version

    # 10 people answer different facts at once: every answer is kept.
    def answer(i: int) -> None:
        with database.session() as s:
            svc.record_facts(s, deal_id, user(s, "budi"), {f"note_{i}": i}, now)

    assert _threads(10, answer) == [None] * 10
    with database.session() as s:
        deal = s.get(Deal, deal_id)
        assert all(deal.facts[f"note_{i}"] == i for i in range(10))
        assert deal.version == version + 10
        version = deal.version

    # 10 people advance the same version at once: exactly one move, nine clear conflicts.
    def advance(i: int) -> None:
        with database.session() as s:
            svc.advance_deal(s, deal_id, Stage.QUALIFIED, user(s, "budi"), now,
                             expected_version=version, facts={"budget": f"{i}00m"})

    results = _threads(10, advance)
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if r is not None)
    with database.session() as s:
        deal = s.get(Deal, deal_id)
        assert deal.stage == "qualified" and deal.version == version + 1
        moves = s.scalars(select(DealStageChange).where(
            DealStageChange.deal_id == deal_id)).all()
        assert len(moves) == 1
