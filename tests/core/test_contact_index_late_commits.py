"""Another worker's contact index stays in step when writes commit out of order: a rename
or a new contact whose transaction began (and stamped updated_at, or took its id) before
one that committed first is still picked up at the next background sync (force=True, what
each node runs every 2 s)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, insert, select, update

from core.contact_index import ContactIndex
from core.contact_records import CONTACT
from core.db import Database
from core.demo import DemoWorld
from core.models import Company, Contact


def _names(index: ContactIndex, query: str) -> set[int]:
    return {hit.id for hit in index.search(query, kinds=(CONTACT,)) if hit.score >= 90}


def test_out_of_order_commits_are_not_missed(database: Database, world: DemoWorld,
                                             clock) -> None:
    other = ContactIndex(min_sync_interval=0)  # a worker that sees only committed rows
    now = clock.now()
    with database.session() as s:
        other.sync(s)
        ids = list(s.scalars(select(Contact.id).order_by(Contact.id).limit(2)))
        company = s.scalar(select(Company.id).order_by(Company.id).limit(1))
        top = s.scalar(select(func.max(Contact.id)))
    # Plain SQL on the connection (no ORM flush): as another process would write.
    with database.engine.begin() as conn:  # committed first, stamped later
        conn.execute(update(Contact).where(Contact.id == ids[0]).values(
            name="Quentin Lachance", updated_at=now + timedelta(seconds=10)))
        conn.execute(insert(Contact).values(
            id=top + 2, company_id=company, name="Philippa Ostergaard",
            is_decision_maker=False, created_at=now, updated_at=now + timedelta(seconds=10),
            version=1))
    with database.session() as s:
        other.sync(s, force=True)
    assert _names(other, "quentin lachance") == {ids[0]}
    assert _names(other, "philippa ostergaard") == {top + 2}
    with database.engine.begin() as conn:  # began earlier, committed later: older stamps
        conn.execute(update(Contact).where(Contact.id == ids[1]).values(
            name="Rosalind Vanterpool", updated_at=now + timedelta(seconds=5)))
        conn.execute(insert(Contact).values(
            id=top + 1, company_id=company, name="Octavia Brennerman",
            is_decision_maker=False, created_at=now, updated_at=now + timedelta(seconds=5),
            version=1))
    with database.session() as s:
        other.sync(s, force=True)
    assert _names(other, "rosalind vanterpool") == {ids[1]}
    assert _names(other, "octavia brennerman") == {top + 1}
