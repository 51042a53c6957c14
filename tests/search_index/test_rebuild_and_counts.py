"""A rebuild through the bulk writer (search_index.bulk, a segment per SEGMENT_DOCS) answers
as the single writer does; a failed write leaves nothing behind on either path; any-word
results when no document has every word; exact totals."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from core.ports import IndexedDocument
from search_index import WhooshKnowledgeIndex, bulk
from search_index import whoosh_index as wi

QUERIES = ["price", "harga penjualan", "hotel meal", "café", "3.5", "price zzz", "the",
           "kontrak discount", "policy quote travel"]


def _corpus(n: int) -> list[IndexedDocument]:
    rng = random.Random(5)
    en = ["price", "discount", "approval", "customer", "contract", "travel", "hotel", "meal",
          "policy", "quote"]
    ind = ["harga", "diskon", "penjualan", "menjual", "pelanggan", "kontrak", "perjalanan",
           "kebijakan"]
    docs = []
    for i in range(1, n + 1):
        lang = "id" if i % 4 == 0 else "en"
        vocab = ind if lang == "id" else en
        body = " ".join(rng.choice([*vocab, "the", "and", "x", "3.5", "Café"])
                        for _ in range(rng.randint(0, 300)))  # > 128-posting blocks
        docs.append(IndexedDocument(
            id=i, version=rng.randint(1, 3), title=" ".join(rng.sample(vocab, 3)).title(),
            body=body, doc_type=rng.choice(["policy", "rule", "other"]),
            tags=tuple(rng.sample(["Pricing", "travel", "hr"], rng.randint(0, 2))),
            status=rng.choice(["published", "draft"]),
            owner_id=rng.choice([None, 1, 2]), language=lang))
    return docs


def _answers(ix: WhooshKnowledgeIndex) -> list[Any]:
    out: list[Any] = []
    for query in QUERIES:
        for kwargs in ({"include_drafts": True}, {"visible_owner_id": 2},
                       {"doc_types": ("rule",)}, {"tags": ("pricing",), "page": 2}):
            r = ix.search(query, page_size=7, **kwargs)  # type: ignore[arg-type]
            out.append((query, kwargs, r.total, r.total_exact, r.partial, r.suggestions,
                        # equal scores come in document-number order, which differs
                        sorted((-round(h.score, 9), h.id, h.snippet) for h in r.hits)))
    return out


def test_bulk_rebuild_answers_as_the_single_writer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wi, "BULK_MIN_DOCS", 100)
    monkeypatch.setattr(bulk, "SEGMENT_DOCS", 150)
    docs = _corpus(400)
    rebuilt = WhooshKnowledgeIndex(tmp_path / "rebuilt")
    assert rebuilt.upsert(docs) == 400  # empty index, >= BULK_MIN_DOCS: the bulk writer
    with rebuilt._ix.reader() as reader:
        assert [r.doc_count_all() for r, _ in reader.leaf_readers()] == [150, 150, 100]
    single = WhooshKnowledgeIndex(tmp_path / "single")
    assert single.upsert(docs[:50]) == 50  # fewer than BULK_MIN_DOCS: one writer
    assert single.upsert(docs[50:]) == 350  # not empty any more: one writer
    assert rebuilt.indexed_versions() == single.indexed_versions() == {
        d.id: d.version for d in docs}
    assert rebuilt._vocab == single._vocab
    answers = _answers(rebuilt)
    assert answers == _answers(single)
    assert any(a[2] > 0 for a in answers) and any(a[4] for a in answers)  # hits; partial
    # a later change goes through the single writer and replaces the document
    changed = docs[9]
    rebuilt.upsert([IndexedDocument(id=changed.id, version=changed.version + 1,
                                    title="Zebra memo", body="zebra", doc_type="other",
                                    status="published")])
    assert [h.id for h in rebuilt.search("zebra").hits] == [changed.id]
    assert rebuilt.indexed_versions()[changed.id] == changed.version + 1
    assert rebuilt._ix.doc_count() == 400


@pytest.mark.parametrize("bulk_min", [3, 1000])
def test_a_failing_document_leaves_nothing_behind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bulk_min: int) -> None:
    monkeypatch.setattr(wi, "BULK_MIN_DOCS", bulk_min)
    docs = _corpus(8)

    def stream() -> Any:
        yield from docs[:6]
        raise RuntimeError("database went away")

    ix = WhooshKnowledgeIndex(tmp_path / "ix")
    with pytest.raises(RuntimeError):
        ix.upsert(stream())
    assert ix.indexed_versions() == {}
    assert ix.search("price", include_drafts=True).total == 0
    assert ix.upsert(docs) == 8  # the index lock was given back
    assert sorted(ix.indexed_versions()) == list(range(1, 9))


def _doc(i: int, body: str, **kw: Any) -> IndexedDocument:
    return IndexedDocument(id=i, version=1, title=f"Note {i}", body=body, doc_type="other",
                           **kw)


def test_any_word_when_no_document_has_every_word(tmp_path: Path) -> None:
    ix = WhooshKnowledgeIndex(tmp_path / "ix")
    ix.upsert([_doc(1, "hotel hotel limits"), _doc(2, "meal allowance"),
               _doc(3, "hotel and meal", status="draft", owner_id=4)])
    both = ix.search("hotel meal")
    assert (both.total, both.partial, [h.id for h in both.hits]) == (2, True, [1, 2])
    assert ix.search("hotel meal", visible_owner_id=4).hits[0].id == 3  # has every word
    assert not ix.search("hotel meal", visible_owner_id=4).partial
    some = ix.search("hotel zzzz")  # a word the index does not know at all
    assert (some.total, some.partial, [h.id for h in some.hits]) == (1, True, [1])
    assert ix.search("zzzz").total == 0


def test_with_three_words_those_missing_one_come_before_those_with_one(
        tmp_path: Path) -> None:
    ix = WhooshKnowledgeIndex(tmp_path / "ix")
    ix.upsert([_doc(1, "hotel " * 30), _doc(2, "meal taxi and a long text " + "x " * 60),
               _doc(3, "taxi"), _doc(4, "hotel taxi and a long text " + "x " * 60),
               _doc(5, "unrelated")])
    assert ix.search("hotel").hits[0].id == 1  # its score alone beats the two-word ones
    result = ix.search("hotel meal taxi", page_size=2)
    assert (result.total, result.total_exact, result.partial) == (4, True, True)
    assert [h.id for h in result.hits] == [2, 4]  # two of three words
    assert [h.id for h in ix.search("hotel meal taxi", page=2, page_size=2).hits] == [1, 3]
    assert [h.id for h in ix.search("hotel meal taxi", page_size=10).hits] == [2, 4, 1, 3]


def test_totals_are_exact(tmp_path: Path) -> None:
    ix = WhooshKnowledgeIndex(tmp_path / "ix")
    ix.upsert([_doc(i, "price list" + " price" * (i % 5), status=(
        "draft" if i % 3 == 0 else "published")) for i in range(1, 301)])
    few = ix.search("price list", doc_types=("other",), page_size=50)
    assert (few.total, few.total_exact, len(few.hits)) == (200, True, 50)
    drafts = ix.search("price", include_drafts=True, page=6, page_size=5)
    assert (drafts.total, drafts.total_exact, len(drafts.hits)) == (300, True, 5)
    assert ix.search("price", visible_owner_id=None, doc_types=("rule",)).total == 0
    scores = [h.score for h in ix.search("price", page_size=50).hits]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1]
