"""Answering a query from the contact records (core.contact_records): each query token's
vocabulary matches (one-typo neighbours, completions of a partial word, a rapidfuzz
fallback), candidates from the postings of the most selective tokens, scoring, the user's
scope, and phone numbers by their last digits. See core.contact_index for the whole story."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from core.contact_records import (
    CANDIDATE_BUDGET,
    COMPANY,
    CONTACT,
    EDIT_MAX,
    EMPTY_F32,
    EMPTY_I32,
    EXTRA_TOKEN,
    FALLBACK_SCAN,
    MATCH_CACHE,
    ONE_EDIT_BONUS,
    PREFIX_MAX,
    PREFIX_SCAN,
    PREFIX_SPAN,
    PREFIX_TOP,
    RERANK_MIN,
    TOKEN_WEIGHT,
    TOKENS_PER_ROW,
    WIDEN_BELOW,
    ContactRecords,
    looks_like_phone,
    neighbourhood,
    normalise,
    phone_key,
    word_hash,
)

MAX_QUERY_CHARS = 120  # names and phone numbers are short; longer input is cut


@dataclass(frozen=True, slots=True)
class Hit:
    """One index match: the record kind (COMPANY/CONTACT), its id and a 0-100 score."""

    kind: int
    id: int
    score: float
    company_id: int


class ContactSearch(ContactRecords):
    """The contact records with their lookups."""

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
            result = (EMPTY_I32, EMPTY_F32)
        if len(self._match_cache) >= MATCH_CACHE:
            self._match_cache.clear()
        self._match_cache[qt] = result
        return result

    def _neighbours(self, qt: str) -> set[int]:
        """Token numbers one edit (or none) away from `qt` (and a few hash look-alikes)."""
        keys = neighbourhood(qt)
        hashes = np.fromiter((word_hash(k) for k in keys), np.uint32, count=len(keys))
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
            return EMPTY_I32
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
            return EMPTY_I32
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
            total = self._score(cand, matches) if cand.size else EMPTY_F32
            best = float(total.max()) if total.size else 0.0
            if multi and best < WIDEN_BELOW and best < self._widened_bound(matches):
                # The selective token found nobody who fits the rest well, and a record
                # without that token could score more: look wider.
                cand = self._candidates(matches, widen=True, keep=keep)
                total = self._score(cand, matches) if cand.size else EMPTY_F32
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
