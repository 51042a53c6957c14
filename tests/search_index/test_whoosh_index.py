"""The Whoosh knowledge index: ranking, filters, snippets, suggestions, both languages,
draft visibility, paging, sync by revision, rebuild equals incremental, readers not blocked."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from core import document_checkout as checkout
from core import knowledge as kb
from core import users as user_service
from core.clock import ManualClock
from core.db import Database
from core.knowledge_search import KnowledgeSearch, rebuild_index, sync_index
from core.models import User
from core.models.knowledge import Document
from core.ports import IndexedDocument
from search_index import WhooshKnowledgeIndex
from search_index.analysis import stem_id


def doc(i: int, title: str, body: str, doc_type: str = "policy", **kw: object
        ) -> IndexedDocument:
    return IndexedDocument(id=i, version=int(kw.pop("version", 1)), title=title,  # type: ignore[call-overload]
                           body=body, doc_type=doc_type, **kw)  # type: ignore[arg-type]


@pytest.fixture
def index(tmp_path: Path) -> WhooshKnowledgeIndex:
    ix = WhooshKnowledgeIndex(tmp_path / "ix")
    ix.upsert([
        doc(1, "Travel policy", "Hotel limits and meal allowances for trips.", tags=("travel",)),
        doc(2, "Expense form", "Claim forms. Follow the travel policy for hotel nights.",
            "expense_form", tags=("expense", "travel")),
        doc(3, "Kebijakan perjalanan dinas", "Batas hotel dan uang makan untuk penjualan "
            "di luar kota. Menjual dengan diskon perlu persetujuan.", language="id",
            tags=("perjalanan",)),
        doc(4, "Q3 pricing (draft)", "Raise compressor prices.", "rule", status="draft",
            owner_id=7),
        doc(5, "Discount rules", "Discounts above five percent need approval by the manager.",
            "rule", tags=("pricing",)),
    ])
    return ix


def test_title_match_beats_body_match(index: WhooshKnowledgeIndex) -> None:
    result = index.search("travel policy")
    assert [h.id for h in result.hits][:2] == [1, 2]
    assert result.hits[0].score > result.hits[1].score
    assert index.search("expense").hits[0].id == 2


def test_english_stemming(index: WhooshKnowledgeIndex) -> None:
    assert [h.id for h in index.search("discounted approvals").hits] == [5]
    assert {h.id for h in index.search("trip").hits} == {1}


def test_indonesian_words_are_not_english_stemmed(index: WhooshKnowledgeIndex) -> None:
    # "penjualan", "menjual" and "jual" meet on the Indonesian stem "jual"
    assert stem_id("penjualan") == stem_id("menjual") == "jual"
    assert [h.id for h in index.search("jual").hits] == [3]
    assert [h.id for h in index.search("penjualan").hits] == [3]
    assert [h.id for h in index.search("perjalanan dinas").hits] == [3]
    # Indonesian stop words alone find nothing; in a query they are ignored
    assert index.search("yang dan di").total == 0
    assert [h.id for h in index.search("batas hotel yang").hits] == [3]


def test_filters_by_type_and_tag(index: WhooshKnowledgeIndex) -> None:
    assert {h.id for h in index.search("hotel", doc_types=["expense_form"]).hits} == {2}
    assert {h.id for h in index.search("hotel", tags=["Travel"]).hits} == {1, 2}
    assert index.search("hotel", tags=["pricing"]).total == 0
    # filters alone list every visible document of that type / tag
    assert {h.id for h in index.search("", doc_types=["rule"]).hits} == {5}
    assert {h.id for h in index.search("", tags=["travel"]).hits} == {1, 2}
    assert index.search("").total == 0


def test_drafts_only_for_owner_and_admins(index: WhooshKnowledgeIndex) -> None:
    assert index.search("compressor").total == 0
    assert index.search("compressor", visible_owner_id=8).total == 0
    assert [h.id for h in index.search("compressor", visible_owner_id=7).hits] == [4]
    assert [h.id for h in index.search("compressor", include_drafts=True).hits] == [4]


def test_snippets_are_highlighted(index: WhooshKnowledgeIndex) -> None:
    hit = index.search("allowances").hits[0]
    assert "*allowances*" in hit.snippet
    hit = index.search("kebijakan").hits[0]  # a title-only match: the lead of the text
    assert hit.snippet.startswith("Batas hotel")


def test_spelling_suggestions_when_little_is_found(index: WhooshKnowledgeIndex) -> None:
    result = index.search("hotle policy")
    assert result.suggestions == ["hotel policy"]
    assert index.search("persetujuon").suggestions == ["persetujuan"]
    assert index.search("hotel").suggestions == []


def test_paging(tmp_path: Path) -> None:
    ix = WhooshKnowledgeIndex(tmp_path / "paging")
    ix.upsert(doc(i, f"Report {i}", f"quarterly revenue report number {i}", "sales_report")
              for i in range(1, 13))
    first, second, third = (ix.search("revenue", page=p, page_size=5) for p in (1, 2, 3))
    assert first.total == 12 and len(first.hits) == 5 and len(third.hits) == 2
    ids = [h.id for h in first.hits + second.hits + third.hits]
    assert sorted(ids) == list(range(1, 13))
    assert ix.search("revenue", page=4, page_size=5).hits == []


def test_upsert_replaces_and_delete_removes(index: WhooshKnowledgeIndex) -> None:
    index.upsert([doc(5, "Discount rules", "Rebates need the director.", "rule", version=2)])
    assert index.search("approval").total == 0
    assert [h.id for h in index.search("rebates").hits] == [5]
    assert index.indexed_versions()[5] == 2
    index.delete([1])
    assert 1 not in index.indexed_versions()
    assert {h.id for h in index.search("travel").hits} == {2}


def test_index_reopens_from_disk(tmp_path: Path) -> None:
    ix = WhooshKnowledgeIndex(tmp_path / "disk")
    ix.upsert([doc(1, "Phone list", "Service desk numbers", "phone_list", version=3)])
    ix.close()
    again = WhooshKnowledgeIndex(tmp_path / "disk")
    assert again.indexed_versions() == {1: 3}
    assert again.search("service desk").total == 1


def test_readers_are_not_blocked_by_a_writer(index: WhooshKnowledgeIndex) -> None:
    """A writer holding the write lock does not stop searches on the current snapshot."""
    writer = index._ix.writer()  # another writer, mid-commit
    try:
        done = threading.Event()
        found: list[int] = []

        def read() -> None:
            found.append(index.search("hotel").total)
            done.set()

        threading.Thread(target=read).start()
        assert done.wait(5), "a search waited for the writer"
        assert found == [3]
    finally:
        writer.cancel()


# -- with the database: sync by revision, rebuild equals incremental -------------------------
@pytest.fixture
def owner(database: Database, clock: ManualClock) -> int:
    with database.session() as s:
        return user_service.add_user(s, login="admin", name="Admin", role="admin",
                                     now=clock.now()).id


def _snapshot(ix: WhooshKnowledgeIndex, queries: list[str]) -> list[object]:
    out: list[object] = [sorted(ix.indexed_versions().items())]
    for q in queries:
        r = ix.search(q, include_drafts=True, page_size=50)
        out.append((q, r.total, sorted((h.id, h.title, h.snippet) for h in r.hits)))
    return out


def test_sync_reindexes_only_changed_documents_and_rebuild_equals_incremental(
    database: Database, clock: ManualClock, owner: int, tmp_path: Path
) -> None:
    with database.session() as s:
        admin = s.get(User, owner)
        for i in range(8):
            kb.add_document(s, title=f"Policy {i}", text=f"Hotel limit rule {i} for travel.",
                            owner=admin, now=clock.now(), doc_type="policy")
    incremental = WhooshKnowledgeIndex(tmp_path / "inc")
    with database.session() as s:
        assert sync_index(s, incremental).upserted == 8
        assert sync_index(s, incremental).upserted == 0  # nothing changed

    clock.advance(hours=1)
    with database.session() as s:
        admin = s.get(User, owner)
        assert admin is not None
        first = s.scalars(select(Document).order_by(Document.id)).first()
        assert first is not None
        checkout.check_out(s, admin, first.id, now=clock.now())
        checkout.check_in(s, admin, first.id, now=clock.now(), note="new",
                    text="Per diem for Bali trips only.")
        kb.set_status(s, admin, first.id + 1, "archived", clock.now())
        kb.set_status(s, admin, first.id + 2, "draft", clock.now())
    with database.session() as s:
        report = sync_index(s, incremental)
    # the checked-in one, the one back to draft; the archived one is dropped
    assert (report.upserted, report.deleted) == (2, 1)
    assert incremental.search("bali").total == 1
    assert incremental.search("limit").total == 5  # 8 - changed - archived - draft

    rebuilt = WhooshKnowledgeIndex(tmp_path / "rebuilt")
    progress: list[int] = []
    with database.session() as s:
        assert rebuild_index(s, rebuilt, batch=3, progress=progress.append) == 7
    assert sum(progress) == 7
    queries = ["hotel", "limit travel", "bali", "policy 3", "per diem"]
    assert _snapshot(rebuilt, queries) == _snapshot(incremental, queries)


def test_search_syncs_a_changed_document_on_the_next_query(
    database: Database, clock: ManualClock, owner: int, tmp_path: Path
) -> None:
    ix = KnowledgeSearch(WhooshKnowledgeIndex(tmp_path / "live"))
    with database.session() as s:
        admin = s.get(User, owner)
        assert admin is not None
        d = kb.add_document(s, title="Price list", text="Compressor 10 units.", owner=admin,
                            now=clock.now(), doc_type="rule")
        doc_id = d.id
    with database.session() as s:
        admin = s.get(User, owner)
        assert admin is not None
        assert ix.search(s, admin, "compressor").total == 1
        checkout.check_out(s, admin, doc_id, now=clock.now())
        clock.advance(timedelta(minutes=5))
        checkout.check_in(s, admin, doc_id, now=clock.now(), note="gen", text="Generator 5 units.")
        # same transaction, next query: the index follows the table
        assert ix.search(s, admin, "generator").total == 1
        assert ix.search(s, admin, "compressor").total == 0


def test_versions_are_kept_beside_the_index_per_generation(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    first = WhooshKnowledgeIndex(path)
    first.upsert([doc(1, "Phone list", "Service desk", "phone_list", version=3)])
    other = WhooshKnowledgeIndex(path)  # another process on the same directory
    other.upsert([doc(2, "Price rules", "Discounts", "rule", version=5)])
    assert first.indexed_versions() == other.indexed_versions() == {1: 3, 2: 5}
    first.delete([1])
    assert other.indexed_versions() == {2: 5}
    first.close()
    other.close()

    sidecar = path / "versions.json"
    data = json.loads(sidecar.read_text())
    # start-up reads the map written with the index's current generation ...
    sidecar.write_text(json.dumps({**data, "versions": [[2, 6]]}))
    assert WhooshKnowledgeIndex(path).indexed_versions() == {2: 6}
    # ... and reads the stored documents when the map is of another generation or unreadable
    sidecar.write_text(json.dumps({**data, "generation": data["generation"] - 1}))
    assert WhooshKnowledgeIndex(path).indexed_versions() == {2: 5}
    sidecar.write_text("{not json")
    assert WhooshKnowledgeIndex(path).indexed_versions() == {2: 5}
    assert json.loads(sidecar.read_text()) == data  # rewritten from the documents
