"""Understanding one message: its slots, its intent (or a short list to ask about), its
language. Built once from the registry's intents; cheap per message."""

from __future__ import annotations

import gc
import hashlib
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rapidfuzz import fuzz
from sqlalchemy.orm import Session

from bot.conversations.understanding.classifier import (
    MASKS,
    NONE,
    TEXT_FILLERS,
    IntentClassifier,
    Scored,
    mask_example,
)
from bot.conversations.understanding.intents import Phrasings
from bot.conversations.understanding.slots import (
    CUSTOMER_KINDS,
    Slot,
    SlotFinder,
    dates_as_placeholders,
)
from bot.conversations.understanding.text import (
    _EN_WORDS,
    _ID_WORDS,
    Token,
    fold,
    language_of,
    tokens,
)
from core.contact_index import ContactIndex

# Decisions (tuned on the labelled development set, tests/understanding/).
ACCEPT = 0.45  # the best intent's probability from which it is taken...
MARGIN = 0.18  # ...when it is this far ahead of the second
ALONE, ALONE_RATIO = 0.3, 0.25  # ...or at least this likely and 4 times the second
UNKNOWN_NAME = 0.4  # words the bot does not know are a name to look up unless chatter-like
CLARIFY_FLOOR = 0.12  # a second intent this likely is offered in a clarifying question
ASK_FLOOR = 0.25  # below this, the best intent is not worth a question: the bot says so
_QUESTION_WORDS = frozenset((
    "who", "whom", "whose", "what", "what's", "whats", "which", "when", "where", "where's",
    "how", "how's", "is", "are", "do", "does", "did", "can", "could", "should", "siapa",
    "siapakah", "apa", "apakah", "kapan", "dimana", "mana", "kemana", "berapa", "gimana",
    "bagaimana", "adakah", "ada",
))
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass
class Understanding:
    """What a message asks for, as far as the bot can tell."""

    text: str
    tokens: list[Token]
    slots: list[Slot]
    masked: str
    scored: Scored
    language: str | None
    intent: str | None = None  # taken intent, or None
    choices: tuple[str, ...] = ()  # intents to ask about when not sure
    seconds: float = 0.0
    args: dict[str, str] = field(default_factory=dict)

    @property
    def confidence(self) -> float:
        return self.scored.best[1]

    def slot(self, *kinds: str) -> Slot | None:
        return next((s for s in self.slots if s.kind in kinds), None)

    @property
    def customer(self) -> Slot | None:
        return self.slot(*CUSTOMER_KINDS)

    @property
    def is_question(self) -> bool:
        """A clear question: a question mark, or a question word first."""
        if self.text.rstrip().endswith("?"):
            return True
        return bool(self.tokens) and self.tokens[0].norm in _QUESTION_WORDS

    def covered_by(self, *kinds: str) -> bool:
        """True when slots of these kinds are (nearly) all the message says."""
        inside = sum(1 for t in self.tokens
                     if any(s.kind in kinds and s.start <= t.start < s.end for s in self.slots))
        return bool(self.tokens) and inside >= max(1, len(self.tokens) - 1) and inside > 0

# Slots spelled in the message's own words: they count for its language, a name does not.
_WORDED = frozenset({"date", "amount", "number"})


class Understanders:
    """Understanders kept by the intents they were trained on, so that each set is trained
    once: the composition root makes one (bot.app.build_app); the tests share one per worker
    process, as they build an app per test over the same registry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._trained: dict[str, Understander] = {}

    def for_phrasings(self, phrasings: Mapping[str, Phrasings]) -> Understander:
        """The understander of these intents, trained on first use."""
        digest = hashlib.sha256(repr(sorted(
            (p.name, p.flow, p.en, p.id, p.slots, sorted(p.args.items()), p.label, p.mid_flow)
            for p in phrasings.values())).encode()).hexdigest()
        with self._lock:
            found = self._trained.get(digest)
            if found is None:
                found = self._trained[digest] = Understander(phrasings)
            return found


class Understander:
    """Intent classifier and slot finder built from the registered intents."""

    def __init__(self, phrasings: Mapping[str, Phrasings]) -> None:
        started = time.perf_counter()
        self.phrasings = dict(phrasings)
        carrier: set[str] = set()
        self._prefix: dict[str, set[str]] = {}
        self._suffix: dict[str, set[str]] = {}
        examples: list[tuple[str, str]] = []
        for p in self.phrasings.values():
            for language in ("en", "id"):
                for k, example in enumerate(p.examples(language)):
                    words = [t for t in re.split(r"[^\w'{}-]+", fold(example)) if t]
                    carrier.update(w.strip("'") for w in words
                                   if not _PLACEHOLDER.fullmatch(w))
                    if "{text}" in example:
                        before, _, after = example.partition("{text}")
                        self._prefix.setdefault(p.name, set()).update(_words(before))
                        self._suffix.setdefault(p.name, set()).update(_words(after))
                    seen = dates_as_placeholders(fold(example))  # as a message is masked
                    if "{text}" in example:
                        for f in range(3):  # three fillers each, chosen deterministically
                            filler = TEXT_FILLERS[(k * 3 + f) % len(TEXT_FILLERS)]
                            examples.append((mask_example(seen, filler), p.name))
                    else:
                        examples.append((mask_example(seen), p.name))
        carrier.update(_EN_WORDS)
        carrier.update(_ID_WORDS)
        carrier.discard("")
        self.carrier = frozenset(carrier)
        self.slots = SlotFinder(self.carrier)
        collecting = gc.isenabled()
        gc.disable()  # training makes many short-lived objects; a big heap made it 4 s, not 0.5
        try:
            self.classifier = IntentClassifier(examples)
        finally:
            if collecting:
                gc.enable()
        self.training_seconds = time.perf_counter() - started
        self.example_count = len(examples)

    def understand(self, text: str, session: Session | None = None,
                   index: ContactIndex | None = None,
                   allowed: Callable[[str], bool] | None = None) -> Understanding:
        """Slots, intent scores and the decision for one message; `allowed` keeps the intents
        the user may use (a rep's "my route today" is a day plan, a technician's their jobs)."""
        started = time.perf_counter()
        if session is not None:
            self.slots.refresh(session)
        toks, slots = self.slots.find(text, index)
        masked = _mask(text, toks, slots)
        scored = self.classifier.score(masked)
        if allowed is not None:
            scored = scored.only(allowed)
        # A name tells no language; a date ("bulan ini", "next week") or an amount does.
        words = [t.norm for t in toks
                 if not any(s.start <= t.start < s.end and s.kind not in _WORDED
                            for s in slots)]
        u = Understanding(text=text, tokens=toks, slots=slots, masked=masked, scored=scored,
                          language=language_of(words, len(toks)))
        (i1, p1), (_, p2) = scored.best, scored.second
        if i1 != NONE and ((p1 >= ACCEPT and p1 - p2 >= MARGIN)
                           or (p1 >= ALONE and p2 <= p1 * ALONE_RATIO)):
            u.intent = i1
        else:
            choices = [i for i, p in scored.ranked[:3]
                       if i != NONE and p >= CLARIFY_FLOOR and p1 >= ASK_FLOOR]
            if i1 != NONE and p1 >= ACCEPT and not choices[1:]:
                u.intent = i1
            else:
                u.choices = tuple(choices[:2])
        if (u.intent is None and "find" in self.phrasings and not slots
                and 1 <= len(toks) <= 4 and not any(t.norm in self.carrier for t in toks)
                and scored.probability(NONE) < UNKNOWN_NAME):
            u.intent, u.choices = "find", ()  # words the bot does not know: a name to look up
        if u.intent is not None:
            u.args = self.args_for(u, u.intent)
        u.seconds = time.perf_counter() - started
        return u

    def args_for(self, u: Understanding, intent: str) -> dict[str, str]:
        """The start arguments of `intent`'s flow from the message's slots."""
        p = self.phrasings[intent]
        args: dict[str, str] = {"message": u.text}
        wanted = set(p.slots)
        customer = u.customer
        if wanted & CUSTOMER_KINDS:
            reference = u.slot("reference")
            if customer is None and reference is not None:
                args["text"] = reference.value
            elif customer is not None:
                args["text"] = customer.text
                if customer.record_id is not None and not customer.ambiguous:
                    args[f"{customer.kind}_id"] = str(customer.record_id)
                args[customer.kind] = customer.text
                if wanted & {"text", "product"} and (
                        details := self.after(u, customer.end, intent)):
                    # "complaint from X: two units broken", "quote for X 2 server x1"
                    args["details"] = details
            else:
                rest = self.residue(u, intent)
                if rest:
                    args["text"] = rest
        for slot in u.slots:
            if slot.kind == "department" and "department" in wanted:
                args.setdefault("dept", slot.value)
                args.setdefault("department", slot.value)
            elif slot.kind == "product" and "product" in wanted:
                args.setdefault("product", slot.value)
            elif slot.kind == "region" and "region" in wanted:
                args.setdefault("region", slot.value)
            elif slot.kind in ("date", "amount", "number") and slot.kind in wanted:
                args.setdefault(slot.kind, slot.text)
        if "product" in wanted and "product" not in args:
            rest = self.residue(u, intent)
            if rest:
                args["product"] = rest
        if "region" in wanted and "region" not in args:
            rest = self.residue(u, intent)
            if rest:
                args["region"] = rest
        if "text" in wanted and "text" not in args:
            rest = self.free_text(u, intent)
            if rest:
                args["text"] = rest
        args.update(p.args)
        return args

    def free_text(self, u: Understanding, intent: str) -> str:
        """The message without the intent's words before and after its free text."""
        prefix = self._prefix.get(intent, set())
        suffix = self._suffix.get(intent, set())
        toks = u.tokens
        i, j = 0, len(toks)
        while i < j and toks[i].norm in prefix:
            i += 1
        while j > i and toks[j - 1].norm in suffix:
            j -= 1
        if i >= j:
            return ""
        return u.text[toks[i].start:toks[j - 1].end].strip(" ?!.,")

    def without_lead_words(self, text: str, intent: str) -> str:
        """`text` without the intent's own words at its front (the words its phrasings put
        before their free text: "ingatkan saya", "remind me to"), as `free_text` strips
        them from a whole message."""
        prefix = self._prefix.get(intent, set())

        def lead(word: str) -> bool:  # one of them, or one typo away ("ingatkn")
            return word in prefix or (len(word) >= 5 and any(
                abs(len(p) - len(word)) <= 1 and fuzz.ratio(word, p) >= 85 for p in prefix))

        toks = tokens(text)
        i = 0
        while i < len(toks) and lead(toks[i].norm):
            i += 1
        return text[toks[i].start:].strip() if i < len(toks) else ""

    def after(self, u: Understanding, end: int, intent: str) -> str:
        """What the message says after position `end` (a customer's name), without the
        intent's own words before its free text ("… complained about" / "…, barangnya
        rusak"); empty when that is less than two words."""
        prefix = self._prefix.get(intent, set())
        rest = [t for t in u.tokens if t.start >= end]
        while rest and rest[0].norm in prefix:
            rest = rest[1:]
        if len(rest) < 2:
            return ""
        return u.text[rest[0].start:].strip(" ?!.,:;-")  # to the end: "5%" keeps its sign

    def unknown_words(self, u: Understanding) -> str:
        """The words of the message that are neither carrier words nor slots."""
        out = [t for t in u.tokens if t.norm not in self.carrier
               and not any(s.start <= t.start < s.end for s in u.slots)]
        return " ".join(u.text[t.start:t.end] for t in out)

    def residue(self, u: Understanding, intent: str) -> str:
        """The words of the message that are neither carrier words nor slots (what the user
        named that the bot did not recognise)."""
        out: list[Token] = []
        for t in u.tokens:
            if t.norm in self.carrier or any(s.start <= t.start < s.end for s in u.slots):
                if out:
                    break
                continue
            out.append(t)
        if not out:
            return ""
        return u.text[out[0].start:out[-1].end]


def _words(text: str) -> set[str]:
    return {w.strip("'") for w in re.split(r"[^\w'-]+", fold(text)) if w}


def _mask(text: str, toks: list[Token], slots: list[Slot]) -> str:
    """The message as the classifier sees it: folded, each slot replaced by its mask word."""
    parts: list[str] = []
    pos = 0
    for s in slots:
        parts.append(text[pos:s.start])
        parts.append(f" {MASKS.get(s.kind, 'x' + s.kind + 'x')} ")
        pos = s.end
    parts.append(text[pos:])
    return _REDUPLICATED.sub(r"\1-\1", " ".join(fold("".join(parts)).split()))


# A plural typed the chat way: "deal2" is "deal-deal", "kontak2" "kontak-kontak".
_REDUPLICATED = re.compile(r"\b([a-z]{3,})2\b")
