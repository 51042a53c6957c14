"""The rebuild's writer (search_index.bulk) writes the segment Whoosh's own writer writes:
the same terms, the same posting blocks byte for byte (ids, weights, frequencies, block
statistics), the same term statistics, stored fields and field lengths."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from whoosh import index as whoosh_index

from core.ports import IndexedDocument
from search_index import bulk
from search_index.whoosh_index import _fields, build_schema

WORDS = {
    "en": ["price", "prices", "Pricing", "discount", "approval", "customer", "contract",
           "travel", "hotel", "meal", "the", "and", "x", "3.5", "Café", "İstanbul", "a.b.c",
           "x1", "2026", "under_score", "naïve"],
    "id": ["harga", "diskon", "penjualan", "menjual", "dijual", "pengiriman", "mengirim",
           "kirim", "penawaran", "kebijakan", "pembayaran", "yang", "dan", "di", "İzmir",
           "v2", "Rp"],
}


def _corpus(n: int, seed: int = 3) -> list[IndexedDocument]:
    rng = random.Random(seed)
    docs = []
    for i in range(1, n + 1):
        lang = "id" if i % 3 == 0 else "en"
        vocab = WORDS[lang]
        size = rng.choice([0, 1, 3, 40, 400])  # empty, tiny, > 128 postings of a word
        body = " ".join(rng.choice(vocab) for _ in range(size))
        if i % 17 == 0:
            body = "the and yang di"  # only stop words: a field length of 0
        title = " ".join(rng.sample(vocab, rng.randint(0, 4))).title()
        docs.append(IndexedDocument(
            id=i, version=rng.randint(1, 3), title=title, body=body,
            doc_type=rng.choice(["policy", "rule", "other"]),
            tags=tuple(rng.sample(["Pricing", "travel", "hr", "Café"], rng.randint(0, 3))),
            status=rng.choice(["published", "draft"]),
            owner_id=rng.choice([None, 1, 2]), language=lang))
    return docs


def _segment_contents(path: Path) -> dict[str, Any]:
    """Everything a search can read of a one-segment index, postings as raw bytes."""
    ix = whoosh_index.open_dir(str(path))
    with ix.reader() as reader:
        assert reader.is_atomic()
        terms_reader = reader._terms
        postfile = terms_reader._postfile
        postings = {}
        for field, btext in reader.all_terms():
            info = terms_reader.term_info(field, btext)
            offset, length = info.extent()
            if isinstance(length, tuple):  # whoosh3 3.54 decodes it as a 1-tuple
                length = length[0]
            matcher, items = reader.postings(field, btext), []
            while matcher.is_active():
                items.append((matcher.id(), matcher.weight(), matcher.value()))
                matcher.next()
            raw_info = terms_reader._tindex[terms_reader._keycoder(field, btext)]
            postings[(field, btext)] = (raw_info, postfile.get(offset, length), items)
        names = build_schema().names()
        docs = [(reader.stored_fields(n),
                 [reader.doc_field_length(n, name) for name in names])
                for n in range(reader.doc_count_all())]
        totals = {name: (reader.field_length(name), reader.min_field_length(name),
                         reader.max_field_length(name))
                  for name, field in build_schema().items() if field.scorable}
        fields = sorted(reader.indexed_field_names())
    ix.close()
    return {"postings": postings, "docs": docs, "totals": totals, "fields": fields}


def _create(path: Path) -> Any:
    path.mkdir()
    return whoosh_index.create_in(str(path), build_schema())


def _write(path: Path, docs: list[IndexedDocument], writer: Any) -> None:
    for doc in docs:
        writer.add_document(**_fields(doc))
    writer.commit(merge=False)


def test_the_bulk_writer_writes_what_whoosh_writes(tmp_path: Path) -> None:
    docs = _corpus(800)
    ordinary = _create(tmp_path / "ordinary")
    _write(tmp_path / "ordinary", docs, ordinary.writer())
    fast = _create(tmp_path / "bulk")
    _write(tmp_path / "bulk", docs, bulk.BulkWriter(fast))
    expected = _segment_contents(tmp_path / "ordinary")
    got = _segment_contents(tmp_path / "bulk")
    assert len(expected["postings"]) > 100
    assert any(len(p[2]) > 256 for p in expected["postings"].values())  # 3+ blocks
    assert {"body_en", "title_id", "tags", "id", "owner"} <= set(expected["fields"])
    assert got["fields"] == expected["fields"]
    assert got["totals"] == expected["totals"]
    assert got["docs"] == expected["docs"]
    assert sorted(got["postings"]) == sorted(expected["postings"])
    for key, value in expected["postings"].items():
        assert got["postings"][key] == value, key


def test_a_segment_per_segment_docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "SEGMENT_DOCS", 40)
    docs = _corpus(100)
    ix = _create(tmp_path / "ix")
    writer = bulk.BulkWriter(ix)
    for doc in docs[:80]:
        writer.add_document(**_fields(doc))
    assert ix.doc_count_all() == 0  # nothing published before the commit
    for doc in docs[80:]:
        writer.add_document(**_fields(doc))
    writer.commit()
    with ix.reader() as reader:
        assert [r.doc_count_all() for r, _ in reader.leaf_readers()] == [40, 40, 20]
        assert [reader.stored_fields(n)["id"] for n in range(100)] == [
            str(d.id) for d in docs]
        assert reader.doc_frequency("body_id", "kirim") == sum(
            1 for d in docs if d.language == "id"
            and {"pengiriman", "mengirim", "kirim"} & set(d.body.lower().split()))
