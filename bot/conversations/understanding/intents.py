"""How an intent is declared: a name, the flow it starts, its slots and example utterances.

Declare it next to its flow and register it in the module's `register(registry)`:

    registry.add_phrasings(Phrasings(
        "ask_handles", flow="ask_handles", slots=("company",),
        en=("who handles {company}?", "who's in charge of {company}", ...),   # >= 15
        id=("siapa yang pegang {company}?", "pic {company} siapa ya", ...),   # >= 15
    ))

Slot placeholders in the examples (the message's own words for them are found by the fuzzy
indexes and synonym tables, then masked, so the classifier learns the sentence, not names):
`{company}`, `{contact}`, `{customer}` (a company or a contact), `{product}`,
`{department}`, `{region}`, `{date}`, `{amount}`, `{number}`, `{text}` (free text: a search,
a note, a reminder's subject). The flow then starts with `ctx.args` holding, per slot found:
`company`/`contact`/`product`/`region`/`department` (the canonical name), `company_id`,
`contact_id`, `product_id` (the record id, as text), `date` (ISO), `amount`, `number`, and
`text` (the customer's name as typed for `{customer}`/`{company}`/`{contact}`, else the
free text), plus the fixed `args` of the declaration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

SLOT_NAMES = frozenset({"company", "contact", "customer", "product", "department", "region",
                        "date", "amount", "number", "text"})
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
MIN_EXAMPLES = 15


@dataclass(frozen=True)
class Phrasings:
    """One intent as data.

    Args:
        name: unique intent name (shown nowhere; used in tests and the confusion table).
        flow: the flow it starts.
        en / id: example utterances in English / Indonesian (formal and colloquial), with
            slot placeholders; at least 15 each.
        slots: the slots the intent takes (placeholders used in the examples must be listed).
        args: fixed start arguments given to the flow (e.g. {"kind": "call"}).
        label: short description (N_ msgid) used when the bot asks "Do you want: ...".
        mid_flow: may interrupt an open flow when confidently recognised (default True).
    """

    name: str
    flow: str
    en: tuple[str, ...]
    id: tuple[str, ...]
    slots: tuple[str, ...] = ()
    args: Mapping[str, str] = field(default_factory=dict)
    label: str = ""
    mid_flow: bool = True

    def examples(self, language: str) -> tuple[str, ...]:
        return self.en if language == "en" else self.id

    def validate(self) -> None:
        """Raise ValueError when the declaration is malformed."""
        for language in ("en", "id"):
            examples = self.examples(language)
            if len(set(examples)) < MIN_EXAMPLES:
                raise ValueError(f"intent {self.name!r}: at least {MIN_EXAMPLES} distinct "
                                 f"{language} examples, got {len(set(examples))}")
            for text in examples:
                for slot in _PLACEHOLDER.findall(text):
                    if slot not in SLOT_NAMES:
                        raise ValueError(f"intent {self.name!r}: unknown slot {{{slot}}}")
                    if slot not in self.slots:
                        raise ValueError(f"intent {self.name!r}: {{{slot}}} not in slots")
