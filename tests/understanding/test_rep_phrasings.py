"""Ordinary requests a rep types, found failing by trying the bot as a rep: their intent,
their language, and the slots a town or an SKU in them hid."""

from __future__ import annotations

import re

import pytest

from bot.app import App
from bot.conversations.understanding.classifier import mask_example
from bot.conversations.understanding.slots import dates_as_placeholders
from bot.conversations.understanding.text import fold
from bot.conversations.understanding.understander import Understanding
from core.models import Company, Role
from tests.support.chat import CollectingChat, texts


@pytest.mark.parametrize(("message", "expect"), [
    ("my tasks", "Nothing planned: no open follow-ups or deliveries."),
    ("what's overdue?", "Nothing overdue, and no open follow-ups."),
    ("tugas saya apa aja", "Tidak ada rencana: tidak ada tindak lanjut atau pengiriman terbuka."),
    # "telat" is Indonesian: the answer is too, though the rep's language is English.
    ("follow up yang telat",
     "Tidak ada yang terlambat, dan tidak ada tindak lanjut yang terbuka."),
])
async def test_a_reps_tasks_are_their_open_follow_ups(chat: CollectingChat, message: str,
                                                     expect: str) -> None:
    assert expect in texts(await chat.as_user("budi").say(message))


def _understand(app: App, text: str, role: Role = Role.REP) -> Understanding:
    understander = app.engine.understander
    registry = app.registry
    allowed = {n for n, p in understander.phrasings.items()
               if role in registry.flows[p.flow].roles}
    with app.db.session() as session:
        index = app.services.contacts
        index.sync(session)
        return understander.understand(text, session, index, allowed.__contains__)


@pytest.mark.parametrize(("text", "sku"), [
    ("which customers would buy UPS-1K", "UPS-1K"),  # not an amount of "1K"
    ("brosur MON-27 udah dikirim ke siapa aja", "MON-27"),  # not Monday the 27th
])
def test_an_sku_is_a_product_not_the_amount_or_date_it_looks_like(app: App, text: str,
                                                                   sku: str) -> None:
    u = _understand(app, text)
    assert [(s.kind, s.value) for s in u.slots] == [("product", sku)]


def test_a_town_in_a_customers_name_is_part_of_the_name(app: App) -> None:
    u = _understand(app, "dispatch a repair job for Summit Medical Surabaya", Role.MANAGER)
    with app.db.session() as session:
        company = session.get(Company, u.customer.record_id) if u.customer else None
    assert company is not None and company.name == "Summit Medical Surabaya"
    assert not [s for s in u.slots if s.kind == "region"]
    assert u.intent == "newjob"
    # A town after a customer whose name it does not continue stays a town.
    u = _understand(app, "visit Pacific Trading surabaya")
    assert [s.kind for s in u.slots] == ["company", "region"]


def test_the_dates_of_the_examples_are_learnt_as_dates(app: App) -> None:
    """"best route for today" is an example of planning the day; a message's "today" reaches
    the classifier as a date, and so must the example's."""
    assert _understand(app, "best route for today").intent == "plan_day"
    assert _understand(app, "rute tercepat besok pagi").intent == "plan_day"


def test_no_two_intents_share_an_example(app: App) -> None:
    seen: dict[str, str] = {}
    clashes = []
    for p in app.engine.understander.phrasings.values():
        for language in ("en", "id"):
            for e in p.examples(language):
                shape = " ".join(re.sub(r"[^\w ]", " ", mask_example(
                    dates_as_placeholders(fold(e)), "")).split())
                if seen.setdefault(shape, p.name) != p.name:
                    clashes.append((e, p.name, seen[shape]))
    assert not clashes


def test_a_plural_typed_the_chat_way(app: App) -> None:
    u = _understand(app, "deal2 aku gmn")
    assert "deal-deal" in u.masked
    assert u.intent == "pipeline" and u.language == "id"


@pytest.mark.parametrize("text", [
    "follow up yang telat", "siapa sales yg pegang Oceanic Freight",
    "tolong buatin quotation utk Maju Bersama",
    "update pipelinenya dong",  # "-nya" on a known word, an English one included
])
def test_chat_spelling_tells_indonesian(app: App, text: str) -> None:
    assert _understand(app, text).language == "id"
