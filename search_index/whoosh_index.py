"""The Whoosh implementation of core.ports.KnowledgeIndex.

- Title fields are boosted over body fields; English text is stemmed, Indonesian text goes
  through a light Indonesian stemmer; stop words of both languages are dropped.
- One writer at a time (a thread lock in the process, Whoosh's file lock across processes);
  readers keep a searcher open on an immutable snapshot and refresh it after a commit, so a
  write never blocks a search.
- The index remembers the revision of every document it holds (`indexed_versions`), so the
  caller re-indexes only documents whose revision changed.
- Searching is Whoosh's: `Searcher.search_with_collector` with its top-N collector (BM25F,
  block-quality skipping) and the user's visibility set as the filter; a rebuild goes
  through Whoosh's multiprocessing writer (`procs`, `multisegment`, `limitmb`).
"""

from __future__ import annotations

import functools
import heapq
import itertools
import json
import os
import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from filelock import FileLock
from rapidfuzz import process as rf_process
from rapidfuzz.distance import Levenshtein
from whoosh import index as whoosh_index
from whoosh.collectors import FilterCollector, TopCollector
from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema
from whoosh.multiproc import MpWriter
from whoosh.query import And, Or, Query, Term
from whoosh.searching import Searcher

from core.ports import IndexedDocument, SearchHit, SearchResult
from search_index.analysis import STOP_WORDS, english_analyzer, indonesian_analyzer

SCHEMA_VERSION = "kb-5"  # kb-5: PySastrawi for Indonesian, one-pass analysers
TITLE_BOOST = 3.0
TAG_BOOST = 2.0
SEARCH_FIELDS = ("title_en", "title_id", "body_en", "body_id", "tags")
FIELD_BOOSTS = {"title_en": TITLE_BOOST, "title_id": TITLE_BOOST, "tags": TAG_BOOST}
SNIPPET_CHARS = 180
COUNT_CAP = 100  # totals are exact up to here, then "more than"
# A write of at least this many documents into an empty index (a rebuild) goes through
# Whoosh's multiprocessing writer: BUILD_PROCS sub-writers, each writing its own segment.
BULK_MIN_DOCS = 5000
BUILD_PROCS = 2
BUILD_LIMITMB = 1024  # per sub-writer: 256 spilled runs to disk at 50k documents (x1.7 CPU)
_ALLOWED_SETS_KEPT = 16  # visibility sets per snapshot (one per user / filter combination)
_TERM_SETS_KEPT = 64  # documents of a status / owner / type / tag, per snapshot
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
        title_en=TEXT(analyzer=en, phrase=False),
        title_id=TEXT(analyzer=ind, phrase=False),
        body_en=TEXT(analyzer=en, phrase=False),
        body_id=TEXT(analyzer=ind, phrase=False),
        tags=KEYWORD(stored=True, commas=True, lowercase=True),
        doc_type=ID(stored=True),
        status=ID(stored=True),
        owner=ID(stored=True),
        lang=ID(stored=True),
    )


_ANALYSIS_SCHEMA = build_schema()


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
        self._sets: _SnapshotSets | None = None  # document sets of the current searcher
        self._versions: dict[int, int] | None = None
        self._versions_generation = -1
        self._vocab = _load_vocab(self.path)
        self._vocab_words: list[str] | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def _creation_lock(self) -> FileLock:
        """Processes starting together on one data directory (systemd units on first boot)
        open, create or replace the index one at a time: Whoosh's create_in fails in the
        second one ("File '_MAIN_0.toc' exists") and a half-stamped index looks old to the
        third. The lock file lives beside the index directory, which may be replaced."""
        return FileLock(str(self.path.parent / f".{self.path.name}.lock"), timeout=120)

    def _open_or_create(self) -> Any:
        with self._creation_lock():
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
        """Add or replace documents; returns how many were written (one commit).

        At least BULK_MIN_DOCS documents into an empty index (a rebuild) go through Whoosh's
        multiprocessing writer (`procs=BUILD_PROCS, multisegment=True`): the sub-writers
        analyse and write a segment each while this process reads the next documents."""
        stream = iter(docs)
        head = list(itertools.islice(stream, BULK_MIN_DOCS))
        with self._write_lock:
            writer, bulk = self._writer(len(head) >= BULK_MIN_DOCS)
            count = 0
            words: Counter[str] = Counter()
            try:
                known = self._known_versions()  # read under the index lock: current
                for doc in itertools.chain(head, stream):
                    fields = _fields(doc)
                    words.update(_WORD.findall(doc.title.lower()))
                    words.update(_WORD.findall(doc.body.lower()))
                    if not bulk and doc.id in known:
                        writer.update_document(**fields)
                    else:
                        writer.add_document(**fields)
                    known[doc.id] = doc.version
                    count += 1
                if count:
                    writer.commit(merge=not bulk and count >= 1000)
            except BaseException:
                _cancel(writer)
                self._versions = None
                raise
            if count == 0:
                _cancel(writer)
                return 0
            self._after_commit(writer.generation)
            for word, n in words.items():
                if len(word) >= 3 and not word.isdigit() and word not in STOP_WORDS:
                    self._vocab[word] += n
            self._save_vocab()
            return count

    def _writer(self, many: bool) -> tuple[Any, bool]:
        """A writer holding the index lock; Whoosh's multiprocessing writer for `many`
        documents into an empty index (then every document is new: `bulk`)."""
        if many and self._ix.doc_count_all() == 0:
            writer = self._ix.writer(procs=BUILD_PROCS, multisegment=True,
                                     limitmb=BUILD_LIMITMB, timeout=30.0)
            if not any(segment.doc_count_all() for segment in writer.segments):
                return writer, True
            writer.cancel()  # another process wrote meanwhile
        return self._ix.writer(timeout=30.0, limitmb=self.limitmb), False

    def delete(self, doc_ids: Iterable[int]) -> None:
        ids = [int(i) for i in doc_ids]
        if not ids:
            return
        with self._write_lock:
            writer = self._ix.writer(timeout=30.0)
            try:
                known = self._known_versions()  # read under the index lock: current
                for doc_id in ids:
                    writer.delete_by_term("id", str(doc_id))
                    known.pop(doc_id, None)
            except BaseException:
                writer.cancel()
                self._versions = None
                raise
            writer.commit(merge=False)
            self._after_commit(writer.generation)

    def clear(self) -> None:
        """Drop everything (before a rebuild)."""
        with self._write_lock:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None
            self._ix.close()
            with self._creation_lock():
                self._ix = whoosh_index.create_in(str(self.path), self._schema)
                (self.path / "SCHEMA").write_text(SCHEMA_VERSION)
            self._versions = {}
            self._after_commit()
            self._sets = None
            self._vocab = Counter()
            self._save_vocab()

    def optimize(self) -> None:
        """Merge every segment into one (after a bulk build)."""
        with self._write_lock:
            self._ix.optimize()
            self._after_commit()

    def _save_vocab(self) -> None:
        """The spelling vocabulary (unstemmed words and counts), kept beside the index."""
        self._vocab_words = None
        tmp = self.path / f"vocab.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(json.dumps(self._vocab, separators=(",", ":")))
        tmp.replace(self.path / "vocab.json")

    def _after_commit(self, generation: int | None = None) -> None:
        self._dirty = True
        self._versions_generation = (self._ix.latest_generation() if generation is None
                                     else generation)
        if self._versions is not None:
            self._save_versions()

    def _save_versions(self) -> None:
        """The id -> revision map of this generation, beside the index, so that a process
        starting up does not read every stored document to learn it."""
        data = {"generation": self._versions_generation,
                "versions": list((self._versions or {}).items())}
        tmp = self.path / f"versions.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(json.dumps(data, separators=(",", ":")))
        tmp.replace(self.path / "versions.json")

    def _load_versions(self, generation: int) -> dict[int, int] | None:
        try:
            data = json.loads((self.path / "versions.json").read_text())
            if data.get("generation") != generation:
                return None  # written for another generation (another process's commit)
            return {int(doc_id): int(rev) for doc_id, rev in data["versions"]}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def _known_versions(self) -> dict[int, int]:
        generation = self._ix.latest_generation()
        if self._versions is None or generation != self._versions_generation:
            versions = self._load_versions(generation)
            stored_anew = versions is None
            if versions is None:
                versions = {}
                with self._ix.reader() as reader:
                    for _docnum, stored in reader.iter_docs():
                        versions[int(stored["id"])] = int(stored["rev"])
            self._versions, self._versions_generation = versions, generation
            if stored_anew:
                self._save_versions()
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
            self._sets = None
        elif self._dirty or now - self._searcher_checked > _REFRESH_SECONDS:
            self._dirty = False
            self._searcher_checked = now
            if self._ix.latest_generation() != self._searcher.reader().generation():
                old, self._searcher = self._searcher, self._ix.searcher()
                self._sets = None
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
        """Every word must match (title boosted over body, Whoosh's BM25F); when no document
        has every word, any word, best first (`partial`).

        Whoosh's searcher does the matching and scoring (`Searcher.search` with the top
        `page * page_size` collected and block-quality skipping); what the user may see is a
        set of document numbers from `Searcher.docs_for_query`, kept per snapshot and passed
        as the search's filter. The total is exact up to COUNT_CAP, then a lower bound.
        """
        page = max(1, page)
        page_size = max(1, min(page_size, 50))
        searcher = self.searcher()
        words = [w.lower() for w in _WORD.findall(query)]
        if not words and not (doc_types or tags):
            return SearchResult(hits=[], total=0, page=page)
        allow = self._allowed(searcher, tuple(doc_types), tuple(t.lower() for t in tags),
                              visible_owner_id, include_drafts)
        limit = page * page_size
        # Collected past the page up to the count cap: the total then comes from the same
        # pass (the collector only skips once it holds that many) instead of a second one.
        collect = max(limit, COUNT_CAP + 1)
        partial = False
        exact = True
        top: list[tuple[int, float]]
        if not words:  # filters only: every visible document of that type / tag, in order
            total = len(allow)
            top = [(docnum, 1.0) for docnum in heapq.nsmallest(limit, allow)]
        else:
            per_word, missing = self._word_queries(words, searcher.reader())
            total, top = 0, []
            if per_word and not missing:
                every = per_word[0] if len(per_word) == 1 else And(per_word)
                top = _top(searcher, every, collect, allow)
                total, exact = _count(searcher, every, allow, len(top), collect, limit)
            if not top and len(words) > 1 and per_word:
                # Nothing has every word: the documents with all words but one first (when
                # there are three or more: intersections, cheaper than scoring every
                # document with any word), then those with any word; best first in each.
                tiers: list[Query] = [Or(per_word)]
                if len(per_word) >= 3:
                    tiers.insert(0, Or([And(list(most)) for most in
                                        itertools.combinations(per_word, len(per_word) - 1)]))
                for tier in tiers:
                    seen = {docnum for docnum, _ in top}
                    top += _top(searcher, tier, collect - len(top), allow, seen)
                    if len(top) >= limit:
                        break  # the page is full: no need to score the next tier
                total, exact = _count(searcher, tiers[-1], allow, len(top), collect, limit,
                                      complete=tier is tiers[-1])
                partial = bool(top)
        suggestions: list[str] = []
        if words and (total < 2 or partial):
            suggestions = self._suggest(searcher, words)
        marker = _marker(words, self._schema)  # not ix.schema: that reads the TOC file
        hits: list[SearchHit] = []
        for docnum, score in top[(page - 1) * page_size:limit]:
            stored = searcher.reader().stored_fields(docnum)
            hits.append(SearchHit(id=int(stored["id"]), title=stored.get("title") or "",
                                  doc_type=stored.get("doc_type") or "", score=float(score),
                                  snippet=_snippet(stored.get("text") or "", marker)))
        return SearchResult(hits=hits, total=total, page=page, suggestions=suggestions,
                            partial=partial, total_exact=exact)

    def _word_queries(self, words: list[str], reader: Any) -> tuple[list[Query], bool]:
        """Per query word (stop words left out), a query for the word in every field it may
        match in the index (title and tags boosted); `missing` when some word matches no
        term at all (then no document has every word)."""
        per_word: list[Query] = []
        missing = False
        for word in words:
            if word in STOP_WORDS:
                continue
            alternatives: list[Query] = [
                Term(field, term, boost=FIELD_BOOSTS.get(field, 1.0))
                for field in SEARCH_FIELDS for term in _analysed_cached(field, word)
                if (field, term) in reader]
            if len(alternatives) == 1:
                per_word.append(alternatives[0])
            elif alternatives:
                per_word.append(Or(alternatives))
            else:
                missing = True
        return per_word, missing

    def _allowed(self, searcher: Searcher, doc_types: tuple[str, ...], tags: tuple[str, ...],
                 owner_id: int | None, include_drafts: bool) -> set[int]:
        """The documents a search may return: published (and the drafts this user may
        see), of one of `doc_types`, with one of `tags`; kept while the snapshot is current.
        Built from the documents of each status / owner / type / tag term, which Whoosh
        matches (`docs_for_query`, deleted documents never) once per snapshot."""
        key = (doc_types, tags, owner_id, include_drafts)
        sets = self._snapshot_sets(searcher)
        found = sets.allowed.get(key)
        if found is not None:
            return found
        if doc_types or tags:
            found = set(self._allowed(searcher, (), (), owner_id, include_drafts))
            if doc_types:
                found.intersection_update(self._term_docs(searcher, "doc_type", doc_types))
            if tags:
                found.intersection_update(self._term_docs(searcher, "tags", tags))
        else:
            found = set(self._term_docs(searcher, "status", ("published",)))
            if include_drafts:
                found.update(self._term_docs(searcher, "status", ("draft",)))
            elif owner_id is not None:
                found.update(self._term_docs(searcher, "status", ("draft",)).intersection(
                    self._term_docs(searcher, "owner", (str(owner_id),))))
        sets.keep(sets.allowed, key, found, _ALLOWED_SETS_KEPT)
        return found

    def _snapshot_sets(self, searcher: Searcher) -> _SnapshotSets:
        """The document sets kept for `searcher` (new ones when it is not the current)."""
        sets = self._sets
        if sets is None or sets.searcher is not searcher:
            sets = self._sets = _SnapshotSets(searcher)
        return sets

    def _term_docs(self, searcher: Searcher, field: str, values: tuple[str, ...]
                   ) -> frozenset[int]:
        """The documents with any of `values` in `field` (kept while the snapshot is)."""
        key = (field, values)
        sets = self._snapshot_sets(searcher)
        found = sets.terms.get(key)
        if found is None:
            query = (Term(field, values[0]) if len(values) == 1
                     else Or([Term(field, v) for v in values]))
            found = frozenset(searcher.docs_for_query(query))
            sets.keep(sets.terms, key, found, _TERM_SETS_KEPT)
        return found

    def _vocabulary(self) -> list[str]:
        if self._vocab_words is None:
            self._vocab_words = list(self._vocab)
        return self._vocab_words

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
            for candidate, dist, _ in rf_process.extract(
                    word, self._vocabulary(), scorer=Levenshtein.distance, score_cutoff=2,
                    limit=8):
                if candidate != word and _known(reader, candidate):
                    rank = (int(dist), -self._vocab[candidate], candidate)
                    if best is None or rank < best:
                        best = rank
            if best is not None and best[2] != word:
                corrected.append(best[2])
                changed = True
            else:
                corrected.append(word)
        return [" ".join(corrected)] if changed else []


class _SnapshotSets:
    """Document sets of one searcher (what a search may return; the documents of filter
    terms), kept while it is the current one; a search on another searcher starts anew."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self.allowed: dict[tuple[Any, ...], set[int]] = {}
        self.terms: dict[tuple[str, tuple[str, ...]], frozenset[int]] = {}
        self._lock = threading.Lock()

    def keep(self, cache: dict[Any, Any], key: Any, value: Any, most: int) -> None:
        with self._lock:
            while len(cache) >= most:
                cache.pop(next(iter(cache)))
            cache[key] = value


def _top(searcher: Searcher, query: Query, limit: int, allow: set[int],
         skip: set[int] | None = None) -> list[tuple[int, float]]:
    """The best `limit` allowed documents (not in `skip`) and their scores: Whoosh's top-N
    collector with block-quality skipping, run by `Searcher.search_with_collector`, but
    without matcher replacement (`replace=0`; `Searcher.search` always replaces): with it,
    Whoosh 2.7 left a document out of the top N of an And of boosted title/body terms
    (tests/search_index/test_rebuild_and_counts.py compares two index layouts). At 50k
    documents replacement did not make the slow queries faster."""
    collector = FilterCollector(TopCollector(limit=limit, usequality=True, replace=0),
                                allow=allow, restrict=skip or None)
    searcher.search_with_collector(query, collector)
    return [(hit.docnum, hit.score or 0.0) for hit in collector.results()]


def _count(searcher: Searcher, query: Query, allow: set[int], collected: int, asked: int,
           limit: int, *, complete: bool = True) -> tuple[int, bool]:
    """How many allowed documents match `query`: exact up to COUNT_CAP (or the page's
    end, `limit`), else that number and False ("more than").

    `collected` of the `asked` were collected. With fewer (and the query's own collector
    `complete`), the collector's heap never filled, so nothing was skipped: that is the
    count. Otherwise the query is matched again without scoring (`docs_for_query`),
    stopping one past the cap."""
    if complete and collected < asked:
        return collected, True
    cap = max(COUNT_CAP, limit)
    if collected > cap:
        return cap, False
    n = 0
    for docnum in searcher.docs_for_query(query):
        if docnum in allow:
            n += 1
            if n > cap:
                return cap, False
    return n, True


def _cancel(writer: Any) -> None:
    """Cancel a writer. Whoosh's multiprocessing writer only flags its sub-writer processes
    (they would wait for work forever): those started are ended and waited for first."""
    if isinstance(writer, MpWriter):
        for task in writer.tasks:
            task.terminate()
        for task in writer.tasks:
            task.join()
    writer.cancel()


def _analysed(field: str, word: str, schema: Schema) -> tuple[str, ...]:
    return _analysed_cached(field, word) if schema is not None else ()


@functools.lru_cache(maxsize=65536)
def _analysed_cached(field: str, word: str) -> tuple[str, ...]:
    """The terms a word becomes in a field (analysers are pure: cached)."""
    analyzer: Any = _ANALYSIS_SCHEMA[field].analyzer  # typed Optional by whoosh3
    return tuple(t.text for t in analyzer(word))


def _load_vocab(path: Path) -> Counter[str]:
    try:
        return Counter(json.loads((path / "vocab.json").read_text()))
    except (OSError, ValueError):
        return Counter()


def _known(reader: Any, word: str) -> bool:
    schema = reader.schema
    for field in SEARCH_FIELDS[:4]:
        for term in _analysed(field, word, schema):
            if reader.doc_frequency(field, term):
                return True
    return False


def _marker(words: list[str], schema: Schema) -> re.Pattern[str] | None:
    return _marker_cached(tuple(words))


@functools.lru_cache(maxsize=4096)
def _marker_cached(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """A regex for the query words in raw text: the word, or its English / Indonesian stem
    as a word prefix (so "pricing" marks "prices", "penjualan" marks "menjual")."""
    parts: set[str] = set()
    for word in words:
        if word in STOP_WORDS:
            continue
        parts.add(re.escape(word))
        for field in ("body_en", "body_id"):
            for stem in _analysed_cached(field, word):
                common = 0
                while common < min(len(stem), len(word)) and stem[common] == word[common]:
                    common += 1
                if common >= 3:
                    parts.add(re.escape(word[:common]) + r"\w*")
                elif len(stem) >= 3:
                    parts.add(r"\w*" + re.escape(stem) + r"\w*")
    if not parts:
        return None
    alternatives = "|".join(sorted(parts, key=len, reverse=True))
    return re.compile(r"(?<!\w)(?:" + alternatives + r")(?!\w)", re.IGNORECASE)


def _snippet(text: str, marker: re.Pattern[str] | None) -> str:
    """About SNIPPET_CHARS of text around the first match, matches marked *like this*."""
    flat = " ".join(_MARKUP.sub(" ", text).split())
    match = marker.search(flat) if marker is not None else None
    if match is None:
        return _lead(flat)
    start = max(0, match.start() - 50)
    if start:
        start = flat.find(" ", start) + 1 or start
    end = min(len(flat), start + SNIPPET_CHARS)
    if end < len(flat):
        end = flat.rfind(" ", start, end) if flat.rfind(" ", start, end) > match.end() else end
    window = flat[start:end]
    assert marker is not None
    marked = marker.sub(lambda m: "*" + m.group(0) + "*", window)
    return ("… " if start else "") + marked + (" …" if end < len(flat) else "")


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

