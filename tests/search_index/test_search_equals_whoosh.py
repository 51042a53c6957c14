"""The index's own matching and scoring (set operations on posting lists, BM25F) give what
Whoosh's searcher gives for the same query: the same documents, the same scores, best
first; on a many-segment index with replaced and deleted documents too."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
from whoosh.query import And, Or, Query, Term

from search_index import WhooshKnowledgeIndex
from search_index.analysis import STOP_WORDS
from search_index.whoosh_index import FIELD_BOOSTS, SEARCH_FIELDS, _analysed_cached
from tests.search_index.test_bulk_build import _corpus

WORDS = ["price", "discount", "hotel", "meal", "policy", "quote", "harga", "penjualan",
         "jual", "kontrak", "café", "travel", "customer", "zzz", "the"]


def _whoosh(ix: WhooshKnowledgeIndex, words: list[str], *, every: bool, owner: int | None,
            doc_type: str | None) -> dict[int, float]:
    searcher = ix.searcher()
    reader = searcher.reader()
    per_word: list[Query] = []
    for word in words:
        alts: list[Query] = [Term(f, t, boost=FIELD_BOOSTS.get(f, 1.0)) for f in SEARCH_FIELDS
                             for t in _analysed_cached(f, word) if (f, t) in reader]
        if alts:
            per_word.append(Or(alts))
        elif every and word not in STOP_WORDS:
            return {}  # a word found nowhere: no document has every word
    query: Query = And(per_word) if every else Or(per_word)
    visible: Query = Or([Term("status", "published"),
                         And([Term("status", "draft"), Term("owner", str(owner))])])
    if doc_type:
        visible = And([visible, Term("doc_type", doc_type)])
    allow = set(searcher.docs_for_query(visible))
    return {int(searcher.stored_fields(hit.docnum)["id"]): hit.score
            for hit in searcher.search(query, limit=None, filter=allow)}


def _ours(ix: WhooshKnowledgeIndex, text: str, owner: int | None, doc_type: str | None
          ) -> tuple[dict[int, float], bool, list[float]]:
    got: dict[int, float] = {}
    order: list[float] = []
    page, partial = 1, False
    while True:
        result = ix.search(text, visible_owner_id=owner, page=page, page_size=50,
                           doc_types=(doc_type,) if doc_type else ())
        partial = result.partial
        got.update((h.id, h.score) for h in result.hits)
        order.extend(h.score for h in result.hits)
        if page * 50 >= result.total:
            assert len(got) == result.total
            return got, partial, order
        page += 1


@pytest.mark.parametrize("segments", [1, 6])
def test_matching_and_scores_equal_whooshs(tmp_path: Path, segments: int) -> None:
    docs = _corpus(400)
    ix = WhooshKnowledgeIndex(tmp_path / "ix")
    chunk = len(docs) // segments
    for start in range(0, len(docs), chunk):
        ix.upsert(docs[start:start + chunk])
    if segments > 1:  # replaced and deleted documents leave deletions in old segments
        rng = random.Random(1)
        ix.upsert(rng.sample(docs, 30))
        ix.delete([d.id for d in rng.sample(docs, 20)])
        assert not ix.searcher().reader().is_atomic()
    rng = random.Random(7)
    seen: Counter[str] = Counter()
    for _ in range(60):
        words = rng.sample(WORDS, rng.randint(1, 3))
        owner = rng.choice([None, 1, 2])
        doc_type = rng.choice([None, None, "rule"])
        got, partial, order = _ours(ix, " ".join(words), owner, doc_type)
        expected = _whoosh(ix, words, every=True, owner=owner, doc_type=doc_type)
        if not expected and len(words) > 1:
            expected = _whoosh(ix, words, every=False, owner=owner, doc_type=doc_type)
            assert partial == bool(expected)
        else:
            assert not partial
        seen["partial" if partial else "every" if got else "none"] += 1
        assert got.keys() == expected.keys(), words
        for doc_id, score in expected.items():
            assert got[doc_id] == pytest.approx(score, rel=1e-9), (words, doc_id)
        assert order == sorted(order, reverse=True)
    assert min(seen["partial"], seen["every"], seen["none"]) > 0, seen
