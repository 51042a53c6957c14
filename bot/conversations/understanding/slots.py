"""Slots: the customers, products, departments, regions, dates and amounts a message names.

Fixed vocabularies (departments, date words) are small synonym tables; customers are found
with the contact index over the message's runs of words that are not carrier words (the
words the intents' examples are made of), products and regions with small gazetteers read
from the database. Each slot knows where it is in the text, so it can be masked before the
classifier reads the sentence.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.conversations.understanding.text import COMMON_WORDS, Token, fold, tokens
from core.contact_index import ContactIndex
from core.contact_records import COMPANY, CONTACT

# Slot kinds that name a customer (masked alike: the classifier learns the sentence).
CUSTOMER_KINDS = frozenset({"company", "contact", "customer"})

# Department synonyms (English and Indonesian, as reps say them) -> the canonical name.
DEPARTMENTS: dict[str, str] = {}
for _canonical, _words in {
    "Purchasing": "purchasing purchase procurement buying buyer buyers pembelian pengadaan "
                  "purchasing-nya procurement-nya beli",
    "Finance": "finance financial accounting accounts keuangan akuntansi akunting finance-nya "
               "treasury",
    "IT": "ti teknologi it-nya",
    "Operations": "operations operation ops operasional operasi gudang warehouse produksi "
                  "production plant",
    "Management": "management director directors board manajemen direksi direktur "
                  "management-nya",
    "HR": "hr hrd sdm personalia personnel",
    "Marketing": "marketing pemasaran marketing-nya",
}.items():
    for _w in _words.split():
        DEPARTMENTS[_w] = _canonical
# Words that name a department only next to a department word ("IT" is also "it").
_DEPT_CUES = frozenset({"bagian", "divisi", "departemen", "dept", "department", "team", "tim",
                        "orang", "unit", "guy", "person", "people", "staff"})
_CUED = {"tech": "IT", "technology": "IT", "it": "IT"}

_WEEKDAYS = (r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|tues|wed|"
             r"thu|thur|thurs|fri|sat|sun|senin|selasa|rabu|kamis|jumat|jum'at|sabtu|ahad")
_MONTHS = (r"january|february|march|april|may|june|july|august|september|october|november|"
           r"december|jan|feb|mar|apr|jun|jul|aug|agu|agt|sep|sept|oct|okt|nov|dec|des|"
           r"januari|februari|maret|mei|juni|juli|agustus|oktober|desember")
_TIME = (r"(?:(?:at|jam|pukul|pkl|@)\s*)?\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm|wib|wita|wit)?"
         r"(?:\s*(?:pagi|siang|sore|malam))?")
_DATE_PATTERNS = [
    r"\b(?:at|jam|pukul|pkl)\s*\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm|wib|wita|wit)?\b",
    r"\b\d{1,2}[:.]\d{2}\s*(?:am|pm|wib|wita|wit)?\b",
    r"\b\d{1,2}\s*(?:am|pm)\b",
    r"\b\d{4}-\d{2}-\d{2}\b",
    r"\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b",
    rf"\b\d{{1,2}}\s+(?:{_MONTHS})\b(?:\s+\d{{4}})?",
    rf"\b(?:{_MONTHS})\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?",
    r"\b(?:in|dalam)\s+(?:\d+|a|an|one|two|three|four|five|satu|dua|tiga|empat|lima)\s+"
    r"(?:days?|weeks?|months?|hours?|minutes?|mins?|hari|minggu|pekan|bulan|jam|menit)\b",
    r"\b(?:\d+|satu|dua|tiga|empat|lima|seminggu|sebulan|sejam)\s*(?:hari|minggu|pekan|bulan|"
    r"jam|menit)?\s+(?:lagi|kedepan|ke\s+depan)\b",
    r"\b(?:\d+|a|an|one|two|three)\s+(?:days?|weeks?|months?)\s+(?:from\s+now|later|ago)\b",
    rf"\b(?:next|this|coming|last)\s+(?:week|month|year|weekend|{_WEEKDAYS})\b",
    rf"\b(?:{_WEEKDAYS})\s+(?:depan|ini|besok|nanti|lalu|kemarin)\b",
    r"\b(?:minggu|pekan|bulan|tahun)\s+(?:depan|ini|lalu|kemarin)\b",
    r"\b(?:end\s+of\s+(?:the\s+)?(?:week|month|day)|akhir\s+(?:minggu|pekan|bulan))\b",
    r"\b(?:this|tomorrow|besok|tadi|nanti)\s+(?:morning|afternoon|evening|night|pagi|siang|"
    r"sore|malam)\b",
    r"\b(?:hari\s+ini|pagi\s+ini|siang\s+ini|sore\s+ini|malam\s+ini|today|tonight|tomorrow|"
    r"tmrw|tmr|yesterday|besok|besuk|bsk|lusa|kemarin|kemaren|tomorow|tommorow|tomorro)\b",
    rf"\b(?:on\s+)?(?:{_WEEKDAYS})\b",
]
_DATE = re.compile("|".join(f"(?:{p})" for p in _DATE_PATTERNS), re.IGNORECASE)
_AMOUNT = re.compile(
    r"(?:\b(?:rp\.?|idr|usd|\$|sgd)\s*\d[\d.,]*(?:\s*(?:jt|juta|rb|ribu|k|m|mio|million|"
    r"miliar|milyar|m|b|billion|thousand))?\b)"
    r"|(?:\b\d[\d.,]*\s*(?:jt|juta|rb|ribu|k|mio|million|miliar|milyar|billion|thousand|"
    r"m|b)\b)"
    r"|(?:\b\d{1,3}(?:[.,]\d{3}){2,}\b)", re.IGNORECASE)
_NUMBER = re.compile(r"\b\d+\b")
_PHONE = re.compile(r"(?<![\w#])\+?\d[\d\s().\-/]{6,}\d(?!\w)")
_REFERENCE = re.compile(r"(?:#\d+|\bQ-\d[\w-]*)", re.IGNORECASE)  # a deal #12, a quote Q-2026-7


def dates_as_placeholders(example: str) -> str:
    """An intent's example with the dates it spells ("today", "minggu ini", "this morning")
    as the `{date}` placeholder: the finder masks a message's dates, so the classifier must
    learn the examples' dates masked too, not words it never sees in a message."""
    return _DATE.sub("{date}", example)


@dataclass(frozen=True)
class Slot:
    """One thing the message names."""

    kind: str  # company | contact | product | department | region | date | amount | number
    start: int
    end: int
    text: str  # as typed
    value: str = ""  # canonical: a name, a department, a SKU, ...
    record_id: int | None = None
    score: float = 100.0
    # a customer named elsewhere with almost the same score (kind, id): not a clear match
    ambiguous: bool = False


@dataclass
class _Gazetteer:
    """Small vocabularies read from the database (products, regions), refreshed cheaply."""

    products: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    sku_keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    product_tokens: set[str] = field(default_factory=set)
    regions: dict[str, str] = field(default_factory=dict)  # folded name -> display name
    fingerprint: tuple[Any, ...] = ()
    checked_at: float = float("-inf")
    by_token: dict[str, list[int]] = field(default_factory=dict)  # token -> product indexes
    by_head: dict[str, list[str]] = field(default_factory=dict)  # first letter -> tokens

    def products_with(self, word: str, carrier: frozenset[str]) -> set[int]:
        """Products with a name token that `word` spells (exactly, with a typo, or its start
        of 3+ letters)."""
        found = set(self.by_token.get(word, ()))
        if len(word) >= 3 and not (word in carrier and not found):
            for tok in self.by_head.get(word[0], ()):
                if tok != word and (tok.startswith(word) or (len(word) >= 4
                                    and fuzz.ratio(word, tok) >= 80)):
                    found.update(self.by_token[tok])
        return found


_SKU_SHAPE = re.compile(r"[a-z]-?\d|\d-?[a-z]|-")  # letters and digits, or a hyphen


def _sku_key(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", fold(text))


class SlotFinder:
    """Finds slots in a message; customers through the contact index."""

    def __init__(self, carrier_words: Iterable[str], *, refresh_seconds: float = 2.0) -> None:
        self.carrier = frozenset(carrier_words)
        self.refresh_seconds = refresh_seconds
        self._gaz = _Gazetteer()
        self._lock = threading.Lock()

    # -- vocabularies from the database ---------------------------------------------------
    def refresh(self, session: Session, *, force: bool = False) -> None:
        """Re-read products and regions when they changed (checked every few seconds)."""
        now = time.monotonic()
        if not force and now - self._gaz.checked_at < self.refresh_seconds:
            return
        from core.models import Company, Territory
        from core.models.quotes import Product

        fingerprint = (
            session.execute(select(func.count(Product.id), func.max(Product.id))).one(),
            session.execute(select(func.count(Territory.id), func.max(Territory.id))).one(),
            session.scalar(select(func.count(func.distinct(Company.city)))),
        )
        if fingerprint == self._gaz.fingerprint and not force:
            self._gaz.checked_at = now
            return
        gaz = _Gazetteer(fingerprint=tuple(fingerprint), checked_at=now)
        for sku, name in session.execute(select(Product.sku, Product.name)):
            toks = tuple(t.norm for t in tokens(name))
            for tok in set(toks):
                gaz.by_token.setdefault(tok, []).append(len(gaz.products))
            gaz.products.append((sku, name, toks))
            gaz.sku_keys[_sku_key(sku)] = (sku, name)
            gaz.product_tokens.update(toks)
        for tok in gaz.by_token:
            gaz.by_head.setdefault(tok[0], []).append(tok)
        names: set[str] = set()
        for region, in session.execute(select(Territory.region).distinct()):
            names.add(region)
        for city, in session.execute(select(Company.city).where(Company.city.is_not(None))
                                      .distinct().limit(500)):
            if city:
                names.add(city)
        for name in names:
            if name:
                gaz.regions[" ".join(t.norm for t in tokens(name))] = name
        with self._lock:
            self._gaz = gaz

    # -- finding ----------------------------------------------------------------------------
    def find(self, text: str, index: ContactIndex | None,
             wanted: frozenset[str] | None = None) -> tuple[list[Token], list[Slot]]:
        """The message's tokens and its slots (non-overlapping, in text order)."""
        toks = tokens(text)
        taken = [False] * len(toks)
        slots: list[Slot] = []

        def claim(kind: str, i: int, j: int, **kw: Any) -> None:
            for k in range(i, j):
                taken[k] = True
            slots.append(Slot(kind, toks[i].start, toks[j - 1].end,
                              text[toks[i].start:toks[j - 1].end], **kw))

        # Phone numbers, references, dates and amounts first: fixed shapes, on the raw text.
        if index is not None:
            for m in _PHONE.finditer(text):
                i, j = _token_range(toks, m.start(), m.end())
                if i >= j or any(taken[i:j]) or sum(ch.isdigit() for ch in m.group()) < 7:
                    continue
                hits = index.search(m.group(), territory_ids=None, limit=2)
                if hits and hits[0].score >= 90:
                    top = hits[0]
                    claim("company" if top.kind == COMPANY else "contact", i, j,
                          record_id=top.id, score=top.score,
                          ambiguous=len(hits) > 1 and hits[1].score >= top.score)
        for m in _REFERENCE.finditer(text):
            i, j = _token_range(toks, m.start(), m.end())
            if i < j and not any(taken[i:j]):
                claim("reference", i, j, value=m.group())
        gaz = self._gaz
        for i, tok in enumerate(toks):
            # An SKU typed as one word ("UPS-1K", "MON-27") before the amounts and dates
            # that its parts look like ("1K", "Mon").
            if not taken[i] and _SKU_SHAPE.search(tok.norm):
                sku = gaz.sku_keys.get(_sku_key(tok.norm))
                if sku is not None:
                    claim("product", i, i + 1, value=sku[0], score=100.0)
        for m in _AMOUNT.finditer(text):
            i, j = _token_range(toks, m.start(), m.end())
            if i < j and not any(taken[i:j]):
                claim("amount", i, j, value=m.group())
        for m in _DATE.finditer(text):
            i, j = _token_range(toks, m.start(), m.end())
            if i < j and not any(taken[i:j]):
                claim("date", i, j, value=m.group())
        for i, tok in enumerate(toks):
            if taken[i]:
                continue
            canonical = DEPARTMENTS.get(tok.norm)
            raw = text[tok.start:tok.end]
            if canonical is None and tok.norm in _CUED and (
                    raw == "IT" or _near(toks, i, _DEPT_CUES)):
                canonical = _CUED[tok.norm]
            if canonical is not None:
                claim("department", i, i + 1, value=canonical)
        self._find_products(toks, taken, claim, gaz)
        self._find_regions(toks, taken, claim, gaz)
        if index is not None:
            self._find_customers(toks, taken, claim, index, text)
            if any(s.kind == "region" for s in slots):
                slots = self._with_town_names(toks, slots, index, text)
        for m in _NUMBER.finditer(text):
            i, j = _token_range(toks, m.start(), m.end())
            if i < j and not any(taken[i:j]):
                claim("number", i, j, value=m.group())
        slots.sort(key=lambda s: s.start)
        return toks, slots

    @staticmethod
    def _with_town_names(toks: list[Token], slots: list[Slot], index: ContactIndex,
                         text: str) -> list[Slot]:
        """A customer named with a town right after it ("Summit Medical Surabaya", "Horizon
        Hotels Semarang") is one customer when the whole names one at least as well: the
        town is part of its name, not a region asked about."""
        out = list(slots)
        for region in [s for s in slots if s.kind == "region"]:
            before = next((s for s in out if s.kind in CUSTOMER_KINDS and s.end < region.start
                           and not text[s.end:region.start].strip()), None)
            if before is None:
                continue
            hits = index.search(" ".join(t.norm for t in toks
                                         if before.start <= t.start < region.end),
                                territory_ids=None, limit=2)
            if not hits or hits[0].score < max(before.score, _ACCEPT):
                continue
            top = hits[0]
            out.remove(before)
            out.remove(region)
            out.append(Slot("company" if top.kind == COMPANY else "contact", before.start,
                            region.end, text[before.start:region.end], record_id=top.id,
                            score=top.score, ambiguous=len(hits) > 1 and (
                                hits[1].score >= top.score - 3)))
        return out

    def _find_products(self, toks: list[Token], taken: list[bool], claim: Any,
                       gaz: _Gazetteer) -> None:
        if not gaz.products:
            return
        i = 0
        while i < len(toks):
            if taken[i]:
                i += 1
                continue
            best: tuple[float, int, str, str] | None = None
            for j in range(min(len(toks), i + 3), i, -1):  # an SKU typed in up to 3 words
                if not any(taken[i:j]):
                    sku = gaz.sku_keys.get(_sku_key("".join(t.norm for t in toks[i:j])))
                    if sku is not None:
                        best = (100.0, j, sku[0], sku[1])
                        break
            candidates = set() if best else gaz.products_with(toks[i].norm, self.carrier)
            for j in range(min(len(toks), i + 5), i, -1):
                if best is not None or not candidates:
                    break
                if any(taken[i:j]):
                    continue
                phrase = " ".join(t.norm for t in toks[i:j])
                for k in candidates:
                    p_sku, p_name, p_toks = gaz.products[k]
                    if len(p_toks) + 1 < j - i:
                        continue
                    name = " ".join(p_toks)
                    score = fuzz.ratio(phrase, name)
                    # "server x1" names "Server X1"; "laptop pro" names "Laptop Pro 14"
                    if j - i >= 2 and name.startswith(phrase):
                        score = max(score, 92.0)
                    if score >= 86 and (best is None or score > best[0]):
                        best = (score, j, p_sku, p_name)
            if best is not None:
                claim("product", i, best[1], value=best[2], score=best[0])
                i = best[1]
            else:
                i += 1

    def _find_regions(self, toks: list[Token], taken: list[bool], claim: Any,
                      gaz: _Gazetteer) -> None:
        if not gaz.regions:
            return
        for i in range(len(toks)):
            for j in (i + 2, i + 1):
                if j > len(toks) or any(taken[i:j]):
                    continue
                phrase = " ".join(t.norm for t in toks[i:j])
                name = gaz.regions.get(phrase)
                if name is None and len(phrase) >= 6:
                    for folded, display in gaz.regions.items():
                        if fuzz.ratio(phrase, folded) >= 88:
                            name = display
                            break
                if name is not None:
                    claim("region", i, j, value=name)
                    break

    def _find_customers(self, toks: list[Token], taken: list[bool], claim: Any,
                        index: ContactIndex, text: str) -> None:
        runs: list[tuple[int, int]] = []
        i = 0
        while i < len(toks):
            if taken[i] or self._is_carrier(toks[i].norm):
                i += 1
                continue
            j = i
            while j < len(toks) and not taken[j] and not self._is_carrier(toks[j].norm):
                if j > i and toks[j].norm.isdigit() and j + 1 < len(toks) and taken[j + 1]:
                    break  # "Sinar Jaya Abadi 3 laptop pro": a quantity, not the name's
                if j > i and any(c in ",:;?!" for c in text[toks[j - 1].end:toks[j].start]):
                    break  # "Sinar Jaya Abadi, printernya rusak": a name ends at a comma
                j += 1
            runs.append((i, j))
            i = j
        budget = 12  # index look-ups per message
        for i, j in runs:
            found = self._best_span(toks, taken, i, j, index, budget)
            budget -= found[0]
            found = (found[0], [self._unknown_name(toks, span, i, j, index, text)
                                for span in found[1]])
            for span in found[1]:
                claim(span[0], span[1], span[2], value="", record_id=span[3], score=span[4],
                      ambiguous=span[5])
            if budget <= 0:
                break

    def _unknown_name(self, toks: list[Token], span: tuple[str, int, int, int, float, bool],
                      i: int, j: int, index: ContactIndex, text: str
                      ) -> tuple[str, int, int, int, float, bool]:
        """One word of a run names someone, and a capitalised word beside it in the run is
        one that no name, phrasing or common word has ("Utama Indah" when only "Hotel Cahaya
        Indah" exists): the user named a customer the bot does not know. The slot becomes
        the whole name as typed, not clear (resolved by name: a "did you mean"), never the
        one word's customer as if it had been named."""
        kind, a, b, rid, score, _close = span
        if b - a != 1:
            return span

        def unknown(k: int) -> bool:
            word = toks[k].norm
            return (len(word) >= 3 and text[toks[k].start].isupper() and not word.isdigit()
                    and word not in COMMON_WORDS and not self._is_carrier(word)
                    and not index.names_word(word))

        na, nb = a, b
        while na - 1 >= i and unknown(na - 1):
            na -= 1
        while nb < j and unknown(nb):
            nb += 1
        return span if (na, nb) == (a, b) else (kind, na, nb, rid, score, True)

    def _is_carrier(self, word: str) -> bool:
        return word in self.carrier or (word.endswith("nya") and word[:-3] in self.carrier)

    def _best_span(self, toks: list[Token], taken: list[bool], i: int, j: int,
                   index: ContactIndex, budget: int
                   ) -> tuple[int, list[tuple[str, int, int, int, float, bool]]]:
        """Look the run toks[i:j] up; when it names nobody as a whole, its longest part that
        does (the run may hold other words: "nusantara logistik broken units"), then one
        word more on either side when that names someone better ("maju" + "bersama"); a run
        of two names typed together is split."""
        used = 0
        cache: dict[tuple[int, int], tuple[float, str, int, bool]] = {}

        def look(a: int, b: int) -> tuple[float, str, int, bool]:
            nonlocal used
            if (a, b) in cache:
                return cache[(a, b)]
            used += 1
            query = " ".join(t.norm for t in toks[a:b])
            hits = index.search(query, territory_ids=None, limit=3)
            if not hits:
                cache[(a, b)] = (0.0, "", 0, False)
                return cache[(a, b)]
            top = hits[0]
            kind = "company" if top.kind == COMPANY else "contact"
            close = len(hits) > 1 and hits[1].score >= top.score - 3 and (
                hits[1].kind, hits[1].id) != (top.kind, top.id)
            score = top.score
            if b - a == 1 and score < _ACCEPT_ONE_WORD:
                score = min(score, _ACCEPT - 1)  # one short word is rarely a name by chance
            cache[(a, b)] = (score, kind, top.id, close)
            return cache[(a, b)]

        best = (i, j, *look(i, j))
        if best[2] < _ACCEPT:
            for length in range(j - i - 1, 0, -1):
                found = None
                for a in (i, j - length):
                    if used >= budget:
                        break
                    cand = (a, a + length, *look(a, a + length))
                    if cand[2] >= _ACCEPT and (found is None or cand[2] > found[2]):
                        found = cand
                if found is not None:
                    best = found
                    break
                if used >= budget or length <= j - i - 3:
                    break
        a, b = best[0], best[1]
        for da, db in ((-1, 0), (0, 1)):
            na, nb = a + da, b + db
            if na < 0 or nb > len(toks) or any(taken[na:nb]) or used >= budget:
                continue
            word = toks[na if da else nb - 1].norm
            if word.isdigit() or not index.names_word(word):
                continue  # not a word of any name (a number beside one is a quantity)
            ext = (na, nb, *look(na, nb))
            if ext[2] >= max(best[2] + 1, 85):  # a word more that names someone better
                best = ext
                a, b = na, nb
        score, kind, rid, close = best[2], best[3], best[4], best[5]
        if score >= _ACCEPT:
            return used, [(kind, a, b, rid, score, close)]
        if j - i >= 2 and used < budget:  # two names typed together ("Hadi Utama Indah")
            for cut in range(i + 1, j):
                if used + 2 > budget:
                    break
                s1, k1, r1, c1 = look(i, cut)
                s2, k2, r2, c2 = look(cut, j)
                if s1 >= _ACCEPT and s2 >= _ACCEPT:
                    return used, [(k1, i, cut, r1, s1, c1), (k2, cut, j, r2, s2, c2)]
        return used, []


_ACCEPT = 74.0  # index score from which a run names a customer
_ACCEPT_ONE_WORD = 86.0  # ... when the run is one word


def _token_range(toks: list[Token], start: int, end: int) -> tuple[int, int]:
    """Indexes [i, j) of the tokens inside the character span [start, end)."""
    i = next((k for k, t in enumerate(toks) if t.end > start), len(toks))
    j = i
    while j < len(toks) and toks[j].start < end:
        j += 1
    return i, j


def _near(toks: list[Token], i: int, cues: frozenset[str]) -> bool:
    return any(0 <= k < len(toks) and toks[k].norm in cues for k in (i - 1, i + 1))


__all__ = ["CONTACT", "CUSTOMER_KINDS", "DEPARTMENTS", "Slot", "SlotFinder",
           "dates_as_placeholders"]
