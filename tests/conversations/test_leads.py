"""Leads in chat: /newlead, the channel announcement with its Claim button pressed from the
group (first wins, the others told who took it), escalation buttons for the manager, the
approval notices for contract and discount."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from bot.app import App
from bot.i18n import Translator
from core import approvals, leads
from core.db import Database
from core.models import ApprovalRequest, Company, Deal, NoticeRow, Team, User
from tests.support.chat import CollectingChat, texts


def _channel(database: Database) -> None:
    with database.session() as s:
        team = s.scalars(select(Team).where(Team.name == "Java West")).one()
        team.channel_platform, team.channel_id = "console", "team-west"


def _render(app: App, database: Database, kind: str, login: str | None = None,
            deal_id: int | None = None):
    with database.session() as s:
        rows = s.scalars(select(NoticeRow).where(NoticeRow.kind == kind)
                         .order_by(NoticeRow.id.desc())).all()
        row = next((r for r in rows if deal_id is None
                    or r.params.get("deal_id") == deal_id), None)
        assert row is not None, kind
        user = s.scalars(select(User).where(User.login == login)).one() if login else None
        t = Translator(user.locale if user else "en")
        return app.registry.notices[kind](s, row, user, t)


async def test_newlead_is_announced_and_the_first_claim_wins(
        app: App, chat: CollectingChat, database: Database) -> None:
    _channel(database)
    budi = chat.as_user("budi")
    r = await budi.say("/newlead")
    assert "Which company" in texts(r)
    r = await budi.say("Sinar Jaya")
    if "Which one?" in texts(r):
        r = await budi.press("Sinar Jaya Abadi")
    assert "who is the contact?" in texts(r)
    await budi.press("Ratna Kusumawati")
    r = await budi.say("")
    r = await budi.say("Laptops for the finance team")
    assert "Where did the lead come from?" in texts(r)
    r = await budi.say("trade fair")
    assert "Announced in the Jakarta team channel" in texts(r)
    reply = _render(app, database, "lead.announce")
    assert "New lead #" in reply.text and "Need: Laptops for the finance team" in reply.text
    claim = reply.buttons[0][0]
    assert claim.label == "Claim" and claim.action == "lead.claim"
    payload = f"a|lead.claim|{claim.arg}"
    first, second = chat.as_user("sari"), chat.as_user("budi")
    for u in (first, second):
        u.chat_id = "team-west"
    r1 = await first.send(first.incoming(button=payload, chat_is_group=True))
    r2 = await second.send(second.incoming(button=payload, chat_is_group=True))
    assert "took lead #" in texts(r1) or "mengambil lead #" in texts(r1)
    assert "Too late: Sari Purnamasari already took lead #" in texts(r2)
    dewi = chat.as_user("dewi")  # Java East rep (speaks Indonesian): not her team
    dewi.chat_id = "team-west"
    r3 = await dewi.send(dewi.incoming(button=payload, chat_is_group=True))
    assert "Lead ini untuk tim wilayah lain." in texts(r3)
    with database.session() as s:
        deal = s.get(Deal, int(claim.arg))
        assert deal.owner.login == "sari" and deal.stage == "lead_allocated"
    # the announcement re-rendered now says who took it, without a button
    again = _render(app, database, "lead.announce")
    assert "Taken by Sari Purnamasari." in again.text and not again.buttons


async def test_newlead_refuses_bad_input(chat: CollectingChat) -> None:
    budi = chat.as_user("budi")
    await budi.say("/newlead")
    r = await budi.say("zzqqxx nothing")
    assert "I found no company" in texts(r)
    r = await budi.say("Sinar Jaya")
    if "Which one?" in texts(r):
        await budi.press("Sinar Jaya Abadi")
    await budi.press("No contact yet")
    r = await budi.say("x" * 600)
    assert "too long" in texts(r)


async def test_escalation_buttons_for_the_manager(app: App, chat: CollectingChat,
                                                  database: Database, clock) -> None:
    now = clock.now()
    with database.session() as s:
        admin = s.scalars(select(User).where(User.login == "admin")).one()
        sari = s.scalars(select(User).where(User.login == "sari")).one()
        company = s.scalars(select(Company).where(Company.name == "Sinar Jaya Abadi")).one()
        deal = leads.create_lead(s, admin, company=company, need="CCTV", source="web",
                                 now=now).deal
        leads.claim_lead(s, sari, deal.id, now)
        deal_id = deal.id
    later = now + timedelta(days=2)
    with database.session() as s:
        assert leads.escalate_uncontacted(s, later) >= 1
    reply = _render(app, database, "lead.escalation", "maya", deal_id)
    assert "was not contacted in time" in reply.text
    assert [b.label for b in reply.buttons[0]] == ["Reassign", "Extend", "Remind the rep"]
    maya = chat.as_user("maya")
    maya.buttons = list(reply.buttons[0])
    for b in maya.buttons:
        object.__setattr__(b, "payload", f"a|{b.action}|{b.arg}")
    r = await maya.press("Remind the rep")
    assert "I reminded Sari Purnamasari" in texts(r)
    reminder = _render(app, database, "lead.reminder", "sari", deal_id)
    assert "Maya Wijaya" in reminder.text
    maya.buttons = list(reply.buttons[0])
    r = await maya.press("Reassign")
    assert "to whom?" in texts(r)
    r = await maya.press("Budi Santoso")
    assert f"Lead #{deal_id} now belongs to Budi Santoso" in texts(r)
    budi = chat.as_user("budi")
    budi.buttons = [b for b in reply.buttons[0]]
    r = await budi.press("Extend")
    assert "Your role cannot do that" in texts(r)


async def test_approval_notices_for_discount_and_contract(app: App, chat: CollectingChat,
                                                          database: Database, clock) -> None:
    with database.session() as s:
        budi = s.scalars(select(User).where(User.login == "budi")).one()
        req = approvals.request_approval(
            s, kind="discount", ref_id=999, requester=budi, now=clock.now(),
            amount=Decimal("12000000"), reason="competitor at 14%",
            details={"quote_id": 999, "quote_number": "Q-2026-001", "discount_pct": "12.5",
                     "customer": "Sinar Jaya Abadi"})
        request_id = req.id
    reply = _render(app, database, "approval.requested", "maya")
    assert "Discount approval: 12.5% on quote Q-2026-001" in reply.text
    assert "Asked by Budi Santoso" in reply.text and "competitor at 14%" in reply.text
    maya = chat.as_user("maya")
    maya.buttons = [b for b in reply.buttons[0]]
    for b in maya.buttons:
        object.__setattr__(b, "payload", f"a|{b.action}|{b.arg}")
    r = await maya.press("Reject")
    assert "Why do you reject it?" in texts(r)
    r = await maya.say("")
    r = await maya.say("Margin too thin")
    assert "Rejected: Discount approval" in texts(r)
    with database.session() as s:
        assert s.get(ApprovalRequest, request_id).status == "rejected"
    decided = _render(app, database, "approval.decided", "budi")
    assert "Rejected by Maya Wijaya" in decided.text and "Margin too thin" in decided.text
    r = await maya.press("Approve")
    assert "already decided (rejected, by Maya Wijaya)" in texts(r)


async def test_admin_manages_territories_and_managers_see_a_regions_deals(
        chat: CollectingChat) -> None:
    admin = chat.as_user("admin")
    r = await admin.say("/territory add Jakarta Hotels | Jakarta | Hospitality | Java West")
    assert "Territory Jakarta Hotels saved." in texts(r)
    r = await admin.say("/territory rep Jakarta Hotels | budi")
    assert "Saved: budi in Jakarta Hotels." in texts(r)
    r = await admin.say("/territory list")
    assert "Jakarta Hotels: Jakarta · Hospitality · reps budi" in texts(r)
    r = await admin.say("/territory rep Atlantis | budi")
    assert "There is no territory called Atlantis." in texts(r)
    r = await admin.say("/territory frobnicate")
    assert "Use: /territory list" in texts(r)
    r = await chat.as_user("budi").say("/territory list")
    assert "Your role cannot use that" in texts(r)
    r = await chat.as_user("maya").say("deals in Jakarta")
    assert "Open deals in Jakarta:" in texts(r) and "Budi Santoso" in texts(r)
    r = await chat.as_user("maya").say("deals in Medan")
    assert "No open deals in Medan that you can see." in texts(r)


async def test_manager_sees_the_lead_queue_and_assigns(chat: CollectingChat,
                                                       database: Database, clock) -> None:
    now = clock.now()
    with database.session() as s:
        budi = s.scalars(select(User).where(User.login == "budi")).one()
        nowhere = Company(name="Nowhere Ltd", city="Atlantis", created_at=now, updated_at=now)
        s.add(nowhere)
        s.flush()
        deal_id = leads.create_lead(s, budi, company=nowhere, need="x", source="web",
                                    now=now).deal.id
    maya = chat.as_user("maya")
    r = await maya.say("/leads")
    assert "Without an owner:" in texts(r) and f"#{deal_id} Nowhere Ltd: x" in texts(r)
    r = await maya.press(f"Assign #{deal_id}")
    assert "to whom?" in texts(r)
    r = await maya.press("Andi Pratama")
    assert f"Lead #{deal_id} now belongs to Andi Pratama" in texts(r)


async def test_the_newlead_form_on_a_door_without_forms(chat: CollectingChat,
                                                        database: Database) -> None:
    from sqlalchemy import func

    from bot.conversations.messages import FormReply, form_file

    budi = chat.as_user("budi")
    with database.session() as s:
        deals = s.scalar(select(func.count()).select_from(Deal))
    replies = await budi.say("/newlead")
    assert isinstance(replies[-1], FormReply)
    # Pressed where there are no forms: the question is asked again in text.
    replies = await budi.press("📝 All in one form")
    assert "Which company is the lead? Type its name." in texts(replies)
    replies = await budi.say("Sinar Jaya")
    assert "who is the contact?" in texts(replies)
    # The company's form (its contacts as a choice), submitted as a door with forms does;
    # an unknown contact id and a negative amount are refused, nothing is written.
    offer = replies[-1]
    assert isinstance(offer, FormReply) and offer.form is not None
    contact_field = offer.form.fields[0]
    assert contact_field.kind == "choice" and contact_field.options[-1][0] == "none"
    hendro = next(v for v, label in contact_field.options if label == "Hendro Wibisono")
    button = budi.find("📝 All in one form").payload
    values = {"contact": hendro, "need": "Two servers", "source": "partner", "amount": "-1"}
    replies = await budi.send(budi.incoming(button=button, file=form_file(values)))
    assert "An amount is a number of zero or more." in texts(replies)
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(Deal)) == deals
    replies = await budi.send(budi.incoming(button=budi.find("📝 All in one form").payload,
                                            file=form_file({**values, "amount": "5000000"})))
    assert "recorded: Sinar Jaya Abadi: Two servers." in texts(replies)
    with database.session() as s:
        deal = s.scalar(select(Deal).order_by(Deal.id.desc()).limit(1))
        assert (deal.need, deal.source, deal.amount, deal.contact_id) == (
            "Two servers", "partner", Decimal(5_000_000), int(hendro))
