"""The in-memory fuzzy lookup index of companies and contacts (rapidfuzz + numpy).

How a query is answered, with no pass over the records:
- names are normalised (lower case, diacritics and punctuation removed, legal forms such as
  PT/CV/Tbk/Ltd/Inc and titles dropped) and split into tokens; each distinct token gets a
  number (the vocabulary);
- each query token finds its vocabulary tokens through a deletion-neighbourhood index (the
  token and every one-letter deletion of it, hashed: "suhatro" meets "suharto" through
  "suhato"), so one typo, a missing or extra letter or two swapped letters cost a few hash
  look-ups; a sorted vocabulary gives the completions of a partial name ("Hadi Eff" ->
  "effendi", shortest first); a token with neither is compared with rapidfuzz against the
  tokens that share its first three letters;
- candidates are the postings (token -> records, an inverted index) of the matched tokens
  of the most selective query token (a second one too when it is cheap, all of them when
  that finds nothing good), at most CANDIDATE_BUDGET records; each candidate is scored on
  every query token (order-free: word order does not matter) from its own token numbers,
  and the visible best few are re-ranked with WRatio;
- phone numbers are normalised with `phonenumbers` (region ID) and looked up by their last
  7 digits, an exact number scoring above a matching tail.

Memory: records, tokens, postings and the neighbourhood index are numpy arrays (about
110 MB at a million contacts); the vocabulary words are the only per-item Python objects.

Looking up many short spans of one message (spotting customers inside a sentence): call
`search(span, limit=3)` for each run of words; token matches are cached per word (until the
vocabulary changes), a word that matches no token returns at once, and the per-span cost at
100k records is about 0.05-0.1 ms, so 20 spans of one message fit in about 2 ms. Scores are
0-100; a span naming a record well scores 85 or more.

Updates are incremental (one record: its token numbers replaced; new postings go to small
side tables that are merged into the arrays in one pass now and then). Writes made in this
process are noticed by a SQLAlchemy flush hook; writes by other processes (an import, a
second worker) are picked up by polling a cheap fingerprint of the tables (count, max id,
max updated_at) at most every `min_sync_interval` seconds.
"""

from __future__ import annotations

import bisect
import re
import threading
import time
import unicodedata
import weakref
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import phonenumbers
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from core.models import Company, Contact

COMPANY = 0
CONTACT = 1
# Legal forms, honorifics and filler words that do not identify anyone.
STOPWORDS = frozenset({
    "pt", "cv", "tbk", "ltd", "inc", "llc", "corp", "co", "ud", "persero", "plc", "gmbh",
    "dr", "drg", "ir", "prof", "h", "hj", "bpk", "bapak", "ibu", "pak", "bu", "mr", "mrs",
    "ms", "the", "sdn", "bhd", "tbk.",
})
_NON_WORD = re.compile(r"[^0-9a-z]+")
_PHONE_LIKE = re.compile(r"^\+?[\d\s().\-/]{6,}$")

TOKENS_PER_ROW = 4  # token numbers kept in a record's row; longer names keep the rest aside
PHONES_PER_ROW = 2
CANDIDATE_BUDGET = 40_000  # records scored per query at most
WIDEN_BELOW = 75.0  # best candidate's mean token score under which all tokens feed candidates
PREFIX_MAX = 200  # completions of a partial token (shortest first)
PREFIX_SCAN = 5_000  # vocabulary entries looked at for them
FALLBACK_SCAN = 4_000  # tokens compared one by one when no neighbour fits
COMPACT_MIN = 20_000  # side-table entries before they are merged into the arrays
DENSE_IDS = 1 << 24  # record ids below this are mapped by an array, above by a dict
_MATCH_CACHE = 4096
# Scores of a token match: the same token 100; a completion of a typed beginning
# PREFIX_TOP down to PREFIX_TOP - PREFIX_SPAN (all of it missing), above one typo's ratio.
PREFIX_TOP = 97.0
PREFIX_SPAN = 2.0
ONE_EDIT_BONUS = 3.0  # added to the ratio of a token one typo away
EDIT_MAX = 94.0  # a token with a typo scores below any completion
# The final score: mostly the token scores, WRatio of the whole names to break ties, minus
# EXTRA_TOKEN for each word of the name the query did not mention.
TOKEN_WEIGHT = 0.85
EXTRA_TOKEN = 3.0
RERANK_MIN = 16  # candidates re-ranked with WRatio at least


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


@dataclass(frozen=True, slots=True)
class Hit:
    """One index match: the record kind (COMPANY/CONTACT), its id and a 0-100 score."""

    kind: int
    id: int
    score: float
    company_id: int


def _hash(text: str) -> int:
    """32 bits of the string's hash (this process only: the index is never stored)."""
    return hash(text) & 0xFFFFFFFF


def _neighbourhood(word: str) -> set[str]:
    """The word and, from four letters on, each of its one-letter deletions."""
    keys = {word}
    if len(word) >= 4:
        keys.update(word[:i] + word[i + 1:] for i in range(len(word)))
    return keys


def _grow(arr: np.ndarray, need: int, fill: Any) -> np.ndarray:
    """`arr` with room for at least `need` rows (x1.5), new rows set to `fill`."""
    if need <= len(arr):
        return arr
    cap = max(need, 1024, len(arr) * 3 // 2)
    new = np.full((cap, *arr.shape[1:]), fill, arr.dtype)
    new[: len(arr)] = arr
    return new


class _IdMap:
    """Record id -> slot (-1 when absent): an int32 array by id, a dict for huge ids."""

    def __init__(self) -> None:
        self.dense = np.full(0, -1, np.int32)
        self.sparse: dict[int, int] = {}

    def get(self, rid: int) -> int:
        if 0 <= rid < len(self.dense):
            return int(self.dense[rid])
        return self.sparse.get(rid, -1)

    def set(self, rid: int, slot: int) -> None:
        if 0 <= rid < DENSE_IDS:
            self.dense = _grow(self.dense, rid + 1, -1)
            self.dense[rid] = slot
        elif slot < 0:
            self.sparse.pop(rid, None)
        else:
            self.sparse[rid] = slot


class _Scope:
    """Territory and owner of each company, by company id (-1 = none)."""

    def __init__(self) -> None:
        self.territory = np.full(0, -1, np.int32)
        self.owner = np.full(0, -1, np.int32)
        self.sparse: dict[int, tuple[int, int]] = {}

    def set(self, company_id: int, territory: int, owner: int) -> None:
        if 0 <= company_id < DENSE_IDS:
            self.territory = _grow(self.territory, company_id + 1, -1)
            self.owner = _grow(self.owner, company_id + 1, -1)
            self.territory[company_id] = territory
            self.owner[company_id] = owner
        else:
            self.sparse[company_id] = (territory, owner)

    def of(self, companies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = len(self.territory)
        inside = (companies >= 0) & (companies < n)
        idx = np.where(inside, companies, 0)
        terr = np.where(inside, self.territory[idx] if n else -1, -1).astype(np.int32)
        owner = np.where(inside, self.owner[idx] if n else -1, -1).astype(np.int32)
        if self.sparse:
            for i in np.flatnonzero(~inside).tolist():
                terr[i], owner[i] = self.sparse.get(int(companies[i]), (-1, -1))
        return terr, owner


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

_EMPTY_I32 = np.zeros(0, np.int32)
_EMPTY_F32 = np.zeros(0, np.float32)


class ContactIndex:
    """Fuzzy, scoped lookup over all companies and contacts of one database."""

    def __init__(self, min_sync_interval: float = 1.0) -> None:
        global _HOOKED
        self.min_sync_interval = min_sync_interval
        self._lock = threading.RLock()
        self.__init_state()
        self._touched: set[tuple[int, int]] = set()
        self._fingerprint: tuple[Any, ...] | None = None
        # (kind) -> {id: updated_at} of the rows stamped within RECHECK_WINDOW of the newest
        self._recent: dict[int, dict[int, Any]] = {}
        self._last_sync = float("-inf")
        self.loaded = False
        _LIVE_INDEXES.add(self)
        if not _HOOKED:
            event.listen(Session, "after_flush", _after_flush)
            _HOOKED = True

    def __init_state(self) -> None:
        # Records: one slot each (a freed slot is reused), numpy columns.
        self._size = 0
        self._free: list[int] = []
        self._kind = np.zeros(0, np.int8)
        self._rid = np.zeros(0, np.int32)
        self._company = np.zeros(0, np.int32)
        self._alive = np.zeros(0, bool)
        self._tok = np.full((0, TOKENS_PER_ROW), -1, np.int32)
        self._ntok = np.zeros(0, np.int16)  # how many tokens
        self._long = np.zeros(0, bool)  # more tokens than a row holds
        self._more: dict[int, tuple[int, ...]] = {}  # slot -> all its token numbers
        self._phone: np.ndarray | None = None  # (slots, PHONES_PER_ROW) int64, when any
        self._more_phones: dict[int, tuple[int, ...]] = {}
        self._ids = (_IdMap(), _IdMap())
        self._count = [0, 0]
        self._scope = _Scope()
        # Vocabulary: token number -> word; how many live records use it.
        self._words: list[str] = []
        self._refs = np.zeros(0, np.int32)
        self._live_words = 0
        # Merged ("base") structures cover the words below _base_words and the postings up
        # to the last compaction; what came since is in the side tables below.
        self._base_words = 0
        self._nb_keys = np.zeros(0, np.uint32)  # neighbourhood hashes, sorted
        self._nb_tids = _EMPTY_I32
        self._sorted_words: list[str] = []  # live words in order (prefix search)
        self._sorted_tids = _EMPTY_I32
        self._post_off = np.zeros(1, np.int64)  # postings of word t: slots[off[t]:off[t+1]]
        self._post_slots = _EMPTY_I32
        self._tail_keys = np.zeros(0, np.int64)  # phone tails, sorted, and their slots
        self._tail_slots = _EMPTY_I32
        self._new_words: dict[str, int] = {}
        self._new_nb: dict[int, list[int]] = {}
        self._new_sorted: list[tuple[str, int]] = []
        self._new_post: dict[int, list[int]] = {}
        self._new_tails: dict[int, list[int]] = {}
        self._pending = 0
        self._bulk = 0
        self._version = 0
        self._match_cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._cache_version = -1

    # -- size ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._count[COMPANY] + self._count[CONTACT]

    @property
    def vocabulary_size(self) -> int:
        return self._live_words

    # -- incremental updates ---------------------------------------------------------------
    def mark_touched(self, keys: Iterable[tuple[int, int]]) -> None:
        with self._lock:
            self._touched.update(keys)

    def upsert_company(self, company_id: int, name: str, territory_id: int | None,
                       owner_id: int | None, phones: Iterable[str | None] = ()) -> None:
        with self._lock:
            self._scope.set(company_id, territory_id or -1, owner_id or -1)
            self._put(COMPANY, company_id, name, phones, company_id)

    def upsert_contact(self, contact_id: int, name: str, company_id: int,
                       phones: Iterable[str | None] = ()) -> None:
        with self._lock:
            self._put(CONTACT, contact_id, name, phones, company_id)

    def remove(self, kind: int, record_id: int) -> None:
        with self._lock:
            slot = self._ids[kind].get(record_id)
            if slot < 0:
                return
            self._release(slot)
            self._alive[slot] = False
            self._ids[kind].set(record_id, -1)
            self._count[kind] -= 1
            self._free.append(slot)

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Many upserts at once (a load): the arrays are merged once, at the end."""
        with self._lock:
            self._bulk += 1
            try:
                yield
            finally:
                self._bulk -= 1
                if not self._bulk:
                    self._compact()

    def _put(self, kind: int, record_id: int, name: str, phones: Iterable[str | None],
             company_id: int) -> None:
        tids = [self._word_id(w) for w in dict.fromkeys(normalise(name))]
        numbers = tuple(dict.fromkeys(
            int(k[-18:]) for k in (phone_key(p) for p in phones) if k))
        slot = self._ids[kind].get(record_id)
        if slot >= 0:
            self._company[slot] = company_id
            if self._tids_of(slot) == tids and self._phones_of(slot) == numbers:
                return
            self._release(slot)
        else:
            slot = self._new_slot()
            self._ids[kind].set(record_id, slot)
            self._count[kind] += 1
            self._kind[slot] = kind
            self._rid[slot] = record_id
            self._company[slot] = company_id
            self._alive[slot] = True
        row = self._tok[slot]
        row[:] = -1
        row[: min(len(tids), TOKENS_PER_ROW)] = tids[:TOKENS_PER_ROW]
        self._ntok[slot] = min(len(tids), 32767)
        if len(tids) > TOKENS_PER_ROW:
            self._long[slot] = True
            self._more[slot] = tuple(tids)
        for tid in tids:
            if self._refs[tid] == 0:
                self._live_words += 1
                self._version += 1  # a word back in use: cached matches may lack it
            self._refs[tid] += 1
        self._set_phones(slot, numbers)
        if not self._bulk:
            for tid in tids:
                self._new_post.setdefault(tid, []).append(slot)
            for number in numbers:
                self._new_tails.setdefault(number % 10_000_000, []).append(slot)
            self._pending += len(tids) + len(numbers)
            if self._pending > max(COMPACT_MIN, self._size // 16):
                self._compact()

    def _new_slot(self) -> int:
        if self._free:
            return self._free.pop()
        slot = self._size
        self._size += 1
        if self._size > len(self._kind):
            need = self._size
            self._kind = _grow(self._kind, need, 0)
            self._rid = _grow(self._rid, need, 0)
            self._company = _grow(self._company, need, 0)
            self._alive = _grow(self._alive, need, False)
            self._tok = _grow(self._tok, need, -1)
            self._long = _grow(self._long, need, False)
            self._ntok = _grow(self._ntok, need, 0)
            if self._phone is not None:
                self._phone = _grow(self._phone, need, 0)
        return slot

    def _tids_of(self, slot: int) -> list[int]:
        if self._long[slot]:
            return list(self._more[slot])
        return [t for t in self._tok[slot].tolist() if t >= 0]

    def _phones_of(self, slot: int) -> tuple[int, ...]:
        if slot in self._more_phones:
            return self._more_phones[slot]
        if self._phone is None:
            return ()
        return tuple(p for p in self._phone[slot].tolist() if p)

    def _set_phones(self, slot: int, numbers: tuple[int, ...]) -> None:
        self._more_phones.pop(slot, None)
        if not numbers:
            if self._phone is not None:
                self._phone[slot] = 0
            return
        if self._phone is None:
            self._phone = np.zeros((len(self._kind), PHONES_PER_ROW), np.int64)
        self._phone[slot] = 0
        self._phone[slot, : min(len(numbers), PHONES_PER_ROW)] = numbers[:PHONES_PER_ROW]
        if len(numbers) > PHONES_PER_ROW:
            self._more_phones[slot] = numbers

    def _release(self, slot: int) -> None:
        """Drop the slot's tokens (postings pointing at it are checked when read)."""
        for tid in self._tids_of(slot):
            self._refs[tid] -= 1
            if self._refs[tid] == 0:
                self._live_words -= 1
                self._version += 1
        self._tok[slot] = -1
        self._ntok[slot] = 0
        if self._long[slot]:
            self._long[slot] = False
            del self._more[slot]
        self._set_phones(slot, ())

    def names_word(self, word: str) -> bool:
        """True when `word` (lower case, no diacritics) is a word of some record's name: a
        sentence's word next to a found name is worth a look-up only then."""
        with self._lock:
            tid = self._lookup_word(word)
            return tid >= 0 and int(self._refs[tid]) > 0

    def _word_id(self, word: str) -> int:
        tid = self._lookup_word(word)
        if tid >= 0:
            return tid
        tid = len(self._words)
        self._words.append(word)
        self._refs = _grow(self._refs, tid + 1, 0)
        self._new_words[word] = tid
        self._version += 1
        if not self._bulk:
            for key in _neighbourhood(word):
                self._new_nb.setdefault(_hash(key), []).append(tid)
            bisect.insort(self._new_sorted, (word, tid))
            self._pending += 1
        return tid

    def _lookup_word(self, word: str) -> int:
        tid = self._new_words.get(word)
        if tid is not None:
            return tid
        h = np.uint32(_hash(word))
        lo = int(np.searchsorted(self._nb_keys, h, "left"))
        hi = int(np.searchsorted(self._nb_keys, h, "right"))
        for t in self._nb_tids[lo:hi].tolist():
            if self._words[t] == word:
                return t
        return -1

    # -- merging the side tables into the arrays ---------------------------------------------
    def compact(self) -> None:
        """Merge what changed since the last merge into the arrays (done automatically)."""
        with self._lock:
            self._compact()

    def _compact(self) -> None:
        n_words = len(self._words)
        live = self._refs[:n_words] > 0
        dead = n_words - int(live.sum())
        renumber = dead > 10_000 and dead > n_words // 4
        if renumber:
            self._renumber(live)
            n_words = len(self._words)
            live = np.ones(n_words, bool)
            self._nb_keys, self._nb_tids = np.zeros(0, np.uint32), _EMPTY_I32
            self._sorted_words, self._sorted_tids = [], _EMPTY_I32
            self._base_words = 0
        # The neighbourhood index: the merged entries of live words, and the new words'.
        keep = live[self._nb_tids] if self._nb_tids.size else np.zeros(0, bool)
        keys = array("I")
        owners = array("i")
        for tid in range(self._base_words, n_words):
            if live[tid]:
                for key in _neighbourhood(self._words[tid]):
                    keys.append(_hash(key))
                    owners.append(tid)
        all_keys = np.concatenate([self._nb_keys[keep], np.frombuffer(keys, np.uint32)])
        all_tids = np.concatenate([self._nb_tids[keep], np.frombuffer(owners, np.int32)])
        order = np.argsort(all_keys, kind="stable")
        self._nb_keys, self._nb_tids = all_keys[order], all_tids[order].astype(np.int32)
        # The sorted vocabulary (prefix search).
        pairs = [(w, t) for w, t in zip(self._sorted_words, self._sorted_tids.tolist(),
                                        strict=True) if live[t]]
        pairs += [(self._words[t], t) for t in range(self._base_words, n_words) if live[t]]
        pairs.sort()
        self._sorted_words = [w for w, _t in pairs]
        self._sorted_tids = np.fromiter((t for _w, t in pairs), np.int32, count=len(pairs))
        # Postings, from the records' own token numbers (stale entries vanish here).
        size = self._size
        rows, cols = np.nonzero((self._tok[:size] >= 0) & self._alive[:size, None])
        tids = self._tok[:size][rows, cols]
        slots = rows.astype(np.int32)
        if self._more:
            extra = [(t, s) for s, ts in self._more.items() if self._alive[s]
                     for t in ts[TOKENS_PER_ROW:]]
            if extra:
                tids = np.concatenate([tids, np.array([t for t, _ in extra], np.int32)])
                slots = np.concatenate([slots, np.array([s for _, s in extra], np.int32)])
        # Within a token, shorter names first: a query cut short by its budget keeps the
        # records that name nothing more than the token.
        order = np.lexsort((slots, self._ntok[slots], tids))
        self._post_slots = slots[order]
        self._post_off = np.searchsorted(tids[order], np.arange(n_words + 1)).astype(np.int64)
        # Phone tails.
        tails, tail_slots = [], []
        if self._phone is not None:
            prow, pcol = np.nonzero((self._phone[:size] != 0) & self._alive[:size, None])
            tails.append(self._phone[:size][prow, pcol] % 10_000_000)
            tail_slots.append(prow.astype(np.int32))
        for s, numbers in self._more_phones.items():
            if self._alive[s] and len(numbers) > PHONES_PER_ROW:
                extra_n = np.array(numbers[PHONES_PER_ROW:], np.int64)
                tails.append(extra_n % 10_000_000)
                tail_slots.append(np.full(len(extra_n), s, np.int32))
        all_tails = np.concatenate(tails) if tails else np.zeros(0, np.int64)
        all_tail_slots = np.concatenate(tail_slots) if tail_slots else _EMPTY_I32
        order = np.argsort(all_tails, kind="stable")
        self._tail_keys, self._tail_slots = all_tails[order], all_tail_slots[order]
        self._base_words = n_words
        self._new_words, self._new_nb, self._new_sorted = {}, {}, []
        self._new_post, self._new_tails = {}, {}
        self._pending = 0
        self._version += 1

    def _renumber(self, live: np.ndarray) -> None:
        """Drop the words no record uses any more; number the others anew."""
        new_of = np.full(len(self._words), -1, np.int32)
        new_of[live] = np.arange(int(live.sum()), dtype=np.int32)
        size = self._size
        tok = self._tok[:size]
        self._tok[:size] = np.where(tok >= 0, new_of[np.maximum(tok, 0)], -1)
        self._more = {s: tuple(int(new_of[t]) for t in ts) for s, ts in self._more.items()}
        self._words = [w for w, keep in zip(self._words, live.tolist(), strict=True) if keep]
        self._refs = self._refs[: len(live)][live].copy()

    # -- loading and keeping in step with the database -------------------------------------
    def load(self, session: Session) -> None:
        """(Re)load everything from the database."""
        with self._lock:
            self.__init_state()
            # Read first: a change committed while loading shows as a changed fingerprint.
            self._fingerprint = self._read_fingerprint(session)
            stamps: dict[int, list[tuple[int, Any]]] = {COMPANY: [], CONTACT: []}
            with self.bulk():
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
                if self._pending:  # the background sync merges small side tables too
                    self._compact()

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

    def _ids_of(self, kind: int) -> set[int]:
        size = self._size
        mask = self._alive[:size] & (self._kind[:size] == kind)
        return set(self._rid[:size][mask].tolist())

    def _contacts_of(self, company_id: int) -> list[int]:
        size = self._size
        mask = (self._alive[:size] & (self._kind[:size] == CONTACT)
                & (self._company[:size] == company_id))
        return self._rid[:size][mask].tolist()

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
                if self._ids[COMPANY].get(missing) < 0:
                    continue
                for contact_id in self._contacts_of(missing):
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
            if self._count[kind] != new[offset]:
                # Something was deleted, or a row below the max id committed late: drop what
                # is gone, add what is missing.
                db_ids = set(session.scalars(select(model.id)))
                have = self._ids_of(kind)
                for i in have - db_ids:
                    self.remove(kind, i)
                missing = list(db_ids - have)
                if missing:
                    if kind == COMPANY:
                        self._apply(session, missing, [])
                    else:
                        self._apply(session, [], missing)

    # -- matching one query token against the vocabulary --------------------------------------
    def _token_matches(self, qt: str) -> tuple[np.ndarray, np.ndarray]:
        """Vocabulary tokens close to `qt`: (token numbers sorted, their 0-100 scores)."""
        if self._cache_version != self._version:
            self._match_cache.clear()
            self._cache_version = self._version
        cached = self._match_cache.get(qt)
        if cached is not None:
            return cached
        found: dict[int, float] = {}
        cutoff = 75 if len(qt) >= 5 else 70
        words, refs = self._words, self._refs
        for tid in self._neighbours(qt):
            if refs[tid] <= 0:
                continue
            word = words[tid]
            if word == qt:
                score = 100.0
            else:
                score = fuzz.ratio(qt, word, score_cutoff=cutoff)
                # One typo (a swap counts as one) over two changes that score alike.
                if score and OSA.distance(qt, word, score_cutoff=1) <= 1:
                    score = min(score + ONE_EDIT_BONUS, EDIT_MAX)
            if score and score > found.get(tid, 0.0):
                found[tid] = float(score)
        if len(qt) >= 3:
            for tid, score in self._completions(qt):
                if score > found.get(tid, 0.0):
                    found[tid] = score
        if len(qt) >= 5 and not any(s >= 85 for s in found.values()):
            for tid, score in self._fallback(qt, cutoff):
                if score > found.get(tid, 0.0):
                    found[tid] = score
        if found:
            tids = np.fromiter(found, np.int32, count=len(found))
            scores = np.fromiter(found.values(), np.float32, count=len(found))
            order = np.argsort(tids)
            result = (tids[order], scores[order])
        else:
            result = (_EMPTY_I32, _EMPTY_F32)
        if len(self._match_cache) >= _MATCH_CACHE:
            self._match_cache.clear()
        self._match_cache[qt] = result
        return result

    def _neighbours(self, qt: str) -> set[int]:
        """Token numbers one edit (or none) away from `qt` (and a few hash look-alikes)."""
        keys = _neighbourhood(qt)
        hashes = np.fromiter((_hash(k) for k in keys), np.uint32, count=len(keys))
        lo = np.searchsorted(self._nb_keys, hashes, "left")
        hi = np.searchsorted(self._nb_keys, hashes, "right")
        out: set[int] = set()
        for a, b in zip(lo.tolist(), hi.tolist(), strict=True):
            if b > a:
                out.update(self._nb_tids[a:b].tolist())
        if self._new_nb:
            for h in hashes.tolist():
                out.update(self._new_nb.get(h, ()))
        return out

    def _completions(self, qt: str) -> list[tuple[int, float]]:
        """Tokens that `qt` begins (a partial name), the shortest PREFIX_MAX, scored
        PREFIX_TOP - PREFIX_SPAN.. PREFIX_TOP by how much of the token was typed."""
        found: list[tuple[int, str, int]] = []
        sources: list[tuple[list[str], Any]] = [(self._sorted_words, self._sorted_tids)]
        if self._new_sorted:
            sources.append(([w for w, _ in self._new_sorted],
                            [t for _, t in self._new_sorted]))
        refs = self._refs
        for words, tids in sources:
            i = bisect.bisect_right(words, qt)  # the word itself is not a completion
            end = min(len(words), i + PREFIX_SCAN)
            while i < end:
                word = words[i]
                if not word.startswith(qt):
                    break
                tid = int(tids[i])
                if refs[tid] > 0:
                    found.append((len(word), word, tid))
                i += 1
        if len(found) > PREFIX_MAX:
            found.sort()
            del found[PREFIX_MAX:]
        n = len(qt)
        return [(tid, PREFIX_TOP - PREFIX_SPAN * (1 - n / length)) for length, _w, tid in found]

    def _fallback(self, qt: str, cutoff: int) -> list[tuple[int, float]]:
        """rapidfuzz over the tokens that share the first three letters of `qt` and are
        about as long (two typos, which the one-edit neighbourhood does not reach)."""
        head = qt[:3]
        pool: list[str] = []
        pool_tids: list[int] = []
        sources: list[tuple[list[str], Any]] = [(self._sorted_words, self._sorted_tids)]
        if self._new_sorted:
            sources.append(([w for w, _ in self._new_sorted],
                            [t for _, t in self._new_sorted]))
        for words, tids in sources:
            i = bisect.bisect_left(words, head)
            end = min(len(words), i + FALLBACK_SCAN)
            while i < end and words[i].startswith(head):
                if abs(len(words[i]) - len(qt)) <= 2:
                    pool.append(words[i])
                    pool_tids.append(int(tids[i]))
                i += 1
        out = []
        for _word, score, k in process.extract(qt, pool, scorer=fuzz.ratio,
                                                 score_cutoff=cutoff, limit=40):
            if self._refs[pool_tids[k]] > 0:
                out.append((pool_tids[k], float(score)))
        return out

    # -- search ----------------------------------------------------------------------------
    def _posting_sizes(self, tids: np.ndarray) -> np.ndarray:
        base = np.minimum(tids, self._base_words)  # a word since the merge has none there
        sizes = self._post_off[np.minimum(base + 1, self._base_words)] - self._post_off[base]
        sizes = np.where(tids < self._base_words, sizes, 0)
        if self._new_post:
            sizes = sizes + np.fromiter((len(self._new_post.get(t, ())) for t in tids.tolist()),
                                        np.int64, count=len(tids))
        return sizes

    def _postings(self, tids: np.ndarray, budget: int, per_token: int | None = None
                  ) -> list[np.ndarray]:
        """Slots of the records holding these tokens (best scored first), about `budget`;
        at most `per_token` of each token's (its shortest names)."""
        parts: list[np.ndarray] = []
        taken = 0
        off, slots = self._post_off, self._post_slots
        for tid in tids.tolist():
            if tid < self._base_words:
                a, b = int(off[tid]), int(off[tid + 1])
                if per_token is not None:
                    b = min(b, a + per_token)
                if b > a:
                    parts.append(slots[a:b])
                    taken += b - a
            extra = self._new_post.get(tid)
            if extra:
                parts.append(np.fromiter(extra, np.int32, count=len(extra)))
                taken += len(extra)
            if taken >= budget:
                break
        return parts

    def _candidates(self, matches: list[tuple[np.ndarray, np.ndarray]], *,
                    widen: bool, keep: int) -> np.ndarray:
        """Candidate slots: the postings of the most selective query token (of every
        token when `widen`)."""
        sized = []
        for tids, scores in matches:
            if tids.size:
                order = np.argsort(-scores, kind="stable")
                sized.append((int(self._posting_sizes(tids).sum()), tids[order]))
        if not sized:
            return _EMPTY_I32
        sized.sort(key=lambda item: item[0])
        # One word that matched: the records of a token tie but for their length (and the
        # WRatio of the whole name): the `keep` shortest of each token are enough.
        budget = CANDIDATE_BUDGET
        parts = self._postings(sized[0][1], budget, keep if len(sized) == 1 else None)
        budget -= sum(len(p) for p in parts)
        for _size, tids in sized[1:] if widen else ():
            if budget <= 0:
                break
            more = self._postings(tids, budget)
            budget -= sum(len(p) for p in more)
            parts += more
        if not parts:
            return _EMPTY_I32
        if len(parts) == 1 and parts[0].base is self._post_slots:
            cand = parts[0]  # one merged posting list: sorted, no repeats
        else:
            cand = _unique(np.concatenate(parts))
        return cand[self._alive[cand]]

    def _widened_bound(self, matches: list[tuple[np.ndarray, np.ndarray]]) -> float:
        """The best mean score a record could reach without any token of the most
        selective query word (the only records `_candidates(widen=True)` adds)."""
        sized = [(int(self._posting_sizes(tids).sum()), float(scores.max()))
                 for tids, scores in matches if tids.size]
        if len(sized) < 2:
            return 0.0
        sized.sort(key=lambda item: item[0])
        return sum(top for _size, top in sized[1:]) / len(matches)

    def _score(self, cand: np.ndarray, matches: list[tuple[np.ndarray, np.ndarray]]
               ) -> np.ndarray:
        """Per candidate, the mean over query tokens of its best matching token's score."""
        tok = self._tok[cand]
        total = np.zeros(len(cand), np.float32)
        for tids, scores in matches:
            if not tids.size:
                continue
            pos = np.searchsorted(tids, tok)
            np.minimum(pos, tids.size - 1, out=pos)
            best = np.where(tids[pos] == tok, scores[pos], np.float32(0))
            # Column by column: a reduction along a short axis is slow in numpy.
            row = best[:, 0]
            for col in range(1, TOKENS_PER_ROW):
                row = np.maximum(row, best[:, col])
            total += row
        if self._more:
            for i in np.flatnonzero(self._long[cand]).tolist():
                every = self._more[int(cand[i])]
                total[i] = sum(max((float(s) for t, s in zip(tids.tolist(), scores.tolist(),
                                                               strict=True) if t in every),
                                   default=0.0)
                               for tids, scores in matches)
        return total / len(matches)

    def search(self, query: str, *, kinds: tuple[int, ...] = (COMPANY, CONTACT),
               territory_ids: set[int] | None = None, user_id: int | None = None,
               limit: int = 5, company_id: int | None = None) -> list[Hit]:
        """Best matches for `query`, restricted to what the user may see.

        `territory_ids` None means every territory (admins); otherwise a record is visible
        when its company is in one of them or owned by `user_id`.
        """
        query = query[:MAX_QUERY_CHARS]
        with self._lock:
            if not len(self):
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
            matches = [self._token_matches(qt) for qt in qtokens]
            if not any(tids.size for tids, _ in matches):
                return []
            multi = len(qtokens) > 1
            keep = max(limit * 4, RERANK_MIN)
            cand = self._candidates(matches, widen=False, keep=keep)
            total = self._score(cand, matches) if cand.size else _EMPTY_F32
            best = float(total.max()) if total.size else 0.0
            if multi and best < WIDEN_BELOW and best < self._widened_bound(matches):
                # The selective token found nobody who fits the rest well, and a record
                # without that token could score more: look wider.
                cand = self._candidates(matches, widen=True, keep=keep)
                total = self._score(cand, matches) if cand.size else _EMPTY_F32
            # With several words, a record matching only one of them is not a candidate
            # (unless nothing matches more).
            good = total >= (60.0 if multi else 45.0)
            if multi and not good.any():
                good = total >= 45.0
            cand, total = cand[good], total[good]
            if cand.size == 0:
                return []
            visible = self._visible_mask(cand, kinds, territory_ids, user_id, company_id)
            cand, total = cand[visible], total[visible]
            if cand.size == 0:
                return []
            # The words of each name the query did not mention cost EXTRA_TOKEN each; the
            # best by that go on to the WRatio of the whole names.
            extra = np.maximum(self._ntok[cand].astype(np.int32) - len(qtokens)
                               - len(initials), 0)
            rough = TOKEN_WEIGHT * total - EXTRA_TOKEN * extra
            keep = min(cand.size, keep)
            if cand.size > keep:
                top = np.argpartition(-rough, keep - 1)[:keep]
                cand, rough = cand[top], rough[top]
            qtext = " ".join(qtokens)
            words = self._words
            hits: list[Hit] = []
            for slot, partial in zip(cand.tolist(), rough.tolist(), strict=True):
                tids = self._tids_of(slot)
                whole = fuzz.WRatio(qtext, " ".join(words[t] for t in tids))
                score = partial + (1 - TOKEN_WEIGHT) * whole
                for initial in initials:
                    if not any(words[t].startswith(initial) for t in tids):
                        score -= 10.0
                hits.append(Hit(int(self._kind[slot]), int(self._rid[slot]),
                                round(min(score, 100.0), 1), int(self._company[slot])))
            hits.sort(key=lambda h: (-h.score, h.kind, h.id))
            return hits[:limit]

    def _visible_mask(self, cand: np.ndarray, kinds: tuple[int, ...],
                      territory_ids: set[int] | None, user_id: int | None,
                      company_id: int | None) -> np.ndarray:
        mask = self._alive[cand].copy()
        if len(kinds) == 1:
            mask &= self._kind[cand] == kinds[0]
        companies = self._company[cand]
        if territory_ids is not None:
            terr_ids = (np.fromiter(territory_ids, np.int32) if territory_ids
                        else np.zeros(0, np.int32))
            territory, owner = self._scope.of(companies)
            visible = np.isin(territory, terr_ids)
            if user_id is not None:
                visible |= owner == user_id
            mask &= visible
        if company_id is not None:
            mask &= companies == company_id
        return mask

    def _phone_search(self, query: str, kinds: tuple[int, ...], territory_ids: set[int] | None,
                      user_id: int | None, limit: int, company_id: int | None) -> list[Hit]:
        key = phone_key(query)
        if key is None:
            return []
        number = int(key[-18:])
        tail = number % 10_000_000
        lo = int(np.searchsorted(self._tail_keys, tail, "left"))
        hi = int(np.searchsorted(self._tail_keys, tail, "right"))
        slots = set(self._tail_slots[lo:hi].tolist()) | set(self._new_tails.get(tail, ()))
        scored: dict[int, float] = {}
        for slot in slots:
            if not self._alive[slot]:
                continue
            numbers = self._phones_of(slot)
            if number in numbers:
                scored[slot] = 100.0
            elif any(n % 10_000_000 == tail for n in numbers):
                scored[slot] = 90.0
        if not scored:
            return []
        cand = np.fromiter(scored, np.int64, count=len(scored))
        cand = cand[self._visible_mask(cand, kinds, territory_ids, user_id, company_id)]
        hits = [Hit(int(self._kind[s]), int(self._rid[s]), scored[s], int(self._company[s]))
                for s in cand.tolist()]
        hits.sort(key=lambda h: (-h.score, h.kind, h.id))
        return hits[:limit]


def _unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique hashes first: slower on a few thousand ints)."""
    values = np.sort(values)
    if values.size < 2:
        return values
    keep = np.empty(values.size, bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


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
