"""Real flows as Slack modals: log visit, new lead and quote items, through signed requests to
the real bolt app and the mock Slack Web API. Field errors come back in the modal
(`response_action: errors`); what only the core can refuse (a date in the past, an unknown
company or product, a discount above the limit without a reason) comes back as a message
with the form again, filled in, and nothing is written."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from bot.app import App
from bot.handlers.slack import SlackDoor
from core.models import Activity, Contact, Deal, FollowUp
from core.models.quotes import Quote, QuoteVersion
from tests.handlers.fake_slack import FakeSlack
from tests.handlers.slack_fixtures import fake_fixture
from tests.handlers.slack_support import SignedSlack, SlackUser
from tests.handlers.test_slack import door, link, slack, slack_settings

__all__ = ["door", "fake_fixture", "slack", "slack_settings"]


@pytest.fixture
async def budi(app: App, door: SlackDoor, slack: SignedSlack, fake: FakeSlack
               ) -> AsyncIterator[SlackUser]:
    link(app, "budi", "U1")
    yield SlackUser(slack, fake, door, "U1")


def count(app: App, model: type) -> int:
    with app.db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


async def open_form(user: SlackUser, label: str) -> dict[str, Any]:
    """Press the form button `label` in the DM; return the modal Slack was asked to open."""
    opened = len(user.fake.of("views.open"))
    call, button = user.find(label)
    assert button["action_id"].startswith("sfa_form")
    status, body = await user.slack.press(user.user, button, channel=call.args["channel"],
                                          message_ts=call.result["ts"], blocks=call.blocks())
    assert status == 200 and body == ""
    await user.door.drain()
    views = user.fake.of("views.open")
    assert len(views) == opened + 1, "no modal was opened"
    view = views[-1].args["view"]
    return json.loads(view) if isinstance(view, str) else view


def state(view: dict[str, Any], answers: dict[str, str]) -> dict[str, Any]:
    """The modal's state as Slack submits it, for these answers by field name."""
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        element, answer = block["element"], answers.get(block["block_id"], "")
        if element["type"] == "static_select":
            known = {o["value"] for o in element["options"]}
            assert not answer or answer in known, f"{answer!r} is not offered"
            entry = {"type": "static_select",
                     "selected_option": {"value": answer} if answer else None}
        elif element["type"] == "datepicker":
            entry = {"type": "datepicker", "selected_date": answer or None}
        else:
            entry = {"type": "plain_text_input", "value": answer or None}
        values[block["block_id"]] = {"v": entry}
    return values


def initial(view: dict[str, Any]) -> dict[str, str]:
    """The values a modal opens with, by field name."""
    out = {}
    for block in view["blocks"]:
        e = block["element"]
        out[block["block_id"]] = (e.get("initial_value") or e.get("initial_date")
                                  or (e.get("initial_option") or {}).get("value") or "")
    return out


async def submit(user: SlackUser, view: dict[str, Any], answers: dict[str, str]
                 ) -> tuple[dict[str, Any] | None, str]:
    """Submit the modal: (the field errors answered in the modal or None, the texts posted)."""
    mark = len(user.fake.calls)
    status, body = await user.slack.submit(user.user, view, state(view, answers))
    assert status == 200
    await user.door.drain()
    posted = "\n".join(c.text for c in user.fake.calls[mark:] if c.method in (
        "chat.postMessage", "chat.postEphemeral", "files.completeUploadExternal"))
    return (json.loads(body) if body else None), posted


# -- log visit ------------------------------------------------------------------------------
async def test_visit_via_modal(app: App, budi: SlackUser, fake: FakeSlack) -> None:
    out = await budi.say("log visit hendro wibisono")
    assert "How did the visit with Hendro Wibisono (PT Sinar Jaya Abadi) go?" in out
    view = await open_form(budi, "📝 All in one form")
    assert view["type"] == "modal" and view["callback_id"] == "sfa_form"
    assert [b["block_id"] for b in view["blocks"]] == ["kind", "outcome", "notes", "next_date"]
    assert initial(view)["kind"] == "visit"
    errors, out = await submit(budi, view, {
        "kind": "visit", "outcome": "positive", "notes": "Wants a demo of the X2 in April",
        "next_date": "2026-03-05"})
    assert errors is None
    assert "Saved: visit with Hendro Wibisono (PT Sinar Jaya Abadi)." in out
    assert "Next step on" in out and "5 Mar" in out
    with app.db.session() as session:
        activity = session.scalar(select(Activity).order_by(Activity.id.desc()).limit(1))
        assert activity is not None
        assert (activity.kind, activity.outcome, activity.notes) == (
            "visit", "positive", "Wants a demo of the X2 in April")
        contact = session.get(Contact, activity.contact_id)
        assert contact is not None and contact.name == "Hendro Wibisono"
        follow = session.scalar(select(FollowUp).order_by(FollowUp.id.desc()).limit(1))
        assert follow is not None and follow.due_at.date() == date(2026, 3, 5)
    # The message with the form's button is closed: the button cannot act twice.
    closed = fake.of("chat.update")[-1]
    assert "You chose: 📝 All in one form" in str(closed.blocks())
    assert not [b for b in closed.blocks() if b["type"] == "actions"]
    activities = count(app, Activity)
    _errors, out = await submit(budi, view, {"kind": "visit", "outcome": "positive"})
    assert "Saved" not in out and count(app, Activity) == activities


async def test_visit_modal_with_bad_values(app: App, budi: SlackUser, fake: FakeSlack
                                           ) -> None:
    await budi.say("log call hendro wibisono")
    view = await open_form(budi, "📝 All in one form")
    assert initial(view)["kind"] == "call"
    before = count(app, Activity), count(app, FollowUp)
    # What the door can check stays in the modal, as field errors.
    errors, out = await submit(budi, view, {"kind": "call", "next_date": "2026-13-40"})
    assert errors is not None and errors["response_action"] == "errors"
    assert set(errors["errors"]) == {"outcome", "next_date"}
    assert "required" in errors["errors"]["outcome"]
    assert "YYYY-MM-DD" in errors["errors"]["next_date"]
    assert out == ""
    # A date in the past only the core can refuse: said so, the form offered again with the
    # answers kept, nothing written.
    errors, out = await submit(budi, view, {"kind": "call", "outcome": "neutral",
                                            "notes": "Call back", "next_date": "2026-02-20"})
    assert errors is None
    assert "That date is in the past" in out and "Correct it in the form" in out
    assert (count(app, Activity), count(app, FollowUp)) == before
    again = await open_form(budi, "📝 All in one form")
    assert initial(again) == {"kind": "call", "outcome": "neutral", "notes": "Call back",
                              "next_date": "2026-02-20"}
    errors, out = await submit(budi, again, {"kind": "call", "outcome": "neutral",
                                             "notes": "Call back", "next_date": ""})
    assert errors is None and "Saved: call with Hendro Wibisono" in out
    assert "Next step" not in out
    assert count(app, Activity) == before[0] + 1 and count(app, FollowUp) == before[1]


async def test_the_visit_text_path_still_asks_step_by_step(budi: SlackUser) -> None:
    await budi.say("log visit hendro wibisono")
    await budi.press("👍 Positive")
    out = await budi.press("Skip")
    assert "Next step: when should you follow up?" in out
    out = await budi.press("No next step")
    assert "Saved: visit with Hendro Wibisono" in out


# -- new lead -------------------------------------------------------------------------------
async def test_new_lead_via_modal(app: App, budi: SlackUser, fake: FakeSlack) -> None:
    out = await budi.cmd("newlead")
    assert "Which company is the lead?" in out
    view = await open_form(budi, "📝 All in one form")
    assert [b["block_id"] for b in view["blocks"]] == [
        "company", "contact", "need", "source", "amount"]
    deals = count(app, Deal)
    errors, out = await submit(budi, view, {
        "company": "Sinar Jaya", "contact": "Ratna", "need": "20 laptops for the finance team",
        "source": "referral", "amount": "300,000,000"})
    assert errors is None
    assert "recorded: Sinar Jaya Abadi: 20 laptops for the finance team." in out
    assert count(app, Deal) == deals + 1
    with app.db.session() as session:
        deal = session.scalar(select(Deal).order_by(Deal.id.desc()).limit(1))
        assert deal is not None and deal.source == "referral" and deal.stage == "opportunity"
        assert deal.need == "20 laptops for the finance team"
        assert deal.amount == 300_000_000
        contact = session.get(Contact, deal.contact_id)
        assert contact is not None and contact.name == "Ratna Kusumawati"


async def test_new_lead_modal_once_the_company_is_chosen(app: App, budi: SlackUser) -> None:
    out = await budi.cmd("newlead Sinar Jaya")
    assert "Sinar Jaya Abadi: who is the contact?" in out
    view = await open_form(budi, "📝 All in one form")
    assert [b["block_id"] for b in view["blocks"]] == ["contact", "need", "source", "amount"]
    contact = view["blocks"][0]["element"]
    names = [o["text"]["text"] for o in contact["options"]]
    assert "Hendro Wibisono" in names and names[-1] == "No contact yet"
    errors, out = await submit(budi, view, {"contact": "none", "need": "A rack of servers",
                                            "source": "event"})
    assert errors is None and "recorded: Sinar Jaya Abadi: A rack of servers." in out
    with app.db.session() as session:
        deal = session.scalar(select(Deal).order_by(Deal.id.desc()).limit(1))
        assert deal is not None and deal.contact_id is None and deal.source == "event"


async def test_new_lead_modal_with_bad_values(app: App, budi: SlackUser) -> None:
    await budi.cmd("newlead")
    view = await open_form(budi, "📝 All in one form")
    deals = count(app, Deal)
    errors, _out = await submit(budi, view, {"company": "", "need": "x" * 20,
                                             "amount": "lots"})
    assert errors is not None and set(errors["errors"]) == {"company", "source", "amount"}
    # A company nobody can find: said so, form again with the answers, no deal.
    errors, out = await submit(budi, view, {"company": "Zzyzx Qwerty Holdings",
                                            "need": "Servers", "source": "website"})
    assert errors is None and "I found no company like \"Zzyzx Qwerty Holdings\"" in out
    assert count(app, Deal) == deals
    again = await open_form(budi, "📝 All in one form")
    assert initial(again)["company"] == "Zzyzx Qwerty Holdings"
    assert initial(again)["source"] == "website"
    # A contact who does not work there, then a negative amount: refused, nothing written.
    _errors, out = await submit(budi, again, {"company": "Sinar Jaya", "contact": "Nobody Atall",
                                              "need": "Servers", "source": "website"})
    assert "No single contact called \"Nobody Atall\" at Sinar Jaya Abadi" in out
    again = await open_form(budi, "📝 All in one form")
    _errors, out = await submit(budi, again, {"company": "Sinar Jaya", "need": "Servers",
                                              "source": "website", "amount": "-5"})
    assert "An amount is a number of zero or more." in out
    assert count(app, Deal) == deals


# -- quote items ----------------------------------------------------------------------------
async def _quote_items_form(budi: SlackUser, fake: FakeSlack) -> dict[str, Any]:
    out = await budi.cmd("quote Sinar Jaya")
    if "No deal" in str([b["text"]["text"] for b in fake.of("chat.postMessage")[-1].buttons()]):
        out = await budi.press("No deal")
    assert "Which products?" in out
    return await open_form(budi, "📝 Items in a form")


async def test_quote_items_via_modal(app: App, budi: SlackUser, fake: FakeSlack) -> None:
    quotes = count(app, Quote)
    view = await _quote_items_form(budi, fake)
    assert [b["block_id"] for b in view["blocks"]] == ["items", "discount", "reason"]
    assert view["blocks"][0]["element"]["multiline"] is True
    errors, out = await submit(budi, view, {"items": "2 SRV-X1\n2 RACK-KIT\n10 laptop pro",
                                            "discount": "3"})
    assert errors is None
    assert "Server X1 × 2" in out and "Rack kit × 2" in out and "Laptop Pro 14 × 10" in out
    assert "Quote discount 3% applied." in out
    # The form opened from the priced summary shows the quote as it stands; edit it there.
    view = await open_form(budi, "📝 Items in a form")
    lines = initial(view)["items"].splitlines()
    assert sorted(lines) == ["10 LAP-PRO", "2 RACK-KIT", "2 SRV-X1"]
    assert initial(view)["discount"] == "3"
    _errors, out = await submit(budi, view, {"items": "1 SRV-X1\n1 RACK-KIT", "discount": ""})
    assert "Server X1 × 1" in out and "Laptop Pro" not in out and "Quote discount" not in out
    assert count(app, Quote) == quotes  # nothing is saved before the PDF is asked for
    await budi.press("Create PDF quote")
    pdf = list(fake.uploads.values())[-1]
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Server X1" in text and "Rack kit" in text and "Laptop Pro" not in text
    with app.db.session() as session:
        version = session.scalar(select(QuoteVersion).order_by(QuoteVersion.id.desc()))
        assert version is not None and sorted((x.sku, x.quantity) for x in version.lines) == [
            ("RACK-KIT", 1), ("SRV-X1", 1)]


async def test_quote_items_modal_with_bad_values(app: App, budi: SlackUser,
                                                 fake: FakeSlack) -> None:
    quotes, versions = count(app, Quote), count(app, QuoteVersion)
    view = await _quote_items_form(budi, fake)
    errors, _out = await submit(budi, view, {"items": "", "discount": "ten"})
    assert errors is not None and set(errors["errors"]) == {"items", "discount"}
    # An unknown product: named, the form again with the lines kept; the quote unchanged.
    errors, out = await submit(budi, view, {"items": "2 SRV-X1\n2 RACK-KIT\n3 flux capacitor"})
    assert errors is None and "I don't know a product \"flux capacitor\"" in out
    assert "Server X1 ×" not in out
    again = await open_form(budi, "📝 Items in a form")
    assert initial(again)["items"] == "2 SRV-X1\n2 RACK-KIT\n3 flux capacitor"
    # A bad quantity, then a discount above the rep's limit without a reason: refused.
    _errors, out = await submit(budi, again, {"items": "0 SRV-X1"})
    assert "must be a whole number above zero" in out
    again = await open_form(budi, "📝 Items in a form")
    _errors, out = await submit(budi, again, {"items": "2 SRV-X1\n2 RACK-KIT",
                                              "discount": "15"})
    assert "15% is above your limit of" in out and "give your manager a reason" in out
    assert (count(app, Quote), count(app, QuoteVersion)) == (quotes, versions)
    # With a reason the quote is saved and the discount waits for the manager.
    again = await open_form(budi, "📝 Items in a form")
    assert initial(again)["discount"] == "15"
    _errors, out = await submit(budi, again, {"items": "2 SRV-X1\n2 RACK-KIT",
                                              "discount": "12",
                                              "reason": "Competitor offered 12% off"})
    assert "is saved. The 12% discount is waiting for" in out
    with app.db.session() as session:
        version = session.scalar(select(QuoteVersion).order_by(QuoteVersion.id.desc()))
        assert version is not None and version.discount_status == "pending"
        assert version.note == "Competitor offered 12% off"


def test_a_long_form_travels_compressed_so_any_worker_can_open_it() -> None:
    """A form too long for a plain button value (2,000 chars) is squeezed into it, not kept
    in one process's memory; a hostile or broken value is refused, never inflated."""
    import base64
    import zlib

    from bot.conversations.messages import Button, Form, FormField, FormReply
    from bot.handlers.slack import render, unpack_form

    options = tuple((f"c{i}", f"Contact number {i} — Purchasing, PT Example {i}")
                    for i in range(40))
    form = Form(title="New lead", value="form", fields=(
        FormField("contact", "Contact", kind="choice", options=options),
        FormField("need", "Need", kind="long_text")))
    reply = FormReply(text="Lead", form=form,
                      buttons=((Button("All in one form", value="form", payload="f|x|1|form"),),))
    memory: dict[str, Form] = {}
    _text, blocks = render(reply, memory)
    value = next(e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"])
    assert len(value) <= 2000 and not memory  # nothing kept in this process
    packed = json.loads(value)
    assert packed["p"] == "f|x|1|form" and packed["f"].startswith("z")
    assert unpack_form(packed["f"]) == form
    bomb = "z" + base64.b64encode(zlib.compress(b"[" * 5_000_000)).decode()
    with pytest.raises(ValueError):
        unpack_form(bomb)
    with pytest.raises((ValueError, zlib.error)):
        unpack_form("znot-base64!")
