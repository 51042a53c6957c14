"""The index's current snapshot for searching, its segment readers kept across commits.

Whoosh's `Index.searcher()` opens a reader for every segment of every new snapshot: at
50k documents, after each commit, tens of milliseconds of opening files and reading
column headers before the first search (and `Searcher.refresh`, which reuses readers, also
keeps the deletions of the old snapshot and segments merged away). Here a segment's
reader is opened once and kept while the segment is in the index; a snapshot is the
readers of its TOC's segments, with the TOC's own segment objects for the deletions
(search_index.arrays applies them as a mask). Readers of segments that left the index are
closed one refresh later (a search still running on the previous snapshot may read them).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from whoosh.reading import EmptyReader, IndexReader, MultiReader, SegmentReader

REFRESH_SECONDS = 1.0  # how often another process's commit is looked for
_OPEN_TRIES = 10


@dataclass(frozen=True)
class Snapshot:
    reader: IndexReader  # of every segment (deleted documents included)
    segments: tuple[Any, ...]  # the TOC's segment objects: their deletions are current
    generation: int


class SnapshotReaders:
    """The current snapshot of a Whoosh index; `changed()` after a commit of ours."""

    def __init__(self, ix: Any) -> None:
        self._ix = ix
        self._readers: dict[str, SegmentReader] = {}
        self._retired: list[SegmentReader] = []
        self._current: Snapshot | None = None
        self._checked = 0.0
        self._dirty = False
        self._lock = threading.Lock()

    def changed(self) -> None:
        self._dirty = True

    def current(self) -> Snapshot:
        """The snapshot of the latest commit (looked for after a commit of this process,
        and at most every REFRESH_SECONDS for another process's)."""
        snapshot = self._current
        now = time.monotonic()
        if snapshot is not None and not self._dirty and now - self._checked <= REFRESH_SECONDS:
            return snapshot
        with self._lock:
            self._dirty = False
            self._checked = now
            if (self._current is None
                    or self._ix.latest_generation() != self._current.generation):
                self._current = self._open()
            return self._current

    def _open(self) -> Snapshot:
        for attempt in range(_OPEN_TRIES):
            toc = self._ix._read_toc()
            try:
                readers = [self._segment_reader(toc, segment) for segment in toc.segments]
            except OSError:  # a writer removed a merged segment's files meanwhile
                if attempt == _OPEN_TRIES - 1:
                    raise
                time.sleep(0.05)
                continue
            break
        reader: IndexReader
        if not readers:
            reader = EmptyReader(toc.schema)
        elif len(readers) == 1:
            reader = readers[0]
        else:
            reader = MultiReader(list(readers), generation=toc.generation)
        kept = {segment.segment_id() for segment in toc.segments}
        for old in self._retired:
            old.close()
        self._retired = [r for sid, r in self._readers.items() if sid not in kept]
        self._readers = {sid: r for sid, r in self._readers.items() if sid in kept}
        return Snapshot(reader, tuple(toc.segments), toc.generation)

    def _segment_reader(self, toc: Any, segment: Any) -> SegmentReader:
        found = self._readers.get(segment.segment_id())
        if found is None:
            found = SegmentReader(self._ix.storage, toc.schema, segment,
                                  generation=toc.generation)
            if found.doc_count_all():
                found.stored_fields(0)  # opens the stored fields' column: part of opening
            self._readers[segment.segment_id()] = found
        return found

    def close(self) -> None:
        with self._lock:
            for reader in [*self._readers.values(), *self._retired]:
                reader.close()
            self._readers, self._retired, self._current = {}, [], None
