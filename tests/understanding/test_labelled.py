"""The labelled set: what the bot makes of ordinary phrasings it was never shown.

At least 600 utterances in English and Indonesian (typos, word order, code-switching, the
source's own wording), none of them one of the intents' examples: the intent taken and the
slots found (customer, department, product, region) are each right at least 95% of the time,
and the message's language is told (never wrongly) for most of them.
"""

from __future__ import annotations

import re

from bot.app import App
from bot.conversations.understanding.classifier import mask_example
from bot.conversations.understanding.slots import dates_as_placeholders
from bot.conversations.understanding.text import fold
from tests.understanding.labelled import evaluate, load


def _shape(text: str) -> str:
    return " ".join(re.sub(r"[^\w ]", " ", text).split())


def test_the_labelled_set_shares_no_utterance_with_the_examples(app: App) -> None:
    items = load()
    assert len(items) >= 600
    assert {i.language for i in items} == {"en", "id"}
    understander = app.engine.understander
    examples = {_shape(mask_example(dates_as_placeholders(fold(e)), ""))
                for p in understander.phrasings.values()
                for language in ("en", "id") for e in p.examples(language)}
    with app.db.session() as session:
        index = app.services.contacts
        index.sync(session)
        same = [i.text for i in items
                if _shape(understander.understand(i.text, session, index).masked) in examples]
    assert not same, f"these are examples, not held-out phrasings: {same}"


def test_intents_and_slots_of_the_labelled_set(app: App) -> None:
    items = load()
    understander = app.engine.understander
    with app.db.session() as session:
        index = app.services.contacts
        index.sync(session)
        result = evaluate(understander, session, index, items, app.registry)
        per_language = {
            lang: evaluate(understander, session, index, [i for i in items
                                                          if i.language == lang],
                           app.registry)
            for lang in ("en", "id")}
    report = "\n".join(result.errors[:60])
    assert result.intent_accuracy >= 0.95, f"{result.intent_accuracy:.3f}\n{report}"
    assert result.slot_accuracy >= 0.95, f"{result.slot_accuracy:.3f}\n{report}"
    for lang, r in per_language.items():
        assert r.intent_accuracy >= 0.93, f"{lang}: {r.intent_accuracy:.3f}"
    # The reply's language: told from the message's own words (chat spelling included) for
    # most of them, never the other language (an undecided one keeps the user's).
    assert result.language_wrong == 0, report
    assert result.language_accuracy >= 0.88, f"language told {result.language_accuracy:.3f}"
