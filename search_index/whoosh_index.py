"""The Whoosh implementation of core.ports.KnowledgeIndex.

- Title fields are boosted over body fields; English text is stemmed, Indonesian text goes
  through a light Indonesian stemmer; stop words of both languages are dropped.
- One writer at a time (a thread lock in the process, Whoosh's file lock across processes);
  readers keep a searcher open on an immutable snapshot and refresh it after a commit, so a
  write never blocks a search.
- The index remembers the revision of every document it holds (`indexed_versions`), so the
  caller re-indexes only documents whose revision changed.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index
from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema
from whoosh.highlight import ContextFragmenter, Formatter, get_text
from whoosh.query import And, NullQuery, Or, Query, Term
from whoosh.searching import Searcher

from core.ports import IndexedDocument, SearchHit, SearchResult
from search_index.analysis import (
    STOP_WORDS,
    english_analyzer,
    indonesian_analyzer,
)

SCHEMA_VERSION = "kb-3"
TITLE_BOOST = 3.0
TAG_BOOST = 2.0
SEARCH_FIELDS = ("title_en", "title_id", "body_en", "body_id", "tags")
FIELD_BOOSTS = {"title_en": TITLE_BOOST, "title_id": TITLE_BOOST, "tags": TAG_BOOST}
SNIPPET_CHARS = 180
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_REFRESH_SECONDS = 1.0
_MARKUP = re.compile(r"(?:^|\s)(?:#{1,6}|[-|]{2,}|\|)(?=\s|$)")


def build_schema() -> Schema:
    en, ind = english_analyzer(), indonesian_analyzer()
    return Schema(
        id=ID(stored=True, unique=True),
        rev=STORED(),
        title=STORED(),
        text=STORED(),
        title_en=TEXT(analyzer=en, spelling=True),
        title_id=TEXT(analyzer=ind, spelling=True),
        body_en=TEXT(analyzer=en, spelling=True),
        body_id=TEXT(analyzer=ind, spelling=True),
        tags=KEYWORD(stored=True, commas=True, lowercase=True),
        doc_type=ID(stored=True),
        status=ID(stored=True),
        owner=ID(stored=True),
        lang=ID(stored=True),
    )


class _Marker(Formatter):
    """Marks matched words as *word* (platform neutral; doors may render it bold)."""

    between = " … "

    def format_token(self, text: str, token: Any, replace: bool = False) -> str:
        return "*" + get_text(text, token, replace) + "*"


class WhooshKnowledgeIndex:
    """A Whoosh index in `path` (created when missing, recreated when its schema is old)."""

    def __init__(self, path: Path | str, *, limitmb: int = 128) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.limitmb = limitmb
        self._write_lock = threading.Lock()
        self._schema = build_schema()
        self._ix = self._open_or_create()
        self._searcher: Searcher | None = None
        self._searcher_checked = 0.0
        self._dirty = False
        self._filters: dict[tuple[Any, ...], set[int]] = {}
        self._versions: dict[int, int] | None = None
        self._versions_generation = -1

    # -- lifecycle ---------------------------------------------------------------------------
    def _open_or_create(self) -> Any:
        stamp = self.path / "SCHEMA"
        if whoosh_index.exists_in(str(self.path)):
            if stamp.exists() and stamp.read_text() == SCHEMA_VERSION:
                return whoosh_index.open_dir(str(self.path))
            # An index of an older layout: derived data, so start afresh (then re-sync).
            shutil.rmtree(self.path)
            self.path.mkdir(parents=True, exist_ok=True)
        ix = whoosh_index.create_in(str(self.path), self._schema)
        stamp.write_text(SCHEMA_VERSION)
        return ix

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None
        self._ix.close()

    # -- writing -----------------------------------------------------------------------------
    def upsert(self, docs: Iterable[IndexedDocument]) -> int:
        """Add or replace documents; returns how many were written (one commit)."""
        with self._write_lock:
            known = self._known_versions()
            writer = self._ix.writer(timeout=30.0, limitmb=self.limitmb)
            count = 0
            try:
                for doc in docs:
                    fields = _fields(doc)
                    if doc.id in known:
                        writer.update_document(**fields)
                    else:
                        writer.add_document(**fields)
                    known[doc.id] = doc.version
                    count += 1
            except BaseException:
                writer.cancel()
                self._versions = None
                raise
            if count == 0:
                writer.cancel()
                return 0
            writer.commit(merge=count >= 1000)
            self._after_commit()
            return count

    def delete(self, doc_ids: Iterable[int]) -> None:
        ids = [int(i) for i in doc_ids]
        if not ids:
            return
        with self._write_lock:
            known = self._known_versions()
            writer = self._ix.writer(timeout=30.0)
            try:
                for doc_id in ids:
                    writer.delete_by_term("id", str(doc_id))
                    known.pop(doc_id, None)
            except BaseException:
                writer.cancel()
                self._versions = None
                raise
            writer.commit(merge=False)
            self._after_commit()

    def clear(self) -> None:
        """Drop everything (before a rebuild)."""
        with self._write_lock:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None
            self._ix.close()
            self._ix = whoosh_index.create_in(str(self.path), self._schema)
            (self.path / "SCHEMA").write_text(SCHEMA_VERSION)
            self._versions = {}
            self._versions_generation = self._ix.latest_generation()
            self._filters.clear()

    def optimize(self) -> None:
        """Merge every segment into one (after a bulk build)."""
        with self._write_lock:
            self._ix.optimize()
            self._after_commit()

    def _after_commit(self) -> None:
        self._dirty = True
        self._versions_generation = self._ix.latest_generation()

    def _known_versions(self) -> dict[int, int]:
        generation = self._ix.latest_generation()
        if self._versions is None or generation != self._versions_generation:
            versions: dict[int, int] = {}
            with self._ix.reader() as reader:
                for _docnum, stored in reader.iter_docs():
                    versions[int(stored["id"])] = int(stored["rev"])
            self._versions = versions
            self._versions_generation = generation
        return self._versions

    def indexed_versions(self) -> dict[int, int]:
        """document id -> revision of every document in the index."""
        return dict(self._known_versions())

    # -- reading -----------------------------------------------------------------------------
    def searcher(self) -> Searcher:
        """The warm searcher, replaced when a commit happened (ours, or another process's).

        A new searcher is opened on the new snapshot (Whoosh's `refresh` re-uses segment
        readers and can miss deletions made in them), then the old one is closed.
        """
        now = time.monotonic()
        if self._searcher is None:
            self._searcher = self._ix.searcher()
            self._searcher_checked = now
            self._dirty = False
            self._filters.clear()
        elif self._dirty or now - self._searcher_checked > _REFRESH_SECONDS:
            self._dirty = False
            self._searcher_checked = now
            if self._ix.latest_generation() != self._searcher.reader().generation():
                old, self._searcher = self._searcher, self._ix.searcher()
                self._filters.clear()
                old.close()
        return self._searcher

    def search(
        self,
        query: str,
        *,
        doc_types: Sequence[str] = (),
        tags: Sequence[str] = (),
        visible_owner_id: int | None = None,
        include_drafts: bool = False,
        page: int = 1,
        page_size: int = 5,
    ) -> SearchResult:
        page = max(1, page)
        page_size = max(1, min(page_size, 50))
        searcher = self.searcher()
        words = [w.lower() for w in _WORD.findall(query)]
        if not words:
            return SearchResult(hits=[], total=0, page=page)
        allow = self._allowed(searcher, tuple(doc_types), tuple(tags), visible_owner_id,
                              include_drafts)
        parsed = self._parse(words, and_group=True)
        results = searcher.search(parsed, limit=page * page_size, filter=allow)
        total = len(results)
        suggestions: list[str] = []
        if total < 2:
            suggestions = self._suggest(searcher, words)
        partial = False
        if total == 0 and len(words) > 1:  # nothing has every word: any word, best first
            parsed = self._parse(words, and_group=False)
            results = searcher.search(parsed, limit=page * page_size, filter=allow)
            total = len(results)
            partial = total > 0
        start = (page - 1) * page_size
        hits: list[SearchHit] = []
        fragmenter = ContextFragmenter(maxchars=SNIPPET_CHARS, surround=50)
        for hit in results[start:start + page_size]:
            text = hit.get("text") or ""
            field = "body_id" if hit.get("lang") == "id" else "body_en"
            results.fragmenter = fragmenter
            results.formatter = _Marker()
            snippet = hit.highlights(field, text=text, top=1) if text else ""
            if not snippet:
                snippet = _lead(text)
            hits.append(SearchHit(id=int(hit["id"]), title=hit.get("title") or "",
                                  doc_type=hit.get("doc_type") or "",
                                  score=float(hit.score or 0.0),
                                  snippet=" ".join(_MARKUP.sub(" ", snippet).split())))
        return SearchResult(hits=hits, total=total, page=page, suggestions=suggestions,
                            partial=partial)

    def _parse(self, words: list[str], *, and_group: bool) -> Query:
        """Each word may match any field (title boosted); all words (or any word) must."""
        schema = self._ix.schema
        per_word: list[Query] = []
        for word in words:
            if word in STOP_WORDS:
                continue
            alternatives: list[Query] = []
            for field in SEARCH_FIELDS:
                boost = FIELD_BOOSTS.get(field, 1.0)
                for term in _analysed(field, word, schema):
                    alternatives.append(Term(field, term, boost=boost))
            if alternatives:
                per_word.append(Or(alternatives))
        if not per_word:
            return NullQuery
        if len(per_word) == 1:
            return per_word[0]
        return And(per_word) if and_group else Or(per_word, scale=0.9)

    def _allowed(
        self, searcher: Searcher, doc_types: tuple[str, ...], tags: tuple[str, ...],
        owner_id: int | None, include_drafts: bool,
    ) -> set[int]:
        """The document numbers a search may return (cached per searcher snapshot)."""
        key = (doc_types, tags, owner_id, include_drafts)
        cached = self._filters.get(key)
        if cached is not None:
            return cached
        visible: Query
        if include_drafts:
            visible = Or([Term("status", "published"), Term("status", "draft")])
        elif owner_id is not None:
            visible = Or([Term("status", "published"),
                          And([Term("status", "draft"), Term("owner", str(owner_id))])])
        else:
            visible = Term("status", "published")
        parts: list[Query] = [visible]
        if doc_types:
            parts.append(Or([Term("doc_type", t) for t in doc_types]))
        if tags:
            parts.append(Or([Term("tags", t.lower()) for t in tags]))
        allowed = set(searcher.docs_for_query(And(parts)))
        if len(self._filters) > 64:
            self._filters.clear()
        self._filters[key] = allowed
        return allowed

    def _suggest(self, searcher: Searcher, words: list[str]) -> list[str]:
        """A corrected query when some words are unknown ("did you mean")."""
        reader = searcher.reader()
        changed = False
        corrected: list[str] = []
        for word in words:
            if word in STOP_WORDS or word.isdigit() or _known(reader, word):
                corrected.append(word)
                continue
            best: tuple[int, int, str] | None = None
            for field in SEARCH_FIELDS[:4]:
                for candidate in searcher.suggest(field, word, limit=3, maxdist=2):
                    freq = sum(reader.doc_frequency(f, c) for f in SEARCH_FIELDS[:4]
                               for c in _analysed(f, candidate, self._ix.schema))
                    rank = (_distance(word, candidate), -freq, candidate)
                    if best is None or rank < best:
                        best = rank
            if best is not None and best[2] != word:
                corrected.append(best[2])
                changed = True
            else:
                corrected.append(word)
        return [" ".join(corrected)] if changed else []


def _analysed(field: str, word: str, schema: Schema) -> list[str]:
    return [t.text for t in schema[field].analyzer(word)]


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (short words only)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _known(reader: Any, word: str) -> bool:
    schema = reader.schema
    for field in SEARCH_FIELDS[:4]:
        for term in _analysed(field, word, schema):
            if reader.doc_frequency(field, term):
                return True
    return False


def _lead(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= SNIPPET_CHARS:
        return flat
    cut = flat[:SNIPPET_CHARS].rsplit(" ", 1)[0]
    return cut + " …"


def _fields(doc: IndexedDocument) -> dict[str, Any]:
    lang = "id" if doc.language == "id" else "en"
    fields: dict[str, Any] = {
        "id": str(doc.id),
        "rev": int(doc.version),
        "title": doc.title,
        "text": doc.body,
        "tags": ",".join(t.strip().lower() for t in doc.tags if t.strip()),
        "doc_type": doc.doc_type,
        "status": doc.status,
        "owner": str(doc.owner_id) if doc.owner_id is not None else "",
        "lang": lang,
    }
    fields["title_" + lang] = doc.title
    fields["body_" + lang] = doc.body
    return fields

