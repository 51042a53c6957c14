"""The bulk build writes the segment Whoosh's own writer writes: same terms, postings,
weights, field lengths, stored fields and block statistics; its fast analysis gives the
analysers' terms exactly."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from whoosh.lang.porter import stem as porter_stem

from core.ports import IndexedDocument
from search_index import WhooshKnowledgeIndex
from search_index.analysis import (
    english_analyzer,
    indonesian_analyzer,
    stem_id,
    term_counter,
)
from search_index.whoosh_index import _fields

TRICKY = [
    "Prices, PRICES and priced: e.g. 3.5% off; v2.0.1 *wild* card_names and x",
    "Penjualan MENJUAL dijual—penjualannya; harga-harga Rp1.500.000,00 di ke yang",
    "Ünïcödé naïve café İstanbul straße ǅemal ΣΊΣΥΦΟΣ 東京 ١٢٣ a.b.c. ..dots.. end.",
    "", "   ", "a I x", "don't won't it's co-op e-mail  tab\there\nnewline",
]


def _words(rng: random.Random) -> str:
    alphabet = "abcdeiklmnoprstuyzAEIÉ_*.-'09 "
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120)))


@pytest.mark.parametrize(("analyzer", "stem"), [(english_analyzer, porter_stem),
                                                (indonesian_analyzer, stem_id)])
def test_term_counter_gives_the_analysers_terms(analyzer: Any, stem: Any) -> None:
    ana, count = analyzer(), term_counter(stem)
    rng = random.Random(3)
    for text in TRICKY + [_words(rng) for _ in range(400)]:
        assert count(text) == dict(Counter(t.text for t in ana(text))), text


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


def _dump(ix: WhooshKnowledgeIndex) -> dict[str, Any]:
    with ix._ix.reader() as reader:
        postings: dict[tuple[str, bytes], Any] = {}
        for field, tbytes in reader.all_terms():
            info = reader.term_info(field, tbytes)
            matcher = reader.postings(field, tbytes)
            items = []
            while matcher.is_active():
                items.append((matcher.id(), matcher.weight(), matcher.value()))
                matcher.next()
            postings[(field, tbytes)] = (
                items, info.weight(), info.doc_frequency(), info.min_length(),
                info.max_length(), info.max_weight(), info.min_id(), info.max_id())
        lengths = {(d, f): reader.doc_field_length(d, f) for d in reader.all_doc_ids()
                   for f in ("title_en", "title_id", "body_en", "body_id", "tags")}
        totals = {f: reader.field_length(f) for f in ("title_en", "body_en", "body_id")}
        stored = list(reader.all_stored_fields())
        return {"postings": postings, "lengths": lengths, "totals": totals,
                "stored": stored, "count": reader.doc_count_all()}


def test_bulk_build_equals_whooshs_writer(tmp_path: Path) -> None:
    docs = _corpus(300)
    bulk = WhooshKnowledgeIndex(tmp_path / "bulk")
    assert bulk.upsert(docs) == 300  # empty index: the bulk writer
    plain = WhooshKnowledgeIndex(tmp_path / "plain")
    writer = plain._ix.writer()  # Whoosh's own writer, one segment
    for d in docs:
        writer.add_document(**_fields(d))
    writer.commit()
    assert _dump(bulk) == _dump(plain)
    assert bulk.indexed_versions() == plain.indexed_versions() == {
        d.id: d.version for d in docs}
    incremental = WhooshKnowledgeIndex(tmp_path / "incremental")
    incremental.upsert(docs[:1])  # later upserts go through Whoosh's writer
    incremental.upsert(docs[1:])
    assert bulk._vocab == incremental._vocab
    for query in ("price", "harga penjualan", "hotel meal", "café", "3.5"):
        b, p = bulk.search(query, include_drafts=True), plain.search(query, include_drafts=True)
        assert (b.total, [(h.id, h.score, h.snippet) for h in b.hits]) == (
            p.total, [(h.id, h.score, h.snippet) for h in p.hits])


def test_a_failing_document_leaves_nothing_behind(tmp_path: Path) -> None:
    docs = _corpus(5)

    def stream() -> Any:
        yield from docs[:3]
        raise RuntimeError("database went away")

    ix = WhooshKnowledgeIndex(tmp_path / "ix")
    with pytest.raises(RuntimeError):
        ix.upsert(stream())
    assert ix.indexed_versions() == {}
    assert ix.search("price", include_drafts=True).total == 0
    assert ix.upsert(docs) == 5
    assert sorted(ix.indexed_versions()) == [1, 2, 3, 4, 5]
