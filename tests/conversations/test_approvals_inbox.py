"""A manager's inbox: /approvals lists every request waiting for this manager, oldest first,
each with its buttons; a decided one leaves the list; the morning message counts them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from bot.app import App
from bot.i18n import Translator
from core import approvals
from core.clock import ManualClock
from core.db import Database
from core.followups import morning_plans
from core.models import ApprovalRequest, Deal, NoticeRow, User
from tests.support.chat import CollectingChat, texts


def waiting_requests(database: Database, clock: ManualClock) -> list[int]:
    """Two requests for Maya (a discount, then a contract an hour later) and one for
    Hendra; returns their ids."""
    now = clock.now()
    ids = []
    with database.session() as s:
        budi = s.scalars(select(User).where(User.login == "budi")).one()
        dewi = s.scalars(select(User).where(User.login == "dewi")).one()
        deal = s.scalars(select(Deal).where(Deal.owner_id == budi.id)).first()
        ids.append(approvals.request_approval(
            s, kind="discount", ref_id=999_001, requester=budi, now=now - timedelta(hours=2),
            amount=Decimal("120000000"), reason="competitor offered 15%",
            details={"discount_pct": "15", "quote_number": "Q-2026-901",
                     "customer": "PT Sinar Jaya Abadi"}).id)
        ids.append(approvals.request_approval(
            s, kind="contract", ref_id=deal.id, deal_id=deal.id, requester=budi,
            now=now - timedelta(hours=1), amount=Decimal("750000000"),
            details={"threshold": "500000000", "currency": "IDR"}).id)
        ids.append(approvals.request_approval(
            s, kind="discount", ref_id=999_002, requester=dewi, now=now,
            details={"discount_pct": "12", "quote_number": "Q-2026-902"}).id)
    return ids


async def test_approvals_lists_whats_waiting_oldest_first_with_buttons(
        chat: CollectingChat, database: Database, clock: ManualClock) -> None:
    discount, contract, _other = waiting_requests(database, clock)
    maya = chat.as_user("maya")
    r = await maya.say("/approvals")
    assert r[0].text == "2 requests wait for your decision (oldest first):"
    assert "Discount approval: 15% on quote Q-2026-901" in r[1].text
    assert "Customer: PT Sinar Jaya Abadi" in r[1].text and "Asked by Budi Santoso" in r[1].text
    assert "Contract approval for" in r[2].text and "Q-2026-902" not in texts(r)
    assert [b.label for b in r[1].buttons[0]] == ["Approve", "Reject"]
    r = await maya.send(maya.incoming(button=r[2].buttons[0][0].payload))  # the contract's
    assert "✅ Approved: Contract approval for" in texts(r)
    with database.session() as s:
        assert s.get(ApprovalRequest, contract).status == "approved"
    r = await maya.say("/approvals")
    assert r[0].text == "1 request waits for your decision (oldest first):"
    await maya.press("Reject")
    r = await maya.say("over the discount limit of the region")
    assert "❌ Rejected" in texts(r)
    r = await maya.say("/approvals")
    assert texts(r) == "Nothing waits for your decision."
    with database.session() as s:
        assert s.get(ApprovalRequest, discount).status == "rejected"
    # a rep has no inbox
    r = await chat.as_user("budi").say("/approvals")
    assert "Your role cannot use that" in texts(r)


async def test_the_morning_message_counts_them(
        app: App, database: Database, clock: ManualClock) -> None:
    waiting_requests(database, clock)
    morning = clock.now().replace(hour=0, minute=35)  # 07:35 in Jakarta
    with database.session() as s:
        s.execute(NoticeRow.__table__.delete().where(NoticeRow.kind == "followup.morning"))
        morning_plans(s, morning)
        maya = s.scalars(select(User).where(User.login == "maya")).one()
        row = s.scalars(select(NoticeRow).where(NoticeRow.kind == "followup.morning",
                                                NoticeRow.recipient_user_id == maya.id)).one()
        reply = app.registry.notices["followup.morning"](s, row, maya, Translator("en"))
        assert "🔏 2 requests wait for your decision: /approvals" in reply.text
        hendra = s.scalars(select(User).where(User.login == "hendra")).one()
        row = s.scalars(select(NoticeRow).where(NoticeRow.kind == "followup.morning",
                                                NoticeRow.recipient_user_id == hendra.id)
                        ).one()
        reply = app.registry.notices["followup.morning"](s, row, hendra, Translator("id"))
        assert "🔏 1 permintaan menunggu keputusan Anda: /approvals" in reply.text
