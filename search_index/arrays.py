"""Whoosh's postings and field lengths as numpy arrays, kept per segment.

A Whoosh segment never changes once written (a later commit adds segments and marks
deletions), so what is read of it is kept by its segment id and shared by every snapshot
that holds it: a commit of one document costs the next search the reading of one small
segment, not of the index. Per snapshot only the deletions are applied (`SnapshotArrays`).

Postings are read a block at a time from Whoosh's own W3 codec (`W3LeafMatcher`: a block is
the pickled tuple of 128 delta-encoded ids and their weights), skipping the per-posting
matcher calls that make Whoosh's pure-Python query evaluation slow; any other matcher is
read through the generic `Matcher` interface.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
from numpy.typing import NDArray
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.reading import IndexReader, TermNotFound
from whoosh.util.numeric import byte_to_length

Ids = NDArray[np.int32]
Floats = NDArray[np.float32]
Mask = NDArray[np.bool_]
Postings = tuple[Ids, Floats]  # document numbers in the segment (ascending), weights (tf)

_BYTE_LENGTHS = np.array([byte_to_length(b) for b in range(256)], dtype=np.float32)
POSTINGS_KEPT = 3_000_000  # postings kept in memory per index (8 bytes each: ~24 MB)
MASKS_KEPT = 256  # filter terms' masks per segment
TERMS_KEPT = 200_000  # (segment, field, term) entries, the empty ones included
_EMPTY: Postings = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))


class SegmentArrays:
    """What has been read of one segment: field lengths and postings, by term."""

    def __init__(self, reader: IndexReader, segment_id: str) -> None:
        self.segment_id = segment_id
        self.reader = reader  # the reader of the first snapshot that held it
        self.size = reader.doc_count_all()
        self.lengths: dict[str, Floats] = {}
        self.masks: dict[tuple[str, str], Mask] = {}  # of filter terms (status, type, tag)

    def field_lengths(self, field: str) -> Floats:
        """The length (in terms, as Whoosh keeps it: a byte) of `field` in each document."""
        found = self.lengths.get(field)
        if found is None:
            found = self.lengths[field] = _read_lengths(self.reader, field, self.size)
        return found


class ArrayStore:
    """Segment arrays of one index, with the postings read so far (least recently used
    dropped past POSTINGS_KEPT postings or TERMS_KEPT terms); safe to share between
    threads."""

    def __init__(self, kept: int = POSTINGS_KEPT) -> None:
        self.kept = kept
        self._segments: dict[str, SegmentArrays] = {}
        self._postings: dict[str, dict[tuple[str, str], Postings]] = {}  # by segment
        self._order: OrderedDict[tuple[str, str, str], None] = OrderedDict()  # LRU first
        self._held = 0
        self._lock = threading.Lock()  # a matcher seeks in its reader's shared file

    def segment(self, reader: IndexReader) -> SegmentArrays:
        segment = reader.segment()
        segment_id = segment.segment_id() if segment is not None else f"reader-{id(reader)}"
        found = self._segments.get(segment_id)
        if found is None:
            with self._lock:
                found = self._segments.setdefault(segment_id, SegmentArrays(reader, segment_id))
                self._postings.setdefault(segment_id, {})
        return found

    def postings(self, seg: SegmentArrays, reader: IndexReader, field: str, text: str
                 ) -> Postings:
        """Every posting of `field:text` in the segment (deleted documents included)."""
        key = (field, text)
        with self._lock:
            terms = self._postings.setdefault(seg.segment_id, {})
            found = terms.get(key)
            if found is not None:
                self._order.move_to_end((seg.segment_id, field, text))
                return found
            found = terms[key] = _read_postings(reader, field, text)
            self._order[(seg.segment_id, field, text)] = None
            self._held += len(found[0])
            while ((self._held > self.kept or len(self._order) > TERMS_KEPT)
                   and len(self._order) > 1):
                (segment_id, old_field, old_text), _ = self._order.popitem(last=False)
                dropped = self._postings.get(segment_id, {}).pop((old_field, old_text), None)
                if dropped is not None:
                    self._held -= len(dropped[0])
            return found

    def keep_only(self, segment_ids: set[str]) -> None:
        """Forget the segments a newer snapshot no longer holds (merged away)."""
        gone = [s for s in self._segments if s not in segment_ids]
        if not gone:
            return
        with self._lock:
            for segment_id in gone:
                self._segments.pop(segment_id, None)
                for ids, _ in self._postings.pop(segment_id, {}).values():
                    self._held -= len(ids)
            # entries of gone segments stay in the LRU order until they come up


class SnapshotArrays:
    """The segments of one snapshot (a searcher's reader) in document-number order, with
    their deletions as of that snapshot: document numbers are the searcher's."""

    def __init__(self, store: ArrayStore, reader: IndexReader, segments: tuple[Any, ...]
                 ) -> None:
        """`segments`: the snapshot's own segment objects (a reader kept from an earlier
        snapshot holds that snapshot's deletions)."""
        self.store = store
        self.reader = reader
        self.size = reader.doc_count_all()
        self.leaves: list[tuple[IndexReader, int, SegmentArrays]] = [
            (leaf, offset, store.segment(leaf)) for leaf, offset in reader.leaf_readers()
            if leaf.doc_count_all()]
        store.keep_only({seg.segment_id for _, _, seg in self.leaves})
        self.live = np.ones(self.size, dtype=np.bool_)
        current = {segment.segment_id(): segment for segment in segments}
        for _, offset, seg in self.leaves:
            segment = current.get(seg.segment_id)
            if segment is not None and segment.has_deletions():
                deleted = np.fromiter(segment.deleted_docs(), dtype=np.int64)
                self.live[deleted + offset] = False
        self._lengths: dict[str, Floats] = {}

    def postings(self, field: str, text: str) -> list[tuple[Ids, Floats, int]]:
        """The postings of a term in each segment that has it: (ids, weights, offset)."""
        out = []
        for leaf, offset, seg in self.leaves:
            ids, weights = self.store.postings(seg, leaf, field, text)
            if len(ids):
                out.append((ids, weights, offset))
        return out

    def term_docs(self, field: str, text: str) -> Mask:
        """The live documents with `text` in `field`, as a mask (each segment's part kept
        with the segment: a filter term's documents of a segment never change)."""
        parts = []
        for leaf, _, seg in self.leaves:
            part = seg.masks.get((field, text))
            if part is None:
                part = np.zeros(seg.size, dtype=np.bool_)
                part[self.store.postings(seg, leaf, field, text)[0]] = True
                if len(seg.masks) >= MASKS_KEPT:
                    seg.masks.pop(next(iter(seg.masks)))
                seg.masks[(field, text)] = part
            parts.append(part)
        mask = np.concatenate(parts) if parts else np.zeros(0, dtype=np.bool_)
        return mask & self.live

    def field_lengths(self, field: str) -> Floats:
        """Lengths of `field` over every document of the snapshot."""
        found = self._lengths.get(field)
        if found is None:
            parts = [seg.field_lengths(field) for _, _, seg in self.leaves]
            found = (np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32))
            self._lengths[field] = found
        return found


def _read_lengths(reader: IndexReader, field: str, size: int) -> Floats:
    """Whoosh's length byte of `field` for each document, decoded; 1 where none (as
    Whoosh's scorers default)."""
    raw = np.zeros(size, dtype=np.uint8)
    perdoc = getattr(reader, "_perdoc", None)
    column = (perdoc._cached_reader(f"_{field}_len", LENGTHS_COLUMN)
              if perdoc is not None and hasattr(perdoc, "_cached_reader") else None)
    if column is not None and hasattr(column, "_dbfile"):  # W3: one fixed byte a document
        count = min(column._count, size)
        if count:
            raw[:count] = np.frombuffer(column._dbfile.get(column._basepos, count),
                                        dtype=np.uint8)
        lengths = _BYTE_LENGTHS[raw]
    else:
        lengths = np.array([reader.doc_field_length(d, field, 1) or 1 for d in range(size)],
                           dtype=np.float32)
    lengths[lengths == 0] = 1.0
    return lengths


def _read_postings(reader: IndexReader, field: str, text: str) -> Postings:
    try:
        matcher: Any = reader.postings(field, text)
    except TermNotFound:
        return _EMPTY
    except KeyError:
        return _EMPTY
    if isinstance(matcher, FilterMatcher):  # the segment's deletions: applied per snapshot
        matcher = matcher.child
    if isinstance(matcher, W3LeafMatcher):
        return _read_blocks(matcher)
    ids: list[int] = []
    weights: list[float] = []
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        matcher.next()
    return np.array(ids, dtype=np.int32), np.array(weights, dtype=np.float32)


def _read_blocks(matcher: Any) -> Postings:
    """All postings of a W3 matcher, a block at a time: each block's ids are deltas from
    the block's start (its first id is whole), its weights None (all 1), one float, or
    one a posting."""
    deltas: list[tuple[int, ...]] = []
    weights: list[Any] = []
    previous_max = -1
    while not matcher._atend:
        matcher._read_data()
        ids, block_weights, _ = matcher._data
        count = matcher._blocklength
        if previous_max >= 0:  # rebase the block's first id on the previous block's last
            ids = (ids[0] - previous_max, *ids[1:])
        deltas.append(ids)
        if block_weights is None:
            weights.append(np.ones(count, dtype=np.float32))
        elif isinstance(block_weights, float):
            weights.append(np.full(count, block_weights, dtype=np.float32))
        else:
            weights.append(np.asarray(block_weights, dtype=np.float32))
        previous_max = matcher._maxid
        if matcher._lastblock:
            break
        matcher._goto(matcher._nextoffset)
    flat = np.fromiter(itertools.chain.from_iterable(deltas), dtype=np.int64)
    return (np.cumsum(flat).astype(np.int32),
            np.concatenate(weights) if weights else _EMPTY[1])
