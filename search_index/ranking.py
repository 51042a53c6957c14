"""Matching and ranking on one snapshot: Whoosh's BM25F over numpy arrays of its postings.

The scores are Whoosh's own (`whoosh.scoring.BM25F` with its defaults, B=0.75, K1=1.2, the
field boosts of the query terms; a field that is not scorable, like the tags, scores its
term weight): idf and average field lengths come from the snapshot's reader as Whoosh's
searcher takes them, field lengths from Whoosh's length bytes. What changes is the
evaluation: instead of a tree of pure-Python matchers stepping through one posting at a
time (an Or of up to five field terms per query word, intersected), each query word is
scored over whole posting arrays (a `bincount` per word), and "every word" is a count.
Totals are exact; ties come in document-number order, as Whoosh's collector gives them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from math import log
from typing import Any

import numpy as np
from numpy.typing import NDArray

from search_index.arrays import ArrayStore, Floats, Ids, Mask, SnapshotArrays
from search_index.snapshots import Snapshot

K1 = 1.2  # whoosh.scoring.BM25F's defaults
B = 0.75
ALLOWED_KEPT = 16  # visibility masks per snapshot (one per user / filter combination)
TERM_MASKS_KEPT = 64  # documents of a status / owner / type / tag, per snapshot

Scores = NDArray[np.float64]


@dataclass(frozen=True)
class Alternative:
    """A query word as one term of one field, with the field's boost."""

    field: str
    text: str
    boost: float = 1.0


@dataclass(frozen=True)
class Ranked:
    top: list[tuple[int, float]]  # (document number, score), best first
    total: int
    partial: bool = False


class SnapshotRanker:
    """Scores queries on one snapshot; keeps its visibility masks and term statistics."""

    def __init__(self, store: ArrayStore, snapshot: Snapshot, scorable: dict[str, bool]
                 ) -> None:
        self.snapshot = snapshot
        self.reader = snapshot.reader
        self.arrays = SnapshotArrays(store, snapshot.reader, snapshot.segments)
        self.size = self.arrays.size
        self._scorable = scorable
        self._idf: dict[tuple[str, str], float] = {}
        self._avg: dict[str, float] = {}
        self._allowed: dict[tuple[Any, ...], Mask] = {}
        self._terms: dict[tuple[str, tuple[str, ...]], Mask] = {}
        self._lock = threading.Lock()

    # -- what a search may return --------------------------------------------------------------
    def allowed(self, doc_types: tuple[str, ...], tags: tuple[str, ...],
                owner_id: int | None, include_drafts: bool) -> Mask:
        """The documents a search may return: published (and the drafts this user may see),
        of one of `doc_types`, with one of `tags`; never a deleted one."""
        key = (doc_types, tags, owner_id, include_drafts)
        found = self._allowed.get(key)
        if found is not None:
            return found
        if doc_types or tags:
            found = self.allowed((), (), owner_id, include_drafts).copy()
            if doc_types:
                found &= self._term_docs("doc_type", doc_types)
            if tags:
                found &= self._term_docs("tags", tags)
        else:
            found = self._term_docs("status", ("published",)).copy()
            if include_drafts:
                found |= self._term_docs("status", ("draft",))
            elif owner_id is not None:
                found |= (self._term_docs("status", ("draft",))
                          & self._term_docs("owner", (str(owner_id),)))
        self._keep(self._allowed, key, found, ALLOWED_KEPT)
        return found

    def _term_docs(self, field: str, values: tuple[str, ...]) -> Mask:
        key = (field, values)
        found = self._terms.get(key)
        if found is None:
            found = self.arrays.term_docs(field, values[0])
            for value in values[1:]:
                found = found | self.arrays.term_docs(field, value)
            self._keep(self._terms, key, found, TERM_MASKS_KEPT)
        return found

    def _keep(self, cache: dict[Any, Any], key: Any, value: Any, most: int) -> None:
        with self._lock:
            while len(cache) >= most:
                cache.pop(next(iter(cache)))
            cache[key] = value

    # -- scoring -------------------------------------------------------------------------------
    def idf(self, field: str, text: str, postings: list[tuple[Ids, Floats, int]]) -> float:
        """Whoosh's idf: log(documents / (documents with the term + 1)) + 1, over every
        document of the snapshot, deleted or not, as its searcher counts (the postings of
        every segment, deleted documents included)."""
        key = (field, text)
        found = self._idf.get(key)
        if found is None:
            n = sum(len(ids) for ids, _, _ in postings)
            found = self._idf[key] = log(self.size / (n + 1)) + 1
        return found

    def avg_length(self, field: str) -> float:
        found = self._avg.get(field)
        if found is None:
            found = self._avg[field] = (self.reader.field_length(field) / (self.size or 1)
                                        or 1.0)
        return found

    def word_scores(self, alternatives: Sequence[Alternative]) -> Scores | None:
        """A query word's BM25F score in every document (0 where it does not occur), the
        sum over its field terms; None when no document has any of them."""
        where: list[NDArray[np.int64]] = []
        scores: list[NDArray[np.float64]] = []
        for alt in alternatives:
            postings = self.arrays.postings(alt.field, alt.text)
            if not postings:
                continue
            if self._scorable.get(alt.field, False):
                idf = self.idf(alt.field, alt.text, postings) * alt.boost
                norm = K1 * B / self.avg_length(alt.field)
                lengths = self.arrays.field_lengths(alt.field)
            for ids, weights, offset in postings:
                docs = ids.astype(np.int64) + offset
                tf = weights.astype(np.float64)
                if self._scorable.get(alt.field, False):
                    score = idf * (tf * (K1 + 1)) / (tf + K1 * (1 - B) + norm * lengths[docs])
                else:
                    score = tf * alt.boost  # Whoosh's WeightScorer: the weight itself
                where.append(docs)
                scores.append(score)
        if not where:
            return None
        summed = np.bincount(np.concatenate(where), weights=np.concatenate(scores),
                             minlength=self.size)
        return summed.astype(np.float64, copy=False)

    def rank(self, per_word: Sequence[Sequence[Alternative]], allowed: Mask, limit: int, *,
             fallback: bool) -> Ranked:
        """Every word must match, best first; when no document has every word (and
        `fallback`), those with all words but one first (three or more words), then those
        with any word (`partial`)."""
        word_scores = [self.word_scores(alts) for alts in per_word]
        found = [s for s in word_scores if s is not None]
        if not found:
            return Ranked([], 0)
        total_score = found[0] if len(found) == 1 else np.sum(found, axis=0)
        if len(found) == len(word_scores):
            every = allowed.copy()
            for scores in found:
                every &= scores > 0
            top = best(every, total_score, limit)
            if top or not fallback:
                return Ranked(top, int(np.count_nonzero(every)))
        if not fallback:
            return Ranked([], 0)
        count = np.zeros(self.size, dtype=np.int16)
        for scores in found:
            count += scores > 0
        anyword = allowed & (count > 0)
        top = []
        if len(found) >= 3:
            most = anyword & (count >= len(found) - 1)
            top = best(most, total_score, limit)
            anyword &= ~most
        if len(top) < limit:
            top += best(anyword, total_score, limit - len(top))
        total = int(np.count_nonzero(allowed & (count > 0)))
        return Ranked(top, total, partial=bool(top))


def best(mask: Mask, scores: Scores, limit: int) -> list[tuple[int, float]]:
    """The `limit` best documents of `mask` by score, ties in document-number order."""
    docs = np.flatnonzero(mask)
    if limit <= 0 or not len(docs):
        return []
    values = scores[docs]
    if len(docs) > limit:
        kth = np.partition(values, len(values) - limit)[len(values) - limit]
        above = docs[values > kth]
        docs = np.concatenate([above, docs[values == kth][:limit - len(above)]])
        values = scores[docs]
    order = np.lexsort((docs, -values))
    return [(int(d), float(s)) for d, s in zip(docs[order], values[order], strict=True)]


def first_documents(mask: Mask, limit: int) -> list[tuple[int, float]]:
    """The first `limit` documents of `mask`, in document-number order (filters only)."""
    return [(int(d), 1.0) for d in np.flatnonzero(mask)[:limit]]
