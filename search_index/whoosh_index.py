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

import functools
import heapq
import json
import os
import re
import shutil
import threading
import time
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rapidfuzz import process as rf_process
from rapidfuzz.distance import Levenshtein
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, W3PerDocReader, _lenfield
from whoosh.columns import FixedBytesColumn
from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema
from whoosh.lang.porter import stem as porter_stem
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length

from core.ports import IndexedDocument, SearchHit, SearchResult
from search_index.analysis import (
    STOP_WORDS,
    english_analyzer,
    indonesian_analyzer,
    stem_id,
    term_counter,
)
from search_index.bulk import BulkSegmentWriter, bulk_capable

SCHEMA_VERSION = "kb-4"
TITLE_BOOST = 3.0
TAG_BOOST = 2.0
SEARCH_FIELDS = ("title_en", "title_id", "body_en", "body_id", "tags")
FIELD_BOOSTS = {"title_en": TITLE_BOOST, "title_id": TITLE_BOOST, "tags": TAG_BOOST}
SNIPPET_CHARS = 180
_B, _K1 = 0.75, 1.2  # whoosh.scoring.BM25F's defaults: the searcher's weighting
_POSTINGS_CACHED = 2_000_000  # postings kept per snapshot (arrays: about 16 MB)
_BYTE_LENGTH = [byte_to_length(b) for b in range(256)]
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_REFRESH_SECONDS = 1.0
_MARKUP = re.compile(r"(?:^|\s)(?:#{1,6}|[-|]{2,}|\|)(?=\s|$)")


def _patch_whoosh() -> None:
    """Whoosh 2.7 checks the disk for a missing length column on every posting it scores
    or writes (`has_column` is not cached when the answer is no): cache it per reader.
    Segment files are immutable once written, so the answer cannot change."""
    from whoosh.codec import whoosh3

    reader_class: Any = whoosh3.W3PerDocReader
    if getattr(reader_class, "_sfa_cached_has_column", False):
        return
    original = reader_class.has_column

    def has_column(self: Any, fieldname: str) -> bool:
        cache = self.__dict__.setdefault("_sfa_columns", {})
        if fieldname not in cache:
            cache[fieldname] = original(self, fieldname)
        return bool(cache[fieldname])

    reader_class.has_column = has_column
    reader_class._sfa_cached_has_column = True


_patch_whoosh()


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
_FAST_FIELDS = {"title_en": term_counter(porter_stem), "body_en": term_counter(porter_stem),
                "title_id": term_counter(stem_id), "body_id": term_counter(stem_id)}


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
        self._snapshot: _Snapshot | None = None  # caches of the current searcher
        self._versions: dict[int, int] | None = None
        self._versions_generation = -1
        self._vocab = _load_vocab(self.path)
        self._vocab_words: list[str] | None = None

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
        """Add or replace documents; returns how many were written (one commit).

        Into an empty index (a rebuild) the documents go through the bulk writer."""
        with self._write_lock:
            writer, bulk = self._writer()
            count = 0
            words: Counter[str] = Counter()
            try:
                known = self._known_versions()  # read under the index lock: current
                for doc in docs:
                    fields = _fields(doc)
                    words.update(_WORD.findall(doc.title.lower()))
                    words.update(_WORD.findall(doc.body.lower()))
                    if not bulk and doc.id in known:
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
            writer.commit(merge=not bulk and count >= 1000)
            self._after_commit(writer.generation)
            for word, n in words.items():
                if len(word) >= 3 and not word.isdigit() and word not in STOP_WORDS:
                    self._vocab[word] += n
            self._save_vocab()
            return count

    def _writer(self) -> tuple[Any, bool]:
        """A writer holding the index lock: the bulk writer when the index is empty."""
        if self._ix.doc_count_all() == 0 and bulk_capable(self._schema):
            writer = BulkSegmentWriter(self._ix, fast_fields=_FAST_FIELDS, timeout=30.0,
                                       limitmb=self.limitmb)
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
            self._ix = whoosh_index.create_in(str(self.path), self._schema)
            (self.path / "SCHEMA").write_text(SCHEMA_VERSION)
            self._versions = {}
            self._after_commit()
            self._snapshot = None
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
        tmp = self.path / "vocab.json.tmp"
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
            if versions is None:
                versions = {}
                with self._ix.reader() as reader:
                    for _docnum, stored in reader.iter_docs():
                        versions[int(stored["id"])] = int(stored["rev"])
                self._versions, self._versions_generation = versions, generation
                self._save_versions()
            self._versions, self._versions_generation = versions, generation
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
            self._snapshot = None
        elif self._dirty or now - self._searcher_checked > _REFRESH_SECONDS:
            self._dirty = False
            self._searcher_checked = now
            if self._ix.latest_generation() != self._searcher.reader().generation():
                old, self._searcher = self._searcher, self._ix.searcher()
                self._snapshot = None
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
        """Every word must match (title boosted over body, BM25F as Whoosh scores it); when
        no document has every word, any word, best first (`partial`).

        The matching documents are found with set operations on posting lists read block by
        block (cached per snapshot), so the count is exact and cheap, and deciding that no
        document has every word costs no scoring; only the matching documents are scored.
        """
        page = max(1, page)
        page_size = max(1, min(page_size, 50))
        searcher = self.searcher()
        snap = self._snapshot_for(searcher)
        words = [w.lower() for w in _WORD.findall(query)]
        if not words and not (doc_types or tags):
            return SearchResult(hits=[], total=0, page=page)
        allowed = snap.allowed(tuple(doc_types), tuple(t.lower() for t in tags),
                               visible_owner_id, include_drafts)
        limit = page * page_size
        partial = False
        scores: dict[int, float]
        if not words:  # filters only: every visible document of that type / tag, in order
            total = len(allowed)
            top = [(docnum, 1.0) for docnum in heapq.nsmallest(limit, allowed)]
        else:
            per_word, missing = self._terms_of(words, searcher.reader())
            matched: set[int] = set()
            if per_word and not missing:
                matched = snap.all_of(per_word, allowed)
            if not matched and len(words) > 1 and per_word:
                matched = snap.any_of(per_word, allowed)  # nothing has every word
                partial = bool(matched)
            total = len(matched)
            scores = snap.scores(per_word, matched) if matched else {}
            top = heapq.nsmallest(limit, scores.items(), key=lambda kv: (-kv[1], kv[0]))
        suggestions: list[str] = []
        if words and (total < 2 or partial):
            suggestions = self._suggest(searcher, words)
        marker = _marker(words, self._schema)  # not ix.schema: that reads the TOC file
        hits: list[SearchHit] = []
        for docnum, score in top[(page - 1) * page_size:]:
            stored = searcher.stored_fields(docnum)
            hits.append(SearchHit(id=int(stored["id"]), title=stored.get("title") or "",
                                  doc_type=stored.get("doc_type") or "", score=float(score),
                                  snippet=_snippet(stored.get("text") or "", marker)))
        return SearchResult(hits=hits, total=total, page=page, suggestions=suggestions,
                            partial=partial, total_exact=True)

    def drop_cached_postings(self) -> None:
        """Forget the posting lists read so far (benchmarks measure the uncached cost)."""
        if self._snapshot is not None:
            self._snapshot.drop_postings()

    def _terms_of(self, words: list[str], reader: Any
                  ) -> tuple[list[list[tuple[str, str, float]]], bool]:
        """Per query word (stop words left out), the (field, term, boost) it may match in
        the index; `missing` when some word matches no term at all."""
        per_word: list[list[tuple[str, str, float]]] = []
        missing = False
        for word in words:
            if word in STOP_WORDS:
                continue
            alternatives = [(field, term, FIELD_BOOSTS.get(field, 1.0))
                            for field in SEARCH_FIELDS for term in _analysed_cached(field, word)
                            if (field, term) in reader]
            if alternatives:
                per_word.append(alternatives)
            else:
                missing = True
        return per_word, missing

    def _snapshot_for(self, searcher: Searcher) -> _Snapshot:
        snap = self._snapshot
        if snap is None or snap.searcher is not searcher:
            snap = self._snapshot = _Snapshot(searcher)
        return snap

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


class _Snapshot:
    """Posting lists, field lengths and visibility sets of one searcher snapshot (global
    document numbers), read on first use and kept while the snapshot is current."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self._lock = threading.Lock()
        self._postings: dict[tuple[str, str], tuple[array[int], array[float]]] = {}
        self._cached = 0
        self._lengths: dict[str, list[int]] = {}
        self._allowed: dict[tuple[Any, ...], frozenset[int]] = {}
        self._stats: dict[tuple[str, str], tuple[float, float]] = {}

    # -- posting lists -----------------------------------------------------------------------
    def postings(self, field: str, term: str) -> tuple[array[int], array[float]]:
        """Document numbers and weights (term frequencies) of a term, deleted ones included
        (the visibility sets never hold a deleted document)."""
        key = (field, term)
        found = self._postings.get(key)
        if found is not None:
            return found
        ids: array[int] = array("I")
        weights: array[float] = array("f")
        btext = term.encode("utf-8")
        for sub, offset in self.searcher.leaf_searchers():
            reader = sub.reader()
            if (field, btext) not in reader:
                continue
            _read_postings(reader, field, btext, offset, ids, weights)
        with self._lock:
            if self._cached > _POSTINGS_CACHED:
                self._postings.clear()
                self._cached = 0
            self._postings[key] = (ids, weights)
            self._cached += len(ids)
        return ids, weights

    def drop_postings(self) -> None:
        with self._lock:
            self._postings.clear()
            self._cached = 0

    def docs(self, field: str, term: str) -> frozenset[int]:
        """The documents of a term as a set (built per query: sets are large and tracked by
        the garbage collector, the arrays behind them are cached instead)."""
        return frozenset(self.postings(field, term)[0])

    def _word_docs(self, alternatives: list[tuple[str, str, float]]) -> frozenset[int]:
        if len(alternatives) == 1:
            return self.docs(alternatives[0][0], alternatives[0][1])
        return frozenset().union(*(self.docs(field, term) for field, term, _ in alternatives))

    def all_of(self, per_word: list[list[tuple[str, str, float]]], allowed: frozenset[int]
               ) -> set[int]:
        """The allowed documents matching every word, rarest word first."""
        sets = sorted((self._word_docs(alts) for alts in per_word), key=len)
        result = set(allowed.intersection(sets[0]))
        for docs in sets[1:]:
            if not result:
                break
            result.intersection_update(docs)
        return result

    def any_of(self, per_word: list[list[tuple[str, str, float]]], allowed: frozenset[int]
               ) -> set[int]:
        found: set[int] = set()
        for alternatives in per_word:
            found.update(self._word_docs(alternatives))
        found.intersection_update(allowed)
        return found

    # -- scoring -----------------------------------------------------------------------------
    def scores(self, per_word: list[list[tuple[str, str, float]]], matched: set[int]
               ) -> dict[int, float]:
        """BM25F as Whoosh computes it (its default B and K1; title and tags boosted; tags
        not length-normalised), summed over every matching term, for `matched` only."""
        searcher = self.searcher
        schema = searcher.schema
        scores = dict.fromkeys(matched, 0.0)
        for alternatives in per_word:
            for field, term, boost in alternatives:
                ids, weights = self.postings(field, term)
                get = scores.get
                if not schema[field].scorable:
                    for docnum, weight in zip(ids, weights, strict=True):
                        old = get(docnum)
                        if old is not None:
                            scores[docnum] = old + weight * boost
                    continue
                idf, avgfl = self._term_stats(field, term)
                lengths = self.lengths(field)
                k1, b = _K1, _B
                for docnum, weight in zip(ids, weights, strict=True):
                    old = get(docnum)
                    if old is not None:
                        score = idf * ((weight * (k1 + 1)) /
                                       (weight + k1 * ((1 - b) + b * lengths[docnum] / avgfl)))
                        scores[docnum] = old + (score * boost if boost != 1.0 else score)
        return scores

    def _term_stats(self, field: str, term: str) -> tuple[float, float]:
        key = (field, term)
        found = self._stats.get(key)
        if found is None:
            searcher = self.searcher
            found = self._stats[key] = (searcher.idf(field, term),
                                        searcher.avg_field_length(field) or 1)
        return found

    def lengths(self, field: str) -> list[int]:
        """Each document's length of `field` as Whoosh stores it (one byte, decoded)."""
        found = self._lengths.get(field)
        if found is None:
            found = []
            for sub, offset in self.searcher.leaf_searchers():
                del found[offset:]
                found.extend(_field_lengths(sub.reader(), field))
            self._lengths[field] = found
        return found

    # -- visibility --------------------------------------------------------------------------
    def deleted(self) -> set[int]:
        """Deleted (or replaced) documents still in the segments."""
        found: set[int] = set()
        for sub, offset in self.searcher.leaf_searchers():
            reader = sub.reader()
            if reader.has_deletions():
                gone = getattr(reader, "deleted_docs_set", None)
                if gone is None:
                    gone = [d for d in range(reader.doc_count_all()) if reader.is_deleted(d)]
                found.update(docnum + offset for docnum in gone)
        return found

    def allowed(self, doc_types: tuple[str, ...], tags: tuple[str, ...],
                owner_id: int | None, include_drafts: bool) -> frozenset[int]:
        """The documents a search may return: published (and the drafts this user may
        see), of one of `doc_types`, with one of `tags` (deleted documents never)."""
        key = (doc_types, tags, owner_id, include_drafts)
        found = self._allowed.get(key)
        if found is not None:
            return found
        if doc_types or tags:
            visible = set(self.allowed((), (), owner_id, include_drafts))
            if doc_types:
                visible.intersection_update(
                    frozenset().union(*(self.docs("doc_type", t) for t in doc_types)))
            if tags:
                visible.intersection_update(
                    frozenset().union(*(self.docs("tags", t) for t in tags)))
            found = frozenset(visible)
        else:
            visible = set(self.docs("status", "published"))
            if include_drafts:
                visible.update(self.docs("status", "draft"))
            elif owner_id is not None:
                visible.update(self.docs("status", "draft").intersection(
                    self.docs("owner", str(owner_id))))
            visible.difference_update(self.deleted())
            found = frozenset(visible)
        with self._lock:
            if len(self._allowed) > 64:
                self._allowed.clear()
            self._allowed[key] = found
        return found


def _read_postings(reader: Any, field: str, btext: bytes, offset: int, ids: array[int],
                   weights: array[float]) -> None:
    """Append a segment's posting list of a term, a block at a time."""
    matcher = reader._terms.matcher(field, btext, reader.schema[field].format)
    if isinstance(matcher, W3LeafMatcher):
        while matcher.is_active():
            matcher._read_ids()
            matcher._read_weights()
            block_ids = matcher._ids
            ids.extend(block_ids if not offset else [d + offset for d in block_ids])
            weights.extend(matcher._weights)
            matcher._next_block()
        return
    while matcher.is_active():  # postings stored some other way: one by one
        ids.append(matcher.id() + offset)
        weights.append(matcher.weight())
        matcher.next()


def _field_lengths(reader: Any, field: str) -> list[int]:
    count = reader.doc_count_all()
    perdoc = getattr(reader, "_perdoc", None)
    column = None
    if isinstance(perdoc, W3PerDocReader):
        column = perdoc._cached_reader(_lenfield(field), LENGTHS_COLUMN)
    if isinstance(column, FixedBytesColumn.Reader) and column._fixedlen == 1:
        raw = column._dbfile.get(column._basepos, column._count)
        return [_BYTE_LENGTH[b] for b in raw] + [0] * (count - len(raw))
    return [reader.doc_field_length(d, field, 0) or 0 for d in range(count)]


def _analysed(field: str, word: str, schema: Schema) -> tuple[str, ...]:
    return _analysed_cached(field, word) if schema is not None else ()


@functools.lru_cache(maxsize=65536)
def _analysed_cached(field: str, word: str) -> tuple[str, ...]:
    """The terms a word becomes in a field (analysers are pure: cached)."""
    return tuple(t.text for t in _ANALYSIS_SCHEMA[field].analyzer(word))


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

