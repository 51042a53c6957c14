"""The in-memory fuzzy lookup index of companies and contacts (rapidfuzz + numpy).

How a query is answered, with no pass over the records:
- names are normalised (lower case, diacritics and punctuation removed, legal forms such as
  PT/CV/Tbk/Ltd/Inc and titles dropped) and split into tokens; each distinct token gets a
  number (the vocabulary);
- each query token finds its vocabulary tokens through a deletion-neighbourhood index (the
  token and every one-letter deletion of it, hashed: "suhatro" meets "suharto" through
  "suhato"), so one typo, a missing or extra letter or two swapped letters cost a few hash
  look-ups; a sorted vocabulary gives the completions of a partial name ("Hadi Eff" ->
  "effendi", shortest first); a token with neither is compared with rapidfuzz against the
  tokens that share its first three letters;
- candidates are the postings (token -> records, an inverted index) of the matched tokens
  of the most selective query token (a second one too when it is cheap, all of them when
  that finds nothing good), at most CANDIDATE_BUDGET records; each candidate is scored on
  every query token (order-free: word order does not matter) from its own token numbers,
  and the visible best few are re-ranked with WRatio;
- phone numbers are normalised with `phonenumbers` (region ID) and looked up by their last
  7 digits, an exact number scoring above a matching tail.

Memory: records, tokens, postings and the neighbourhood index are numpy arrays (about
110 MB at a million contacts); the vocabulary words are the only per-item Python objects.

Looking up many short spans of one message (spotting customers inside a sentence): call
`search(span, limit=3)` for each run of words; token matches are cached per word (until the
vocabulary changes), a word that matches no token returns at once, and the per-span cost at
100k records is about 0.05-0.1 ms, so 20 spans of one message fit in about 2 ms. Scores are
0-100; a span naming a record well scores 85 or more.

Updates are incremental (one record: its token numbers replaced; new postings go to small
side tables that are merged into the arrays in one pass now and then). Writes made in this
process are noticed by a SQLAlchemy flush hook on the database's sessionmaker
(`watch`, wired by the composition root); writes by other processes (an import, a
second worker) are picked up by polling a cheap fingerprint of the tables (count, max id,
max updated_at) at most every `min_sync_interval` seconds.

The records (columns, vocabulary, postings, updates) are core.contact_records; answering a
query, core.contact_search; here: loading them and keeping them in step with the database.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from core.contact_records import COMPANY, CONTACT
from core.contact_search import ContactSearch
from core.models import Company, Contact

# How far before the newest updated_at each sync looks again for late commits: longer than
# a write transaction lasts (an import commits at its end) plus the nodes' clock skew.
RECHECK_WINDOW = timedelta(minutes=2)


class ContactIndex(ContactSearch):
    """Fuzzy, scoped lookup over all companies and contacts of one database, kept in step
    with it. One per database, owned by whoever serves that database (the composition root
    puts it in Services.contacts) and passed to the lookups (core.contacts, core.customers).
    """

    def __init__(self, min_sync_interval: float = 1.0) -> None:
        super().__init__()
        self.min_sync_interval = min_sync_interval
        self._touched: set[tuple[int, int]] = set()
        self._fingerprint: tuple[Any, ...] | None = None
        # (kind) -> {id: updated_at} of the rows stamped within RECHECK_WINDOW of the newest
        self._recent: dict[int, dict[int, Any]] = {}
        self._last_sync = float("-inf")
        self.loaded = False

    # -- incremental updates ---------------------------------------------------------------
    def watch(self, sessions: Any) -> None:
        """Hear at once of the companies and contacts written through `sessions` (the
        database's sessionmaker: the composition root passes it), before any poll. The
        listener holds the index weakly and lives as long as that sessionmaker."""
        ref = weakref.ref(self)

        def after_flush(session: Session, _ctx: Any) -> None:
            index = ref()
            if index is not None and (touched := _flushed_records(session)):
                index.mark_touched(touched)

        event.listen(sessions, "after_flush", after_flush)

    def mark_touched(self, keys: Iterable[tuple[int, int]]) -> None:
        with self._lock:
            self._touched.update(keys)

    # -- loading and keeping in step with the database -------------------------------------
    def load(self, session: Session) -> None:
        """(Re)load everything from the database."""
        with self._lock:
            self._init_state()
            # Read first: a change committed while loading shows as a changed fingerprint.
            self._fingerprint = self._read_fingerprint(session)
            stamps: dict[int, list[tuple[int, Any]]] = {COMPANY: [], CONTACT: []}
            with self.bulk():
                for row in session.execute(select(
                        Company.id, Company.name, Company.territory_id, Company.owner_id,
                        Company.phone, Company.updated_at)):
                    self.upsert_company(row.id, row.name, row.territory_id, row.owner_id,
                                        (row.phone,))
                    stamps[COMPANY].append((row.id, row.updated_at))
                for crow in session.execute(select(
                        Contact.id, Contact.name, Contact.company_id, Contact.phone,
                        Contact.mobile, Contact.updated_at)):
                    self.upsert_contact(crow.id, crow.name, crow.company_id,
                                        (crow.phone, crow.mobile))
                    stamps[CONTACT].append((crow.id, crow.updated_at))
            for offset, kind in ((0, COMPANY), (3, CONTACT)):
                self._remember_recent(kind, stamps[kind], self._fingerprint[offset + 2])
            self._touched.clear()
            self._last_sync = time.monotonic()
            self.loaded = True

    @staticmethod
    def _read_fingerprint(session: Session) -> tuple[Any, ...]:
        out: list[Any] = []
        for model in (Company, Contact):
            row = session.execute(select(func.count(model.id), func.max(model.id),
                                         func.max(model.updated_at))).one()
            out.extend((int(row[0] or 0), int(row[1] or 0), row[2]))
        return tuple(out)

    def sync(self, session: Session, *, force: bool = False) -> None:
        """Bring the index in step with the database (cheap when nothing changed)."""
        with self._lock:
            if not self.loaded:
                self.load(session)
                return
            if self._touched:
                touched, self._touched = self._touched, set()
                self._refresh(session, touched)
            now = time.monotonic()
            if not force and now - self._last_sync < self.min_sync_interval:
                return
            self._last_sync = now
            fingerprint = self._read_fingerprint(session)
            if fingerprint != self._fingerprint:
                old = self._fingerprint or (0, 0, None, 0, 0, None)
                self._catch_up(session, old, fingerprint)
                self._fingerprint = fingerprint
            if force:
                self._recheck_recent(session, fingerprint)
                if self._pending:  # the background sync merges small side tables too
                    self._compact()

    def _remember_recent(self, kind: int, rows: Iterable[tuple[int, Any]], top: Any) -> None:
        """Note the stamps applied of the rows within RECHECK_WINDOW of the newest one."""
        if top is None:
            return
        since = top - RECHECK_WINDOW
        recent = self._recent.setdefault(kind, {})
        for record_id, stamp in rows:
            if stamp is not None and stamp >= since:
                recent[record_id] = stamp

    def _recheck_recent(self, session: Session, fingerprint: tuple[Any, ...]) -> None:
        """Look again at the rows stamped within RECHECK_WINDOW of the newest stamp and
        apply those not seen with that stamp: a write that began before another one but
        committed after it carries an older updated_at (or a lower id) than the fingerprint
        already saw, and changes no maximum. Run by `sync(force=True)` (the node's
        background sync), not on the lookup path."""
        for offset, model, kind in ((0, Company, COMPANY), (3, Contact, CONTACT)):
            top = fingerprint[offset + 2]
            if top is None:
                continue
            rows = session.execute(select(model.id, model.updated_at).where(
                model.updated_at >= top - RECHECK_WINDOW)).all()
            seen = self._recent.get(kind, {})
            changed = [row.id for row in rows if seen.get(row.id) != row.updated_at]
            self._recent[kind] = {row.id: row.updated_at for row in rows}
            if changed:
                if kind == COMPANY:
                    self._apply(session, changed, [])
                else:
                    self._apply(session, [], changed)

    def _refresh(self, session: Session, keys: set[tuple[int, int]]) -> None:
        company_ids = [i for k, i in keys if k == COMPANY]
        contact_ids = [i for k, i in keys if k == CONTACT]
        self._apply(session, company_ids, contact_ids)

    def _ids_of(self, kind: int) -> set[int]:
        size = self._size
        mask = self._alive[:size] & (self._kind[:size] == kind)
        return set(self._rid[:size][mask].tolist())

    def _contacts_of(self, company_id: int) -> list[int]:
        size = self._size
        mask = (self._alive[:size] & (self._kind[:size] == CONTACT)
                & (self._company[:size] == company_id))
        return self._rid[:size][mask].tolist()

    def _apply(self, session: Session, company_ids: list[int], contact_ids: list[int]) -> None:
        for chunk in _chunks(company_ids, 500):
            seen = set()
            for row in session.execute(select(
                    Company.id, Company.name, Company.territory_id, Company.owner_id,
                    Company.phone).where(Company.id.in_(chunk))):
                seen.add(row.id)
                self.upsert_company(row.id, row.name, row.territory_id, row.owner_id,
                                    (row.phone,))
            for missing in set(chunk) - seen:
                if self._ids[COMPANY].get(missing) < 0:
                    continue
                for contact_id in self._contacts_of(missing):
                    self.remove(CONTACT, contact_id)
                self.remove(COMPANY, missing)
        for chunk in _chunks(contact_ids, 500):
            seen = set()
            for crow in session.execute(select(
                    Contact.id, Contact.name, Contact.company_id, Contact.phone,
                    Contact.mobile).where(Contact.id.in_(chunk))):
                seen.add(crow.id)
                self.upsert_contact(crow.id, crow.name, crow.company_id,
                                    (crow.phone, crow.mobile))
            for missing in set(chunk) - seen:
                self.remove(CONTACT, missing)

    def _catch_up(self, session: Session, old: tuple[Any, ...], new: tuple[Any, ...]) -> None:
        for offset, model, kind in ((0, Company, COMPANY), (3, Contact, CONTACT)):
            if old[offset:offset + 3] == new[offset:offset + 3]:
                continue
            _count, max_id, max_updated = old[offset:offset + 3]
            clause = model.id > max_id
            if max_updated is not None:
                clause = clause | (model.updated_at >= max_updated)
            rows = session.execute(select(model.id, model.updated_at).where(clause)).all()
            ids = [row.id for row in rows]
            self._remember_recent(kind, rows, new[offset + 2])
            if kind == COMPANY:
                self._apply(session, ids, [])
            else:
                self._apply(session, [], ids)
            if self._count[kind] != new[offset]:
                # Something was deleted, or a row below the max id committed late: drop what
                # is gone, add what is missing.
                db_ids = set(session.scalars(select(model.id)))
                have = self._ids_of(kind)
                for i in have - db_ids:
                    self.remove(kind, i)
                missing = list(db_ids - have)
                if missing:
                    if kind == COMPANY:
                        self._apply(session, missing, [])
                    else:
                        self._apply(session, [], missing)

def _flushed_records(session: Session) -> list[tuple[int, int]]:
    """(kind, id) of the companies and contacts a flush is writing."""
    touched: list[tuple[int, int]] = []
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Contact) and obj.id is not None:
            touched.append((CONTACT, obj.id))
        elif isinstance(obj, Company) and obj.id is not None:
            touched.append((COMPANY, obj.id))
    return touched


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
