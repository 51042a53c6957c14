"""The Whoosh implementation of core.ports.KnowledgeIndex.

- Title fields are boosted over body fields; English text is stemmed (Porter), Indonesian
  text goes through PySastrawi; stop words of both languages are dropped.
- One writer at a time (a thread lock in the process, Whoosh's file lock across processes);
  searches read an immutable snapshot, refreshed after a commit (search_index.snapshots),
  so a write never blocks a search.
- The index remembers the revision of every document it holds (`indexed_versions`), so the
  caller re-indexes only documents whose revision changed.
- Searching scores Whoosh's BM25F over numpy arrays of the snapshot's postings
  (search_index.ranking, search_index.arrays), with the user's visibility as a mask kept
  per snapshot; snippets mark every form of the query words (search_index.snippets). A
  rebuild goes through search_index.bulk's writer (Whoosh's segment writer, the postings
  gathered as arrays).
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
import shutil
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from filelock import FileLock
from rapidfuzz import process as rf_process
from rapidfuzz.distance import Levenshtein
from whoosh import index as whoosh_index
from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema

from core.ports import IndexedDocument, SearchHit, SearchResult
from search_index.analysis import STOP_WORDS, english_analyzer, indonesian_analyzer, stem_id
from search_index.arrays import ArrayStore
from search_index.bulk import BulkWriter
from search_index.ranking import Alternative, Ranked, SnapshotRanker, first_documents
from search_index.snapshots import SnapshotReaders
from search_index.snippets import snippet, snippet_marker

SCHEMA_VERSION = "kb-5"  # kb-5: PySastrawi for Indonesian, one-pass analysers
TITLE_BOOST = 3.0
TAG_BOOST = 2.0
SEARCH_FIELDS = ("title_en", "title_id", "body_en", "body_id", "tags")
FIELD_BOOSTS = {"title_en": TITLE_BOOST, "title_id": TITLE_BOOST, "tags": TAG_BOOST}
# A write of at least this many documents into an empty index (a rebuild) goes through
# search_index.bulk's writer (a segment per bulk.SEGMENT_DOCS documents).
BULK_MIN_DOCS = 5000
MERGE_SEGMENTS = 6  # a commit merges the small segments when the index has this many
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


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
_SCORABLE = {name: bool(field.scorable) for name, field in _ANALYSIS_SCHEMA.items()}


class WhooshKnowledgeIndex:
    """A Whoosh index in `path` (created when missing, recreated when its schema is old)."""

    def __init__(self, path: Path | str, *, limitmb: int = 128) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.limitmb = limitmb
        self._write_lock = threading.Lock()
        self._schema = build_schema()
        self._ix = self._open_or_create()
        self._snapshots = SnapshotReaders(self._ix)
        self._arrays = ArrayStore()  # what has been read of each segment, as arrays
        self._snapshot_ranker: SnapshotRanker | None = None  # of the current snapshot
        self._versions: dict[int, int] | None = None
        self._versions_generation = -1
        self._vocab = _load_vocab(self.path)
        self._vocab_words: list[str] | None = None
        # Start-up work, not the first search's: the Indonesian stemmer (its dictionary, its
        # rules' regexes), the snapshot's segment readers, the published documents' mask.
        for word in ("mempersembahkan", "pengiriman", "ditawarkan", "kelola", "xyzzy"):
            stem_id(word)
        self._ranker().allowed((), (), None, False)

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
        self._snapshots.close()
        self._ix.close()

    # -- writing -----------------------------------------------------------------------------
    def upsert(self, docs: Iterable[IndexedDocument]) -> int:
        """Add or replace documents; returns how many were written (one commit).

        At least BULK_MIN_DOCS documents into an empty index (a rebuild) go through
        search_index.bulk's writer: Whoosh's segment, its postings gathered as arrays."""
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
                    if not bulk:  # the bulk writer counts its text fields' tokens
                        words.update(_WORD.findall(doc.title.lower()))
                        words.update(_WORD.findall(doc.body.lower()))
                    if not bulk and doc.id in known:
                        writer.update_document(**fields)
                    else:
                        writer.add_document(**fields)
                    known[doc.id] = doc.version
                    count += 1
                if count:
                    writer.commit(merge=not bulk and (count >= 1000 or _many_segments(writer)))
            except BaseException:
                _cancel(writer)
                self._versions = None
                raise
            if count == 0:
                _cancel(writer)
                return 0
            self._after_commit(writer.generation)
            if bulk:
                words = _bulk_words(writer)
            for word, n in words.items():
                if len(word) >= 3 and not word.isdigit() and word not in STOP_WORDS:
                    self._vocab[word] += n
            self._save_vocab()
            return count

    def _writer(self, many: bool) -> tuple[Any, bool]:
        """A writer holding the index lock; the bulk writer for `many` documents into an
        empty index (then every document is new: `bulk`)."""
        if many and self._ix.doc_count_all() == 0:
            writer = BulkWriter(self._ix, timeout=30.0)
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
            writer.commit(merge=_many_segments(writer))
            self._after_commit(writer.generation)

    def clear(self) -> None:
        """Drop everything (before a rebuild)."""
        with self._write_lock:
            self._snapshots.close()
            self._ix.close()
            with self._creation_lock():
                self._ix = whoosh_index.create_in(str(self.path), self._schema)
                (self.path / "SCHEMA").write_text(SCHEMA_VERSION)
            self._snapshots = SnapshotReaders(self._ix)
            self._versions = {}
            self._after_commit()
            self._snapshot_ranker = None
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
        self._snapshots.changed()
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

        The ranking is search_index.ranking's: Whoosh's BM25F scores over numpy arrays of
        the snapshot's postings, restricted to what the user may see (a mask kept per
        snapshot and user / filter). Totals are exact.
        """
        page = max(1, page)
        page_size = max(1, min(page_size, 50))
        ranker = self._ranker()
        words = [w.lower() for w in _WORD.findall(query)]
        if not words and not (doc_types or tags):
            return SearchResult(hits=[], total=0, page=page)
        allow = ranker.allowed(tuple(doc_types), tuple(t.lower() for t in tags),
                               visible_owner_id, include_drafts)
        limit = page * page_size
        if not words:  # filters only: every visible document of that type / tag, in order
            ranked = Ranked(first_documents(allow, limit), int(allow.sum()))
        else:
            per_word = self._word_queries(words)
            ranked = (ranker.rank(per_word, allow, limit, fallback=len(words) > 1)
                      if per_word else Ranked([], 0))
        suggestions: list[str] = []
        if words and (ranked.total < 2 or ranked.partial):
            suggestions = self._suggest(ranker.reader, words)
        marker = snippet_marker(tuple(words))
        reader = ranker.reader
        hits: list[SearchHit] = []
        for docnum, score in ranked.top[(page - 1) * page_size:limit]:
            stored = reader.stored_fields(docnum)
            hits.append(SearchHit(id=int(stored["id"]), title=stored.get("title") or "",
                                  doc_type=stored.get("doc_type") or "", score=float(score),
                                  snippet=snippet(stored.get("text") or "", marker)))
        return SearchResult(hits=hits, total=ranked.total, page=page, suggestions=suggestions,
                            partial=ranked.partial, total_exact=True)

    def _ranker(self) -> SnapshotRanker:
        """The ranker of the current snapshot (a new one after a commit)."""
        snapshot = self._snapshots.current()
        ranker = self._snapshot_ranker
        if ranker is None or ranker.snapshot is not snapshot:
            ranker = self._snapshot_ranker = SnapshotRanker(self._arrays, snapshot, _SCORABLE)
        return ranker

    def _word_queries(self, words: list[str]) -> list[tuple[Alternative, ...]]:
        """Per query word (stop words left out), the terms it may match, in every field
        (title and tags boosted): what the word becomes through each field's analyser."""
        return [_alternatives(word) for word in words if word not in STOP_WORDS]

    def _vocabulary(self) -> list[str]:
        if self._vocab_words is None:
            self._vocab_words = list(self._vocab)
        return self._vocab_words

    def _suggest(self, reader: Any, words: list[str]) -> list[str]:
        """A corrected query when some words are unknown ("did you mean")."""
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


def _bulk_words(writer: BulkWriter) -> Counter[str]:
    """The words of the documents' titles and bodies (their text fields' values), as
    `_WORD.findall(text.lower())` finds them: in ASCII text each word lies inside one
    token of the analysers, so the tokens' counts give them."""
    words: Counter[str] = Counter()
    counted, whole = writer.text_tokens()
    for token, n in counted:
        for word in _WORD.findall(token.lower()):
            words[word] += n
    for text in whole:
        words.update(_WORD.findall(text.lower()))
    return words


def _many_segments(writer: Any) -> bool:
    """Whether a commit should merge the small segments (Whoosh's MERGE_SMALL): each
    commit of a few documents writes a segment of its own, and every search reads every
    segment, so past MERGE_SEGMENTS the small ones are merged (cheap: they are small)."""
    return len(writer.segments) >= MERGE_SEGMENTS


def _cancel(writer: Any) -> None:
    writer.cancel()


def _analysed(field: str, word: str, schema: Schema) -> tuple[str, ...]:
    return _analysed_cached(field, word) if schema is not None else ()


@functools.lru_cache(maxsize=65536)
def _analysed_cached(field: str, word: str) -> tuple[str, ...]:
    """The terms a word becomes in a field (analysers are pure: cached)."""
    analyzer: Any = _ANALYSIS_SCHEMA[field].analyzer  # typed Optional by whoosh3
    return tuple(t.text for t in analyzer(word))


@functools.lru_cache(maxsize=65536)
def _alternatives(word: str) -> tuple[Alternative, ...]:
    return tuple(Alternative(field, term, FIELD_BOOSTS.get(field, 1.0))
                 for field in SEARCH_FIELDS for term in _analysed_cached(field, word))


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

