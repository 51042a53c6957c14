"""The in-memory fuzzy lookup index of companies and contacts (rapidfuzz + numpy).

How a query is answered, without scanning every name:
- names are normalised (lower case, diacritics and punctuation removed, legal forms such as
  PT/CV/Tbk/Ltd/Inc and titles dropped) and split into tokens;
- each query token is matched against the *vocabulary* of distinct tokens (much smaller than
  the number of records) with rapidfuzz (typos), plus a prefix search (partial names);
- the postings of the matched tokens are combined with numpy into one score per record
  (order-free: word order does not matter), the visible best few are re-ranked with WRatio;
- phone numbers are normalised with `phonenumbers` (region ID) and looked up exactly, or by
  their last 7 digits.

Updates are incremental (one record: remove its old tokens, add the new ones). Writes made in
this process are noticed by a SQLAlchemy flush hook; writes by other processes (an import, a
second worker) are picked up by polling a cheap fingerprint of the tables (count, max id,
max updated_at) at most every `min_sync_interval` seconds.
"""

from __future__ import annotations

import bisect
import gc
import re
import threading
import time
import unicodedata
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import phonenumbers
from rapidfuzz import fuzz, process
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from core.models import Company, Contact

COMPANY = 0
CONTACT = 1
GC_FREEZE_FROM = 20_000  # records
# Legal forms, honorifics and filler words that do not identify anyone.
STOPWORDS = frozenset({
    "pt", "cv", "tbk", "ltd", "inc", "llc", "corp", "co", "ud", "persero", "plc", "gmbh",
    "dr", "drg", "ir", "prof", "h", "hj", "bpk", "bapak", "ibu", "pak", "bu", "mr", "mrs",
    "ms", "the", "sdn", "bhd", "tbk.",
})
_NON_WORD = re.compile(r"[^0-9a-z]+")
_PHONE_LIKE = re.compile(r"^\+?[\d\s().\-/]{6,}$")


def normalise(text: str) -> list[str]:
    """Tokens of a name: lower case, no diacritics or punctuation, no legal forms."""
    folded = unicodedata.normalize("NFKD", text or "")
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    return [tok for tok in _NON_WORD.sub(" ", folded).split() if tok not in STOPWORDS]


def phone_key(raw: str | None) -> str | None:
    """E.164 digits (no '+') of a phone number typed in any format, or None."""
    if not raw:
        return None
    digits = re.sub(r"\D", "", raw)
    if len(digits) < 6:
        return None
    try:
        number = phonenumbers.parse(raw, "ID")
    except phonenumbers.NumberParseException:
        return digits
    return f"{number.country_code}{number.national_number}"


def looks_like_phone(text: str) -> bool:
    return bool(_PHONE_LIKE.match(text.strip())) and len(re.sub(r"\D", "", text)) >= 6


@dataclass(slots=True)
class Entry:
    kind: int
    id: int
    name: str
    tokens: tuple[str, ...]
    phones: tuple[str, ...]
    company_id: int


@dataclass(frozen=True, slots=True)
class Hit:
    """One index match: the record kind (COMPANY/CONTACT), its id and a 0-100 score."""

    kind: int
    id: int
    score: float
    company_id: int


class _Arrays:
    """Per-slot numeric columns (kind, territory, owner, alive) that grow by doubling."""

    def __init__(self, capacity: int = 1024) -> None:
        self.size = 0
        self.kind = np.zeros(capacity, np.int8)
        self.territory = np.full(capacity, -1, np.int32)
        self.owner = np.full(capacity, -1, np.int32)
        self.alive = np.zeros(capacity, bool)

    def append(self) -> int:
        if self.size == len(self.kind):
            cap = len(self.kind) * 2
            for name, fill in (("kind", 0), ("territory", -1), ("owner", -1), ("alive", False)):
                old = getattr(self, name)
                new = np.full(cap, fill, old.dtype)
                new[: self.size] = old[: self.size]
                setattr(self, name, new)
        self.size += 1
        return self.size - 1


_LIVE_INDEXES: weakref.WeakSet[ContactIndex] = weakref.WeakSet()
_HOOKED = False


def _after_flush(session: Session, _ctx: Any) -> None:
    if not _LIVE_INDEXES:
        return
    touched: list[tuple[int, int]] = []
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Contact) and obj.id is not None:
            touched.append((CONTACT, obj.id))
        elif isinstance(obj, Company) and obj.id is not None:
            touched.append((COMPANY, obj.id))
    if touched:
        for index in list(_LIVE_INDEXES):
            index.mark_touched(touched)


# How far before the newest updated_at each sync looks again for late commits: longer than
# a write transaction lasts (an import commits at its end) plus the nodes' clock skew.
RECHECK_WINDOW = timedelta(minutes=2)
MAX_QUERY_CHARS = 120  # names and phone numbers are short; longer input is cut


class ContactIndex:
    """Fuzzy, scoped lookup over all companies and contacts of one database."""

    def __init__(self, min_sync_interval: float = 1.0) -> None:
        global _HOOKED
        self.min_sync_interval = min_sync_interval
        self._lock = threading.RLock()
        self._slots: list[Entry | None] = []
        self._slot_of: dict[tuple[int, int], int] = {}
        self._arrays = _Arrays()
        self._postings: dict[str, list[int]] = {}
        self._np_postings: dict[str, np.ndarray] = {}
        self._vocab: list[str] = []
        self._vocab_pos: dict[str, int] = {}
        self._sorted_vocab: list[str] = []
        # Vocabulary buckets: (first two letters, length) and (last two or three letters,
        # length). A single typo in a token of 4+ letters leaves one of the two intact, so the
        # fuzzy match only scans a few buckets instead of the whole vocabulary.
        self._by_head: dict[tuple[str, int], list[str]] = {}
        self._by_tail: dict[tuple[str, int], list[str]] = {}
        self._phones: dict[str, set[int]] = {}
        self._phone_tails: dict[str, set[int]] = {}
        self._company_contacts: dict[int, set[int]] = {}
        self._company_scope: dict[int, tuple[int, int]] = {}
        self._touched: set[tuple[int, int]] = set()
        self._fingerprint: tuple[Any, ...] | None = None
        self._marks: dict[int, tuple[datetime | None, int]] = {}
        # (kind) -> {id: updated_at} of the rows stamped within RECHECK_WINDOW of the newest
        self._recent: dict[int, dict[int, Any]] = {}
        self._last_sync = float("-inf")
        self.loaded = False
        _LIVE_INDEXES.add(self)
        if not _HOOKED:
            event.listen(Session, "after_flush", _after_flush)
            _HOOKED = True

    # -- size ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._slot_of)

    @property
    def vocabulary_size(self) -> int:
        return len(self._vocab)

    # -- incremental updates ---------------------------------------------------------------
    def mark_touched(self, keys: Iterable[tuple[int, int]]) -> None:
        with self._lock:
            self._touched.update(keys)

    def upsert_company(self, company_id: int, name: str, territory_id: int | None,
                       owner_id: int | None, phones: Iterable[str | None] = ()) -> None:
        with self._lock:
            self._company_scope[company_id] = (territory_id or -1, owner_id or -1)
            self._put(COMPANY, company_id, name, phones, company_id)
            for contact_id in self._company_contacts.get(company_id, ()):
                slot = self._slot_of.get((CONTACT, contact_id))
                if slot is not None:
                    self._arrays.territory[slot] = territory_id or -1
                    self._arrays.owner[slot] = owner_id or -1

    def upsert_contact(self, contact_id: int, name: str, company_id: int,
                       phones: Iterable[str | None] = ()) -> None:
        with self._lock:
            old = self._slot_of.get((CONTACT, contact_id))
            if old is not None:
                previous = self._slots[old]
                if previous is not None and previous.company_id != company_id:
                    self._company_contacts.get(previous.company_id, set()).discard(contact_id)
            self._company_contacts.setdefault(company_id, set()).add(contact_id)
            self._put(CONTACT, contact_id, name, phones, company_id)

    def remove(self, kind: int, record_id: int) -> None:
        with self._lock:
            slot = self._slot_of.pop((kind, record_id), None)
            if slot is None:
                return
            entry = self._slots[slot]
            self._unlink(slot)
            if entry is not None and kind == CONTACT:
                self._company_contacts.get(entry.company_id, set()).discard(record_id)
            if kind == COMPANY:
                self._company_scope.pop(record_id, None)

    def _put(self, kind: int, record_id: int, name: str, phones: Iterable[str | None],
             company_id: int) -> None:
        tokens = tuple(dict.fromkeys(normalise(name)))
        keys = tuple(k for k in (phone_key(p) for p in phones) if k)
        slot = self._slot_of.get((kind, record_id))
        if slot is not None:
            entry = self._slots[slot]
            if entry is not None and entry.tokens == tokens and entry.phones == keys \
                    and entry.company_id == company_id:
                entry.name = name
                self._set_scope(slot, kind, company_id)
                return
            self._unlink(slot)
        else:
            slot = self._arrays.append()
            self._slots.append(None)
            self._slot_of[(kind, record_id)] = slot
        entry = Entry(kind, record_id, name, tokens, keys, company_id)
        self._slots[slot] = entry
        self._arrays.kind[slot] = kind
        self._arrays.alive[slot] = True
        self._set_scope(slot, kind, company_id)
        for tok in tokens:
            posting = self._postings.get(tok)
            if posting is None:
                self._postings[tok] = [slot]
                self._vocab_pos[tok] = len(self._vocab)
                self._vocab.append(tok)
                bisect.insort(self._sorted_vocab, tok)
                self._by_head.setdefault((tok[:2], len(tok)), []).append(tok)
                self._by_tail.setdefault((_tail(tok, len(tok)), len(tok)), []).append(tok)
            else:
                posting.append(slot)
                self._np_postings.pop(tok, None)
        for key in keys:
            self._phones.setdefault(key, set()).add(slot)
            self._phone_tails.setdefault(key[-7:], set()).add(slot)

    def _set_scope(self, slot: int, kind: int, company_id: int) -> None:
        territory, owner = self._company_scope.get(company_id, (-1, -1))
        self._arrays.territory[slot] = territory
        self._arrays.owner[slot] = owner

    def _unlink(self, slot: int) -> None:
        entry = self._slots[slot]
        self._slots[slot] = None
        self._arrays.alive[slot] = False
        if entry is None:
            return
        for tok in entry.tokens:
            posting = self._postings.get(tok)
            if posting is None:
                continue
            posting.remove(slot)
            self._np_postings.pop(tok, None)
            if not posting:
                del self._postings[tok]
                pos = self._vocab_pos.pop(tok)
                last = self._vocab.pop()
                if last != tok:
                    self._vocab[pos] = last
                    self._vocab_pos[last] = pos
                i = bisect.bisect_left(self._sorted_vocab, tok)
                if i < len(self._sorted_vocab) and self._sorted_vocab[i] == tok:
                    del self._sorted_vocab[i]
                for buckets, key in ((self._by_head, (tok[:2], len(tok))),
                                     (self._by_tail, (_tail(tok, len(tok)), len(tok)))):
                    bucket = buckets.get(key)
                    if bucket is not None:
                        bucket.remove(tok)
                        if not bucket:
                            del buckets[key]
        for phone in entry.phones:
            self._phones.get(phone, set()).discard(slot)
            self._phone_tails.get(phone[-7:], set()).discard(slot)
        # A re-inserted record gets its slot back (kept in _slot_of by the caller).

    # -- loading and keeping in step with the database -------------------------------------
    def load(self, session: Session) -> None:
        """(Re)load everything from the database."""
        with self._lock:
            self.__init_state()
            # Read first: a change committed while loading shows as a changed fingerprint.
            self._fingerprint = self._read_fingerprint(session)
            stamps: dict[int, list[tuple[int, Any]]] = {COMPANY: [], CONTACT: []}
            for row in session.execute(select(
                    Company.id, Company.name, Company.territory_id, Company.owner_id,
                    Company.phone, Company.updated_at)):
                self.upsert_company(row.id, row.name, row.territory_id, row.owner_id,
                                    (row.phone,))
                stamps[COMPANY].append((row.id, row.updated_at))
            for crow in session.execute(select(
                    Contact.id, Contact.name, Contact.company_id, Contact.phone,
                    Contact.mobile, Contact.updated_at)):
                self.upsert_contact(crow.id, crow.name, crow.company_id,
                                    (crow.phone, crow.mobile))
                stamps[CONTACT].append((crow.id, crow.updated_at))
            for offset, kind in ((0, COMPANY), (3, CONTACT)):
                self._remember_recent(kind, stamps[kind], self._fingerprint[offset + 2])
            self._touched.clear()
            self._last_sync = time.monotonic()
            self.loaded = True
        # A big index lives as long as the process: keep its many small objects out of the
        # cyclic collector's full passes (they caused 10-20 ms pauses at 100k contacts).
        if len(self._slot_of) >= GC_FREEZE_FROM:
            gc.collect()
            gc.freeze()

    def __init_state(self) -> None:
        self._recent = {}
        self._slots = []
        self._slot_of = {}
        self._arrays = _Arrays()
        self._postings = {}
        self._np_postings = {}
        self._vocab = []
        self._vocab_pos = {}
        self._sorted_vocab = []
        self._by_head = {}
        self._by_tail = {}
        self._phones = {}
        self._phone_tails = {}
        self._company_contacts = {}
        self._company_scope = {}

    @staticmethod
    def _read_fingerprint(session: Session) -> tuple[Any, ...]:
        out: list[Any] = []
        for model in (Company, Contact):
            row = session.execute(select(func.count(model.id), func.max(model.id),
                                         func.max(model.updated_at))).one()
            out.extend((int(row[0] or 0), int(row[1] or 0), row[2]))
        return tuple(out)

    def sync(self, session: Session, *, force: bool = False) -> None:
        """Bring the index in step with the database (cheap when nothing changed)."""
        with self._lock:
            if not self.loaded:
                self.load(session)
                return
            if self._touched:
                touched, self._touched = self._touched, set()
                self._refresh(session, touched)
            now = time.monotonic()
            if not force and now - self._last_sync < self.min_sync_interval:
                return
            self._last_sync = now
            fingerprint = self._read_fingerprint(session)
            if fingerprint != self._fingerprint:
                old = self._fingerprint or (0, 0, None, 0, 0, None)
                self._catch_up(session, old, fingerprint)
                self._fingerprint = fingerprint
            if force:
                self._recheck_recent(session, fingerprint)

    def _remember_recent(self, kind: int, rows: Iterable[tuple[int, Any]], top: Any) -> None:
        """Note the stamps applied of the rows within RECHECK_WINDOW of the newest one."""
        if top is None:
            return
        since = top - RECHECK_WINDOW
        recent = self._recent.setdefault(kind, {})
        for record_id, stamp in rows:
            if stamp is not None and stamp >= since:
                recent[record_id] = stamp

    def _recheck_recent(self, session: Session, fingerprint: tuple[Any, ...]) -> None:
        """Look again at the rows stamped within RECHECK_WINDOW of the newest stamp and
        apply those not seen with that stamp: a write that began before another one but
        committed after it carries an older updated_at (or a lower id) than the fingerprint
        already saw, and changes no maximum. Run by `sync(force=True)` (the node's
        background sync), not on the lookup path."""
        for offset, model, kind in ((0, Company, COMPANY), (3, Contact, CONTACT)):
            top = fingerprint[offset + 2]
            if top is None:
                continue
            rows = session.execute(select(model.id, model.updated_at).where(
                model.updated_at >= top - RECHECK_WINDOW)).all()
            seen = self._recent.get(kind, {})
            changed = [row.id for row in rows if seen.get(row.id) != row.updated_at]
            self._recent[kind] = {row.id: row.updated_at for row in rows}
            if changed:
                if kind == COMPANY:
                    self._apply(session, changed, [])
                else:
                    self._apply(session, [], changed)

    def _refresh(self, session: Session, keys: set[tuple[int, int]]) -> None:
        company_ids = [i for k, i in keys if k == COMPANY]
        contact_ids = [i for k, i in keys if k == CONTACT]
        self._apply(session, company_ids, contact_ids)

    def _apply(self, session: Session, company_ids: list[int], contact_ids: list[int]) -> None:
        for chunk in _chunks(company_ids, 500):
            seen = set()
            for row in session.execute(select(
                    Company.id, Company.name, Company.territory_id, Company.owner_id,
                    Company.phone).where(Company.id.in_(chunk))):
                seen.add(row.id)
                self.upsert_company(row.id, row.name, row.territory_id, row.owner_id,
                                    (row.phone,))
            for missing in set(chunk) - seen:
                for contact_id in list(self._company_contacts.get(missing, ())):
                    self.remove(CONTACT, contact_id)
                self.remove(COMPANY, missing)
        for chunk in _chunks(contact_ids, 500):
            seen = set()
            for crow in session.execute(select(
                    Contact.id, Contact.name, Contact.company_id, Contact.phone,
                    Contact.mobile).where(Contact.id.in_(chunk))):
                seen.add(crow.id)
                self.upsert_contact(crow.id, crow.name, crow.company_id,
                                    (crow.phone, crow.mobile))
            for missing in set(chunk) - seen:
                self.remove(CONTACT, missing)

    def _catch_up(self, session: Session, old: tuple[Any, ...], new: tuple[Any, ...]) -> None:
        for offset, model, kind in ((0, Company, COMPANY), (3, Contact, CONTACT)):
            if old[offset:offset + 3] == new[offset:offset + 3]:
                continue
            _count, max_id, max_updated = old[offset:offset + 3]
            clause = model.id > max_id
            if max_updated is not None:
                clause = clause | (model.updated_at >= max_updated)
            rows = session.execute(select(model.id, model.updated_at).where(clause)).all()
            ids = [row.id for row in rows]
            self._remember_recent(kind, rows, new[offset + 2])
            if kind == COMPANY:
                self._apply(session, ids, [])
            else:
                self._apply(session, [], ids)
            present = sum(1 for (k, _i) in self._slot_of if k == kind)
            if present != new[offset]:
                # Something was deleted, or a row below the max id committed late: drop what
                # is gone, add what is missing.
                db_ids = set(session.scalars(select(model.id)))
                have = {i for k, i in self._slot_of if k == kind}
                for i in have - db_ids:
                    self.remove(kind, i)
                missing = list(db_ids - have)
                if missing:
                    if kind == COMPANY:
                        self._apply(session, missing, [])
                    else:
                        self._apply(session, [], missing)

    # -- search ----------------------------------------------------------------------------
    def _posting(self, tok: str) -> np.ndarray:
        arr = self._np_postings.get(tok)
        if arr is None:
            arr = np.fromiter(self._postings[tok], np.int64)
            self._np_postings[tok] = arr
        return arr

    def _token_matches(self, qt: str) -> list[tuple[str, float]]:
        found: dict[str, float] = {}
        cutoff = 75 if len(qt) >= 5 else 70
        pool: list[str] = []
        for length in range(max(1, len(qt) - 2), len(qt) + 3):
            pool.extend(self._by_head.get((qt[:2], length), ()))
            pool.extend(self._by_tail.get((_tail(qt, length), length), ()))
        for tok, score, _i in process.extract(qt, pool, scorer=fuzz.ratio,
                                              score_cutoff=cutoff, limit=40):
            found[tok] = float(score)
        if len(qt) >= 3:
            i = bisect.bisect_left(self._sorted_vocab, qt)
            n = 0
            cap = 300 if len(qt) >= 4 else 60
            while i < len(self._sorted_vocab) and n < cap:
                tok = self._sorted_vocab[i]
                if not tok.startswith(qt):
                    break
                score = 85.0 + 10.0 * len(qt) / len(tok)
                if score > found.get(tok, 0.0):
                    found[tok] = score
                i += 1
                n += 1
        return list(found.items())

    def search(self, query: str, *, kinds: tuple[int, ...] = (COMPANY, CONTACT),
               territory_ids: set[int] | None = None, user_id: int | None = None,
               limit: int = 5, company_id: int | None = None) -> list[Hit]:
        """Best matches for `query`, restricted to what the user may see.

        `territory_ids` None means every territory (admins); otherwise a record is visible
        when its company is in one of them or owned by `user_id`.
        """
        query = query[:MAX_QUERY_CHARS]
        with self._lock:
            n = self._arrays.size
            if n == 0:
                return []
            if looks_like_phone(query):
                return self._phone_search(query, kinds, territory_ids, user_id, limit,
                                          company_id)
            all_tokens = list(dict.fromkeys(normalise(query)))
            # Initials ("Hendro W") do not pick candidates; they only re-rank them.
            qtokens = [q for q in all_tokens if len(q) > 1] or all_tokens
            initials = [q for q in all_tokens if len(q) == 1 and q not in qtokens]
            if not qtokens:
                return []
            total = np.zeros(n, np.float32)
            for qt in qtokens:
                per = np.zeros(n, np.float32)
                for tok, score in self._token_matches(qt):
                    post = self._posting(tok)
                    per[post] = np.maximum(per[post], np.float32(score))
                total += per
            total /= len(qtokens)
            # With several words, a record matching only one of them is not a candidate
            # (unless nothing matches more).
            cand = np.flatnonzero(total >= (60.0 if len(qtokens) > 1 else 45.0))
            if cand.size == 0 and len(qtokens) > 1:
                cand = np.flatnonzero(total >= 45.0)
            if cand.size == 0:
                return []
            cand = cand[self._visible_mask(cand, kinds, territory_ids, user_id, company_id)]
            if cand.size == 0:
                return []
            keep = min(cand.size, max(limit * 6, 30))
            if cand.size > keep:
                top = np.argpartition(-total[cand], keep - 1)[:keep]
                cand = cand[top]
            qtext = " ".join(qtokens)
            hits: list[Hit] = []
            for slot in cand.tolist():
                entry = self._slots[slot]
                if entry is None:
                    continue
                base = float(total[slot])
                whole = fuzz.WRatio(qtext, " ".join(entry.tokens))
                extra = max(0, len(entry.tokens) - len(qtokens) - len(initials))
                score = 0.6 * base + 0.4 * whole - 1.0 * extra
                for initial in initials:
                    if not any(tok.startswith(initial) for tok in entry.tokens):
                        score -= 10.0
                hits.append(Hit(entry.kind, entry.id, round(min(score, 100.0), 1),
                                entry.company_id))
            hits.sort(key=lambda h: (-h.score, h.kind, h.id))
            return hits[:limit]

    def _visible_mask(self, cand: np.ndarray, kinds: tuple[int, ...],
                      territory_ids: set[int] | None, user_id: int | None,
                      company_id: int | None) -> np.ndarray:
        a = self._arrays
        mask = a.alive[cand]
        if len(kinds) == 1:
            mask &= a.kind[cand] == kinds[0]
        if territory_ids is not None:
            terr = np.fromiter(territory_ids, np.int32) if territory_ids else np.zeros(0, np.int32)
            visible = np.isin(a.territory[cand], terr)
            if user_id is not None:
                visible |= a.owner[cand] == user_id
            mask &= visible
        if company_id is not None:
            mask &= np.fromiter(((e.company_id if (e := self._slots[s]) else -1) == company_id
                                 for s in cand.tolist()), bool, count=cand.size)
        return mask

    def _phone_search(self, query: str, kinds: tuple[int, ...], territory_ids: set[int] | None,
                      user_id: int | None, limit: int, company_id: int | None) -> list[Hit]:
        key = phone_key(query)
        if key is None:
            return []
        scored: dict[int, float] = {s: 100.0 for s in self._phones.get(key, ())}
        for slot in self._phone_tails.get(key[-7:], ()):
            scored.setdefault(slot, 90.0)
        if not scored:
            return []
        cand = np.fromiter(scored, np.int64)
        cand = cand[self._visible_mask(cand, kinds, territory_ids, user_id, company_id)]
        hits = []
        for slot in cand.tolist():
            entry = self._slots[slot]
            if entry is not None:
                hits.append(Hit(entry.kind, entry.id, scored[slot], entry.company_id))
        hits.sort(key=lambda h: (-h.score, h.kind, h.id))
        return hits[:limit]


def _tail(token: str, length: int) -> str:
    """The tail bucket key for tokens of `length` letters: the last 3 letters from 5 letters
    on (a typo breaks either the first two or the last three), else the last 2."""
    return token[-3:] if length >= 5 else token[-2:]


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


# -- one index per database engine, shared by the services and core.contacts ----------------
_BY_ENGINE: weakref.WeakKeyDictionary[Any, ContactIndex] = weakref.WeakKeyDictionary()


def register_index(bind: Any, index: ContactIndex) -> None:
    """Make `index` the one used for the database `bind` (an Engine)."""
    _BY_ENGINE[bind] = index


def index_for(session: Session) -> ContactIndex:
    """The index of the session's database (created on first use), kept in step."""
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    index = _BY_ENGINE.get(engine)
    if index is None:
        index = ContactIndex(min_sync_interval=0.0)
        _BY_ENGINE[engine] = index
    index.sync(session)
    return index
