"""Issue 21 on Slack, through signed HTTP requests to the real bolt app and the mock Slack Web
API: a contact added in one line with its duplicate check, a merge by a manager, the
manager's inbox in chat and on the Home tab (a press there is answered in the DM and the tab
is published again without the decided request)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.app import App
from bot.handlers.slack import SlackDoor
from core import approvals
from core.models import ApprovalRequest, Contact, User
from tests.handlers.fake_slack import TEAM, FakeSlack
from tests.handlers.slack_fixtures import fake_fixture
from tests.handlers.slack_support import SignedSlack, SlackUser
from tests.handlers.test_slack import door, link, slack, slack_settings

__all__ = ["door", "fake_fixture", "slack", "slack_settings"]


@pytest.fixture
async def users(app: App, door: SlackDoor, slack: SignedSlack, fake: FakeSlack
                ) -> AsyncIterator[dict[str, SlackUser]]:
    out = {}
    for login, uid in (("budi", "U1"), ("maya", "U3")):
        link(app, login, uid)
        out[login] = SlackUser(slack, fake, door, uid)
    yield out


async def test_a_contact_added_in_one_line_with_its_duplicate_check(
        app: App, users: dict[str, SlackUser]) -> None:
    budi = users["budi"]
    out = await budi.cmd("newcontact Hadi Effendi, purchasing at Sinar Jaya Abadi, "
                         "0812 3456 789")
    assert "✅ Hadi Effendi added at PT Sinar Jaya Abadi." in out
    out = await budi.cmd("newcontact Hadi Efendi at Sinar Jaya, 0812-3456-789")
    assert "it may already be recorded" in out
    assert "Hadi Effendi (PT Sinar Jaya Abadi) — a like name, the same phone" in out
    out = await budi.press("Use Hadi Effendi (PT Sinar Jaya Abadi)")
    assert "👤 Hadi Effendi" in out and "Mobile: +628123456789" in out
    out = await budi.press("✏️ Edit")
    out = await budi.press("💼 Job title")
    out = await budi.say("Procurement Lead")
    assert "Role: Procurement Lead, Purchasing" in out
    with app.db.session() as s:
        assert s.scalar(select(Contact.job_title).where(
            Contact.name == "Hadi Effendi")) == "Procurement Lead"


async def test_a_manager_merges_a_duplicate(app: App, users: dict[str, SlackUser]) -> None:
    budi, maya = users["budi"], users["maya"]
    await budi.cmd("newcontact Ratna K., at Sinar Jaya Abadi, ratna@gmail.example")
    out = await budi.press("Create anyway")
    assert "✅ Ratna K. added" in out
    out = await maya.cmd("merge Ratna K.")
    if "Which one is the duplicate?" in out:
        out = await maya.press("👤 Ratna K.")
    out = await maya.press("👤 Ratna Kusumawati")
    out = await maya.press("Merge")
    assert "✅ Merged Ratna K. into the record kept" in out
    with app.db.session() as s:
        assert s.scalar(select(Contact.id).where(Contact.name == "Ratna K.")) is None
        assert s.scalar(select(Contact.email).where(
            Contact.name == "Ratna Kusumawati")) != "ratna@gmail.example"


def _waiting(app: App) -> tuple[int, int]:
    now = app.clock.now()
    with app.db.session() as s:
        budi = s.scalars(select(User).where(User.login == "budi")).one()
        first = approvals.request_approval(
            s, kind="discount", ref_id=990_001, requester=budi, now=now - timedelta(hours=3),
            amount=Decimal("50000000"), details={"discount_pct": "18",
                                                 "quote_number": "Q-2026-950"})
        second = approvals.request_approval(
            s, kind="discount", ref_id=990_002, requester=budi, now=now,
            details={"discount_pct": "11", "quote_number": "Q-2026-951"})
        return first.id, second.id


async def test_the_inbox_in_chat(app: App, users: dict[str, SlackUser]) -> None:
    first, _second = _waiting(app)
    maya = users["maya"]
    out = await maya.cmd("approvals")
    assert "2 requests wait for your decision (oldest first):" in out
    assert out.index("Q-2026-950") < out.index("Q-2026-951")
    out = await maya.press("Approve")  # the latest message with buttons: the newer one
    assert "✅ Approved: Discount approval: 11% on quote Q-2026-951" in out
    out = await maya.cmd("approvals")
    assert "1 request waits for your decision" in out and "Q-2026-951" not in out
    with app.db.session() as s:
        assert s.get(ApprovalRequest, first).status == "pending"


async def test_the_inbox_on_the_home_tab(app: App, door: SlackDoor, slack: SignedSlack,
                                         fake: FakeSlack, users: dict[str, SlackUser]) -> None:
    first, second = _waiting(app)
    await slack.event({"type": "app_home_opened", "user": "U3", "channel": "DU3",
                       "tab": "home"})
    await door.drain()
    view = fake.of("views.publish")[-1].args["view"]
    shown = str(view)
    assert "Waiting for your decision" in shown and "2 requests" in shown
    assert shown.index("Q-2026-950") < shown.index("Q-2026-951")
    ids = [b["block_id"] for b in view["blocks"] if "block_id" in b]
    assert len(ids) == len(set(ids))  # Slack refuses a view with a repeated block id
    approve = next(e for b in view["blocks"] if b["type"] == "actions"
                   for e in b["elements"] if e["value"] == f"a|approval.approve|{first}")
    fake.clear()
    status, _ = await slack.interaction({
        "type": "block_actions", "team": {"id": TEAM}, "user": {"id": "U3", "team_id": TEAM},
        "api_app_id": "A1", "trigger_id": "tr-home",
        "container": {"type": "view", "view_id": view.get("id", "V1")},
        "view": view, "actions": [{**approve, "block_id": "b", "type": "button",
                                   "action_ts": f"{time.time():.6f}"}]})
    assert status == 200
    await door.drain()
    answer = fake.of("chat.postMessage")
    assert answer and answer[0].args["channel"] == "DU3"
    assert "✅ Approved: Discount approval: 18% on quote Q-2026-950" in answer[0].text
    again = str(fake.of("views.publish")[-1].args["view"])
    assert "Q-2026-950" not in again and "Q-2026-951" in again and "1 request" in again
    with app.db.session() as s:
        assert s.get(ApprovalRequest, first).status == "approved"
        assert s.get(ApprovalRequest, second).status == "pending"


async def test_a_quote_sent_and_accepted_later(app: App, users: dict[str, SlackUser],
                                               fake: FakeSlack) -> None:
    from core.models.quotes import Quote

    budi = users["budi"]
    out = await budi.cmd("quote Sinar Jaya")
    if "For which deal" in out:
        await budi.press("No deal")
    await budi.say("2 laptop pro")
    await budi.press("Create PDF quote")
    with app.db.session() as s:
        number = s.scalars(select(Quote.number).order_by(Quote.id.desc())).first()
    await budi.cmd("whoami")
    out = await budi.cmd(f"quote {number}")
    assert f"{number} v1" in out
    uploads = len(fake.of("files.completeUploadExternal"))
    await budi.press("📄 PDF to send")
    assert len(fake.of("files.completeUploadExternal")) == uploads + 1
    await budi.cmd(f"quote {number}")
    out = await budi.press("Accept (order)")
    assert "Order SO-2026-" in out


async def test_resolving_a_complaint_drafts_the_letter(app: App,
                                                       users: dict[str, SlackUser]) -> None:
    budi = users["budi"]
    await budi.cmd("complaint Sinar Jaya Abadi")
    out = await budi.say("The delivered monitors flicker")
    out = await budi.press("High")
    out = await budi.press("Me")
    assert "registered" in out
    out = await budi.press("Resolve")
    out = await budi.say("Replaced all five monitors on site")
    assert "A letter for the customer, ready to send:" in out
    assert "What we did: Replaced all five monitors on site" in out
    out = await budi.press("Sent it")
    assert "Recorded" in out


async def test_a_contact_card_on_slack(users: dict[str, SlackUser], fake: FakeSlack) -> None:
    budi = users["budi"]
    await budi.cmd("editcontact Hendro Wibisono")
    await budi.press("✅ Done")
    uploads = len(fake.of("files.completeUploadExternal"))
    await budi.press("vCard")
    assert len(fake.of("files.completeUploadExternal")) == uploads + 1
    out = await budi.press("📎 .vcf file")
    assert "Contact card of Hendro Wibisono." in out
