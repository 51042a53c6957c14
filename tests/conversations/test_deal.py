"""The guided deal flows through the real engine: gates asked one at a time, refusal of a
skipped gate, lost, next step as a follow-up, history, pipelines, version conflict."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from core import pipeline as svc
from core.activities import log_activity
from core.db import Database
from core.models import ApprovalRequest, Company, Deal, DealStageChange, FollowUp, Stage, User
from core.models.configurator import ConfigFamily
from tests.support.chat import CollectingChat, texts


def make_deal(database: Database, now, stage: Stage = Stage.LEAD_ALLOCATED,
              amount: str = "100000000", login: str = "budi") -> int:
    with database.session() as s:
        owner = s.scalars(select(User).where(User.login == login)).one()
        company = s.scalars(select(Company).where(Company.name == "Sinar Jaya Abadi")).one()
        deal = Deal(title="Servers for Sinar Jaya", company_id=company.id, owner_id=owner.id,
                    team_id=owner.team_id, territory_id=company.territory_id,
                    stage=stage.value, amount=Decimal(amount), currency="IDR", facts={},
                    allocated_at=now, created_at=now, updated_at=now)
        s.add(deal)
        s.flush()
        return deal.id


def log_call(database: Database, deal_id: int, now) -> None:
    with database.session() as s:
        deal = s.get(Deal, deal_id)
        budi = s.get(User, deal.owner_id)
        log_activity(s, budi, company=deal.company, contact=None, kind="call",
                     outcome="positive", notes="intro call", now=now)


async def test_advance_asks_each_missing_fact_then_moves(chat: CollectingChat, database: Database,
                                                         clock) -> None:
    deal_id = make_deal(database, clock.now(), Stage.CONTACTED)
    u = chat.as_user("budi")
    r = await u.say(f"advance deal #{deal_id}")
    assert "Move it to which stage?" in texts(r)
    r = await u.press("Prospect qualified")
    assert "budget" in texts(r)
    r = await u.say("IDR 300 million")
    assert "Who decides" in texts(r)
    r = await u.press("Hendro Wibisono")
    assert "need" in texts(r)
    r = await u.say("20 servers for the new plant")
    assert "When do they plan to buy" in texts(r)
    r = await u.say("Q2")
    assert "moved to Prospect qualified" in texts(r)
    assert "Next step?" in texts(r)
    r = await u.press("Prepare a proposal")
    r = await u.press("Tomorrow")
    assert "Scheduled" in texts(r)
    with database.session() as s:
        deal = s.get(Deal, deal_id)
        assert deal.stage == Stage.QUALIFIED.value
        assert deal.facts["budget"] == "IDR 300 million"
        assert deal.facts["timeline"] == "Q2"
        fu = s.scalars(select(FollowUp).where(FollowUp.deal_id == deal_id)).one()
        assert fu.kind == "proposal" and fu.due_at > clock.now()
        changes = s.scalars(select(DealStageChange).where(
            DealStageChange.deal_id == deal_id)).all()
        assert [(c.from_stage, c.to_stage) for c in changes] == [("contacted", "qualified")]


async def test_a_jump_over_a_gate_is_refused_saying_why(chat: CollectingChat,
                                                        database: Database, clock) -> None:
    deal_id = make_deal(database, clock.now(), Stage.LEAD_ALLOCATED)
    u = chat.as_user("budi")
    await u.say(f"/advance {deal_id}")
    r = await u.press("Solution identified")
    assert "You cannot jump to Solution identified" in texts(r)
    assert "Prospect contacted comes first" in texts(r)
    r = await u.press("Prospect contacted")
    assert "Log it with /visit first" in texts(r)
    with database.session() as s:
        assert s.get(Deal, deal_id).stage == Stage.LEAD_ALLOCATED.value


async def test_contacted_after_a_logged_call(chat: CollectingChat, database: Database,
                                             clock) -> None:
    deal_id = make_deal(database, clock.now(), Stage.LEAD_ALLOCATED)
    clock.advance(hours=1)
    log_call(database, deal_id, clock.now())
    u = chat.as_user("budi")
    await u.say(f"/advance {deal_id}")
    r = await u.press("Prospect contacted")
    assert "moved to Prospect contacted" in texts(r)


async def test_lost_with_a_typed_reason_and_history(chat: CollectingChat, database: Database,
                                                    clock) -> None:
    deal_id = make_deal(database, clock.now(), Stage.QUALIFIED)
    u = chat.as_user("budi")
    r = await u.say(f"/deal {deal_id}")
    assert "Stage: Prospect qualified (40%)" in texts(r)
    r = await u.press("Lost")
    r = await u.say("customer closed the plant")
    assert "closed as Lost (customer closed the plant)" in texts(r)
    r = await u.say(f"/deal {deal_id}")
    r = await u.press("History")
    assert "Prospect qualified → Lost (customer closed the plant)" in texts(r)
    assert "Budi Santoso" in texts(r)


async def test_two_people_moving_one_deal_get_a_clear_conflict(
        chat: CollectingChat, database: Database, clock) -> None:
    deal_id = make_deal(database, clock.now(), Stage.QUALIFIED)
    budi, maya = chat.as_user("budi"), chat.as_user("maya")
    await budi.say(f"/advance {deal_id}")
    await budi.press("Solution identified")  # asks for the solution
    await maya.say(f"/lost {deal_id}")
    r = await maya.press("Price")
    assert "closed as Lost" in texts(r)
    r = await budi.say("Rack of 20 X1 servers")
    assert "changed by Maya Wijaya meanwhile" in texts(r)
    with database.session() as s:
        deal = s.get(Deal, deal_id)
        assert deal.stage == Stage.LOST.value and "solution" not in deal.facts


async def test_contract_above_threshold_needs_the_managers_approval(
        chat: CollectingChat, database: Database, clock) -> None:
    deal_id = make_deal(database, clock.now(), Stage.SOLUTION, amount="900000000")
    budi, maya = chat.as_user("budi"), chat.as_user("maya")
    await budi.say(f"/advance {deal_id}")
    r = await budi.press("Order placed")
    assert "order reference" in texts(r)
    r = await budi.say("PO-7781")
    assert "above the team's threshold" in texts(r)
    r = await budi.press("Request approval")
    assert "Approval requested from Maya Wijaya" in texts(r)
    with database.session() as s:
        req = s.scalars(select(ApprovalRequest)).one()
        request_id = req.id
    # a rep cannot decide; another team's manager cannot either
    from bot.conversations.messages import Button
    for login in ("sari", "hendra"):
        other = chat.as_user(login)
        other.buttons = [Button("Approve", payload=f"a|approval.approve|{request_id}")]
        r = await other.press("Approve")
        assert "✅" not in texts(r)
    with database.session() as s:
        assert s.get(ApprovalRequest, request_id).status == "pending"
    maya.buttons = [Button("Approve", payload=f"a|approval.approve|{request_id}")]
    r = await maya.press("Approve")
    assert "Approved" in texts(r)
    r = await maya.press("Approve")
    assert "already decided (approved, by Maya Wijaya)" in texts(r)
    await budi.say(f"/advance {deal_id}")
    r = await budi.press("Order placed")
    assert "moved to Order placed" in texts(r)
    with database.session() as s:
        deal = s.get(Deal, deal_id)
        assert deal.stage == Stage.ORDER_PLACED.value and deal.facts["order_ref"] == "PO-7781"


async def test_my_pipeline_and_team_pipeline(chat: CollectingChat, database: Database,
                                             clock) -> None:
    make_deal(database, clock.now(), Stage.QUALIFIED, amount="100000000")
    clock.advance(timedelta(days=1))
    make_deal(database, clock.now(), Stage.SOLUTION, amount="200000000")
    r = await chat.as_user("budi").say("my pipeline")
    text = texts(r)
    # the demo gives budi one qualified and one solution deal; the test adds one of each
    assert "Prospect qualified: 2" in text and "Solution identified: 2" in text
    assert "Untouched the longest" in text
    r = await chat.as_user("maya").say("/team rep")
    assert "Budi Santoso" in texts(r)
    assert "(no owner)" in texts(r) and "\n-\n" not in texts(r)  # sari's unallocated lead
    r = await chat.as_user("budi").say("/team")
    assert "Your role cannot use that" in texts(r)


async def test_the_team_pipeline_as_managers_ask_for_it(chat: CollectingChat) -> None:
    """Found by asking as a manager: "pipeline tim" answered "Kelompokkan per sales, tahap
    atau wilayah, bukan pipeline tim" (the words were taken for the grouping), "by stage"
    listed the stages alphabetically, and "per territory" showed the internal key."""
    hendra = chat.as_user("hendra")  # an Indonesian-speaking manager
    out = texts(await hendra.say("pipeline tim"))
    assert out.startswith("📊 Pipeline tim per sales") and "bukan" not in out
    out = texts(await hendra.say("pipeline tim per wilayah"))
    assert out.startswith("📊 Pipeline tim per wilayah") and "territory" not in out
    maya = chat.as_user("maya")
    out = texts(await maya.say("team pipeline by stage"))
    assert out.startswith("📊 Team pipeline by stage")
    shown = [line.split(":")[0].strip() for line in out.splitlines()[1:] if ":" in line]
    order = ["Opportunity generated", "Lead allocated", "Prospect contacted",
             "Prospect qualified", "Solution identified"]
    assert len(shown) >= 2 and shown == sorted(shown, key=order.index)


def test_weighted_pipeline_uses_the_probabilities(database: Database, world, clock) -> None:
    make_deal(database, clock.now(), Stage.QUALIFIED, amount="100000000")
    with database.session() as s:
        budi = s.scalars(select(User).where(User.login == "budi")).one()
        result = svc.my_pipeline(s, budi)
        row = next(r for r in result.stages if r.stage == "qualified")
        assert row.count >= 1 and row.weighted == row.value * Decimal("0.4")


async def test_a_deal_named_with_typos_is_found_fuzzily(chat: CollectingChat,
                                                        database: Database, clock) -> None:
    deal_id = make_deal(database, clock.now(), Stage.QUALIFIED)
    u = chat.as_user("budi")
    r = await u.say("/deal sinar jya servrs")  # two typos: no word matches as typed
    assert "Servers for Sinar Jaya" in texts(r)
    assert any(b.label == "Advance" for b in u.buttons) or f"#{deal_id}" in str(
        [b.label for b in u.buttons])
    r = await u.say("/deal zzzqqq")
    assert "I found no open deal matching" in texts(r)
    with database.session() as s:  # another rep's deal stays invisible, fuzzy or not
        other = s.scalars(select(User).where(User.login == "kevin")).one()
        assert all(d.id != deal_id for d in svc.find_deals(s, other, "sinar jya servrs"))


async def test_my_deals_opens_a_card_from_the_pipeline(chat: CollectingChat,
                                                       database: Database, clock) -> None:
    deal_id = make_deal(database, clock.now(), Stage.QUALIFIED)
    with database.session() as s:  # make it the one untouched the longest
        s.get(Deal, deal_id).updated_at = clock.now() - timedelta(days=400)
    u = chat.as_user("budi")
    r = await u.say("my deals")
    assert "Your pipeline" in texts(r)
    opener = [b for b in u.buttons if b.action == "deal.open" and b.arg == str(deal_id)]
    assert opener, [b.label for b in u.buttons]
    r = await u.send(u.incoming(button=opener[0].payload))
    assert "Servers for Sinar Jaya" in texts(r) and any(b.label == "Advance" for b in u.buttons)
    # Typed words on a card are a new request, not a wrong answer to the card.
    r = await u.say("who handles Sinar Jaya?")
    assert "PT Sinar Jaya Abadi is handled by" in texts(r)
    # A deal of another territory behind a forged button is not shown.
    with database.session() as s:
        kevin = s.scalars(select(User).where(User.login == "kevin")).one()
        medan = s.scalars(select(Company).where(Company.owner_id == kevin.id)).first()
        hidden = Deal(title="Hidden Medan deal", company_id=medan.id, owner_id=kevin.id,
                      team_id=kevin.team_id, territory_id=medan.territory_id,
                      stage=Stage.QUALIFIED.value, amount=Decimal(1), currency="IDR",
                      facts={}, created_at=clock.now(), updated_at=clock.now())
        s.add(hidden)
        s.flush()
        hidden_id = hidden.id
    forged = opener[0].payload.replace(f"|{deal_id}", f"|{hidden_id}")
    r = await u.send(u.incoming(button=forged))
    assert "Hidden Medan deal" not in texts(r) and "I found no deal" in texts(r)


async def test_a_proposal_next_step_can_be_made_at_once(chat: CollectingChat,
                                                        database: Database, clock) -> None:
    u = chat.as_user("budi")

    async def qualify() -> int:
        deal_id = make_deal(database, clock.now(), Stage.CONTACTED)
        with database.session() as s:
            s.get(Deal, deal_id).facts = {"budget": "IDR 300 million", "need": "servers",
                                          "timeline": "Q2"}
        await u.say(f"/advance {deal_id}")
        r = await u.press("Prospect qualified")
        if "Who decides" in texts(r):
            r = await u.press("Hendro Wibisono")
        assert "Next step?" in texts(r)
        return deal_id

    await qualify()
    await u.press("Prepare a proposal")
    assert [b.label for b in u.buttons][:2] == ["Make it now", "Tomorrow"]
    r = await u.press("Make it now")
    if not any(r_.attachment for r_ in r):  # several templates: pick the plain one
        assert "Which document?" in texts(r)
        r = await u.press("Standard proposal")
    # The template is filled for this deal, which has no quote yet: the rep is told to make
    # the quote first (a deal with a quote gets the PDF; see test_documents_and_mailing).
    assert "the deal has no quote yet" in texts(r) and "Make the quote now" in [
        b.label for b in u.buttons]
    await u.say("/cancel")
    # "Configure price and solution" opens the guided configurator for that deal at once
    # (the demo has product families), the configuration kept on the deal ...
    deal_id = await qualify()
    await u.press("Configure price and solution")
    assert [b.label for b in u.buttons][:2] == ["Configure it now", "Tomorrow"]
    r = await u.press("Configure it now")
    assert "What should the solution be for" in texts(r)
    with database.session() as s:  # nothing scheduled when it was done at once
        assert s.scalars(select(FollowUp).where(FollowUp.deal_id == deal_id)).all() == []
    await u.say("/cancel")
    # ... and, where no product family is set up, opens the quote for that deal.
    with database.session() as s:
        for family in s.scalars(select(ConfigFamily)):
            family.active = False
    deal_id = await qualify()
    await u.press("Configure price and solution")
    r = await u.press("Make the quote now")
    assert "Which products?" in texts(r)


def test_a_long_label_is_cut_at_a_word() -> None:
    from bot.conversations.messages import shorten

    assert shorten("#31 Lestari Bintang: Network upgrade for 3 floors") == \
        "#31 Lestari Bintang: Network upgrade for 3…"
    assert shorten("#8 Lestari Bintang: CCTV for the warehouse") == \
        "#8 Lestari Bintang: CCTV for the warehouse"
    assert len(shorten("x" * 100)) == 44 and shorten("x" * 100).endswith("…")


async def test_two_deals_of_one_title_are_told_apart_when_quoting(
        chat: CollectingChat, database: Database, clock) -> None:
    """Found by quoting as a rep: "For which deal of Samudra Mulia?" offered two buttons
    that both read "Samudra Mulia: CCTV for the warehouse"."""
    first = make_deal(database, clock.now())
    second = make_deal(database, clock.now())
    budi = chat.as_user("budi")
    await budi.say("make a quote for Sinar Jaya Abadi")
    labels = [b.label for b in budi.buttons]
    assert f"#{first} Servers for Sinar Jaya" in labels
    assert f"#{second} Servers for Sinar Jaya" in labels


async def test_stuck_deals_are_the_pipeline_with_the_untouched_ones(
        chat: CollectingChat) -> None:
    """"deal mana yang macet?" was not understood."""
    out = texts(await chat.as_user("budi").say("deal mana yang macet?"))
    assert "Paling lama tidak disentuh" in out
    out = texts(await chat.as_user("budi").say("which deals are stuck?"))
    assert "Untouched the longest" in out
