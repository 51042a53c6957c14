"""The labelled utterances (tests/understanding/labelled_*.tsv) and how they are scored.

Each line: intent, language, utterance, then the slots expected (c= a customer's full name,
d= a department, p= a product SKU, r= a region). None of them is one of the intents'
examples (a test checks it): they measure what the bot makes of phrasings it never saw.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversations.registry import Registry
from bot.conversations.understanding.classifier import NONE
from bot.conversations.understanding.understander import Understander, Understanding
from core.contact_index import ContactIndex
from core.models import Company, Contact, Role

HERE = Path(__file__).resolve().parent
# Intents that share a flow and an answer are told apart in the table but the customer gets
# the same answer either way; none are merged here: every label must be matched exactly.


@dataclass(frozen=True)
class Labelled:
    intent: str
    language: str
    text: str
    slots: dict[str, str]
    line: str


def load() -> list[Labelled]:
    """Every labelled utterance, in file order."""
    out: list[Labelled] = []
    for path in sorted(HERE.glob("labelled_*.tsv")):
        for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not raw.strip() or raw.startswith("#"):
                continue
            parts = raw.split("\t")
            slots = dict(p.split("=", 1) for p in parts[3:] if "=" in p)
            out.append(Labelled(parts[0], parts[1], parts[2], slots, f"{path.name}:{n}"))
    return out


@dataclass
class Result:
    total: int = 0
    intent_ok: int = 0
    slot_total: int = 0
    slot_ok: int = 0
    clarified: int = 0
    language_ok: int = 0  # the message's language told right (else undecided or wrong)
    language_wrong: int = 0  # told as the other language
    errors: list[str] = field(default_factory=list)
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)

    @property
    def intent_accuracy(self) -> float:
        return self.intent_ok / self.total if self.total else 0.0

    @property
    def language_accuracy(self) -> float:
        return self.language_ok / self.total if self.total else 0.0

    @property
    def slot_accuracy(self) -> float:
        return self.slot_ok / self.slot_total if self.slot_total else 1.0


def _fold(name: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z ]", " ", name.lower()).split())


def predicted_intent(u: Understanding) -> str:
    """What the bot does with the message: the intent it takes, else NONE (it asks)."""
    return u.intent or NONE


# A technician before a manager: the intents both may use that a rep may not (a technician's
# own jobs: "tugas saya apa aja", "where am I going today") are the technician's words; the
# same words from a manager or a rep ask for their own follow-ups or agenda.
ROLE_ORDER = (Role.REP, Role.TECHNICIAN, Role.MANAGER, Role.ADMIN)


def asker_of(intent: str, understander: Understander, registry: Registry | None) -> Role:
    """Who would ask this: the first of rep, technician, manager, admin whose role may use
    the labelled intent's flow (a rep for chatter)."""
    phrasing = understander.phrasings.get(intent)
    flow = registry.flows.get(phrasing.flow) if registry and phrasing else None
    if flow is None:
        return Role.REP
    return next((r for r in ROLE_ORDER if r in flow.roles), Role.REP)


def evaluate(understander: Understander, session: Session, index: ContactIndex,
             items: list[Labelled], registry: Registry | None = None) -> Result:
    """Understand every item, as its asker (the engine scores only the intents the user's
    role may use; without a registry, every intent); count intents and slots found right."""
    allowed: dict[Role, frozenset[str]] = {}
    if registry is not None:
        for role in ROLE_ORDER:
            allowed[role] = frozenset(
                n for n, p in understander.phrasings.items()
                if p.flow in registry.flows and role in registry.flows[p.flow].roles)
    names = {("company", cid): name for cid, name in session.execute(
        select(Company.id, Company.name))}
    names.update({("contact", cid): name for cid, name in session.execute(
        select(Contact.id, Contact.name))})
    result = Result()
    for item in items:
        keep = allowed.get(asker_of(item.intent, understander, registry))
        cpu = time.process_time()
        u = understander.understand(item.text, session, index,
                                    keep.__contains__ if keep is not None else None)
        result.cpu_seconds.append(time.process_time() - cpu)
        result.seconds.append(u.seconds)
        result.total += 1
        got = predicted_intent(u)
        if u.language == item.language:
            result.language_ok += 1
        elif u.language is not None:
            result.language_wrong += 1
            result.errors.append(f"{item.line}: {item.text!r} taken as {u.language}")
        if not u.intent and u.choices:
            result.clarified += 1
        if got == item.intent:
            result.intent_ok += 1
        else:
            result.confusion[(item.intent, got)] += 1
            result.errors.append(f"{item.line}: {item.text!r} -> {got} {u.scored.ranked[:3]} "
                                 f"[{u.masked}]")
        for key, want in item.slots.items():
            result.slot_total += 1
            ok = False
            if key == "c":
                s = u.customer
                ok = s is not None and s.record_id is not None and _fold(
                    names.get((s.kind, s.record_id), "")) == _fold(want)
            elif key == "d":
                ok = any(s.kind == "department" and s.value == want for s in u.slots)
            elif key == "p":
                ok = any(s.kind == "product" and s.value == want for s in u.slots)
            elif key == "r":
                ok = any(s.kind == "region" and s.value == want for s in u.slots)
            if ok:
                result.slot_ok += 1
            else:
                found = [(s.kind, s.text, names.get((s.kind, s.record_id or 0), s.value))
                         for s in u.slots]
                result.errors.append(f"{item.line}: slot {key}={want} in {item.text!r}: "
                                     f"found {found}")
    return result
