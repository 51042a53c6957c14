"""Values computed from the database, kept while what they were computed from is unchanged.

Each value is stored with a stamp (a tuple read by one cheap query: counts, highest ids, last
update times) and used again while a fresh stamp equals it. One cache serves one database:
the composition root makes the configurator's (Services.configurator) and passes it in; a
caller without one computes afresh. Safe to share between threads.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Any


class StampedCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Hashable, tuple[Hashable, Any]] = {}

    def get(self, key: Hashable, stamp: Hashable) -> Any | None:
        """The value kept for `key` when it was computed at `stamp`, else None."""
        with self._lock:
            found = self._entries.get(key)
        return found[1] if found is not None and found[0] == stamp else None

    def put(self, key: Hashable, stamp: Hashable, value: Any) -> None:
        with self._lock:
            self._entries[key] = (stamp, value)

    def __len__(self) -> int:
        return len(self._entries)
