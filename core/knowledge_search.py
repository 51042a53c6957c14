"""Knowledge search and its index: the query's filters, the index (core.ports.KnowledgeIndex)
kept in step with the documents table by `revision` (a stamp bumped on every change: only
documents whose revision differs are re-indexed), a full rebuild.

`KnowledgeSearch` is one node's index with the mark of its last sync; the composition root
builds it once (Services.knowledge) and passes it in: no process-global table of indexes."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.knowledge import SEARCHABLE, clean_tags, normalise_type
from core.models import Role, User
from core.models.knowledge import Document
from core.ports import IndexedDocument, KnowledgeIndex, SearchResult

_FILTER = re.compile(r"(?<!\S)(type|tipe|jenis|tag):(\S+)", re.IGNORECASE)
# An index is synced in full at least this often (another node's change).
FULL_SYNC_SECONDS = 60.0


@dataclass(frozen=True)
class ParsedQuery:
    text: str
    doc_types: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


def parse_query(raw: str) -> ParsedQuery:
    """Split `type:policy tag:pricing words` into filters and words."""
    types: list[str] = []
    tags: list[str] = []
    for kind, value in _FILTER.findall(raw):
        if kind.lower() == "tag":
            tags.extend(clean_tags(value.split(",")))
        else:
            types.extend(normalise_type(v) for v in value.split(",") if v)
    text = " ".join(_FILTER.sub(" ", raw).split())
    return ParsedQuery(text=text, doc_types=tuple(dict.fromkeys(types)),
                       tags=tuple(dict.fromkeys(tags)))


MAX_QUERY_CHARS = 200  # a longer query is cut: search cost must not grow with abuse


def to_indexed(doc: Document) -> IndexedDocument:
    return IndexedDocument(id=doc.id, version=doc.revision, title=doc.title, body=doc.text,
                           doc_type=doc.doc_type, tags=tuple(doc.tags or ()),
                           status=doc.status, owner_id=doc.owner_id, source=doc.source,
                           language=doc.language)


@dataclass(frozen=True)
class SyncReport:
    upserted: int
    deleted: int
    # The documents table's (count, top revision) when the sync read it.
    fingerprint: tuple[int, int] = (0, 0)


def _fingerprint(session: Session) -> tuple[int, int]:
    count, top = session.execute(
        select(func.count(Document.id), func.coalesce(func.max(Document.revision), 0))).one()
    return int(count), int(top)


_INDEXED_COLUMNS = (Document.id, Document.revision, Document.title, Document.text,
                    Document.doc_type, Document.tags, Document.status, Document.owner_id,
                    Document.source, Document.language)


def _indexed_rows(session: Session, *conditions: Any, after: int = 0,
                  limit: int | None = None) -> list[IndexedDocument]:
    """What the index needs of the matching documents, by id (never the stored files)."""
    stmt = select(*_INDEXED_COLUMNS).where(Document.id > after, *conditions).order_by(
        Document.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [IndexedDocument(id=row.id, version=row.revision, title=row.title, body=row.text,
                            doc_type=row.doc_type, tags=tuple(row.tags or ()),
                            status=row.status, owner_id=row.owner_id, source=row.source,
                            language=row.language)
            for row in session.execute(stmt)]


def sync_index(session: Session, index: KnowledgeIndex, *, batch: int = 500) -> SyncReport:
    """Bring the index in step with the table: re-index only documents whose revision
    differs, drop what is gone (archived or deleted)."""
    fingerprint = _fingerprint(session)
    wanted = dict(session.execute(select(Document.id, Document.revision).where(
        Document.status.in_(SEARCHABLE))).all())
    have = index.indexed_versions()
    stale = [doc_id for doc_id, rev in wanted.items() if have.get(doc_id) != rev]
    gone = [doc_id for doc_id in have if doc_id not in wanted]
    if gone:
        index.delete(gone)
    upserted = 0
    for start in range(0, len(stale), batch):
        ids = stale[start:start + batch]
        upserted += index.upsert(_indexed_rows(session, Document.id.in_(ids)))
    return SyncReport(upserted=upserted, deleted=len(gone), fingerprint=fingerprint)


def rebuild_index(session: Session, index: KnowledgeIndex, *, batch: int = 1000,
                  progress: Callable[[int], None] | None = None) -> int:
    """Recreate the index from the table (drafts and published): the documents are read
    `batch` at a time (by id, only the columns the index needs) and streamed into one
    `upsert` (one commit; into the emptied index a large one goes through the index's
    bulk writer, search_index.bulk)."""
    index.clear()

    def stream() -> Iterator[IndexedDocument]:
        last = 0
        while True:
            docs = _indexed_rows(session, Document.status.in_(SEARCHABLE), after=last,
                                 limit=batch)
            if not docs:
                return
            yield from docs
            last = docs[-1].id
            if progress is not None:
                progress(len(docs))

    return index.upsert(stream())


class KnowledgeSearch:
    """One node's knowledge search: its index and the mark of the index's last sync (the
    table's fingerprint and when). Built once by the composition root and passed in."""

    def __init__(self, index: KnowledgeIndex, *, full_sync_seconds: float = FULL_SYNC_SECONDS
                 ) -> None:
        self.index = index
        self.full_sync_seconds = full_sync_seconds
        self._synced: tuple[tuple[int, int], float] | None = None

    def sync(self, session: Session, *, batch: int = 500) -> SyncReport:
        """Bring the index in step with the table now (see sync_index)."""
        report = sync_index(session, self.index, batch=batch)
        self._synced = (report.fingerprint, time.monotonic())
        return report

    def ensure_synced(self, session: Session) -> SyncReport | None:
        """Sync when the table changed since the last sync (a cheap count/max check), and in
        full at least every `full_sync_seconds` (another node's concurrent change)."""
        seen = self._synced
        if seen is not None:
            fingerprint, at = seen
            if (time.monotonic() - at < self.full_sync_seconds
                    and _fingerprint(session) == fingerprint):
                return None
        return self.sync(session)

    def rebuild(self, session: Session, *, batch: int = 1000,
                progress: Callable[[int], None] | None = None) -> int:
        """Recreate the index from the table (see rebuild_index)."""
        fingerprint = _fingerprint(session)
        done = rebuild_index(session, self.index, batch=batch, progress=progress)
        self._synced = (fingerprint, time.monotonic())
        return done

    def search(self, session: Session, user: User, raw_query: str, *, page: int = 1,
               page_size: int = 5) -> SearchResult:
        """Search what `user` may see (published; their own drafts; every draft for admins);
        the index is synced first when the table changed."""
        parsed = parse_query(raw_query[:MAX_QUERY_CHARS])
        self.ensure_synced(session)
        return self.index.search(parsed.text, doc_types=parsed.doc_types, tags=parsed.tags,
                                 visible_owner_id=user.id,
                                 include_drafts=user.role == Role.ADMIN, page=page,
                                 page_size=page_size)
