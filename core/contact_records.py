"""The records of the contact lookup index (core.contact_index): companies and contacts as
numpy columns, their names' tokens as numbers (the vocabulary), the postings (token ->
records), the deletion-neighbourhood index of the words and the phone tails; incremental
updates go to small side tables merged into the arrays in one pass now and then.

Memory: records, tokens, postings and the neighbourhood index are numpy arrays (about
110 MB at a million contacts); the vocabulary words are the only per-item Python objects.
"""

from __future__ import annotations

import bisect
import re
import threading
import unicodedata
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import phonenumbers

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
MATCH_CACHE = 4096
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


def word_hash(text: str) -> int:
    """32 bits of the string's hash (this process only: the index is never stored)."""
    return hash(text) & 0xFFFFFFFF


def neighbourhood(word: str) -> set[str]:
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


EMPTY_I32 = np.zeros(0, np.int32)
EMPTY_F32 = np.zeros(0, np.float32)


class ContactRecords:
    """The companies and contacts of one database, their words and postings (no searching,
    no database: core.contact_search answers queries, core.contact_index keeps it in step)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._init_state()

    def _init_state(self) -> None:
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
        self._nb_tids = EMPTY_I32
        self._sorted_words: list[str] = []  # live words in order (prefix search)
        self._sorted_tids = EMPTY_I32
        self._post_off = np.zeros(1, np.int64)  # postings of word t: slots[off[t]:off[t+1]]
        self._post_slots = EMPTY_I32
        self._tail_keys = np.zeros(0, np.int64)  # phone tails, sorted, and their slots
        self._tail_slots = EMPTY_I32
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
            for key in neighbourhood(word):
                self._new_nb.setdefault(word_hash(key), []).append(tid)
            bisect.insort(self._new_sorted, (word, tid))
            self._pending += 1
        return tid

    def _lookup_word(self, word: str) -> int:
        tid = self._new_words.get(word)
        if tid is not None:
            return tid
        h = np.uint32(word_hash(word))
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
            self._nb_keys, self._nb_tids = np.zeros(0, np.uint32), EMPTY_I32
            self._sorted_words, self._sorted_tids = [], EMPTY_I32
            self._base_words = 0
        # The neighbourhood index: the merged entries of live words, and the new words'.
        keep = live[self._nb_tids] if self._nb_tids.size else np.zeros(0, bool)
        keys = array("I")
        owners = array("i")
        for tid in range(self._base_words, n_words):
            if live[tid]:
                for key in neighbourhood(self._words[tid]):
                    keys.append(word_hash(key))
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
        all_tail_slots = np.concatenate(tail_slots) if tail_slots else EMPTY_I32
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
