"""Logging a visit touches the contact's "last contacted" without a versioned write: reps
logging visits with one contact at once never conflict, and an edit of the contact made at
the same time is not refused (the scale-out test's 200 reps visiting one contact on
PostgreSQL exhausted the engine's 8 conflict retries)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.activities import log_activity
from core.clock import ManualClock
from core.db import Database
from core.models import Contact, User


def test_a_visit_does_not_conflict_with_an_edit_of_the_contact(
        database: Database, world, clock: ManualClock) -> None:
    if not database.is_postgres:
        pytest.skip("SQLite runs one writer at a time: the two transactions cannot overlap")
    with database.session() as s:
        contact_id = s.scalar(select(Contact.id).where(Contact.name == "Hendro Wibisono"))
    editing = database.sessionmaker()
    try:
        with editing.begin():
            contact = editing.get(Contact, contact_id)
            assert contact is not None
            version = contact.version
            later = clock.now() + timedelta(minutes=5)
            with database.session() as s:  # another rep logs a visit meanwhile
                budi = s.scalar(select(User).where(User.login == "budi"))
                other = s.get(Contact, contact_id)
                log_activity(s, budi, company=other.company, contact=other, kind="visit",
                             outcome="positive", notes=None, now=later)
            contact.job_title = "Head of Purchasing"  # the edit commits without a conflict
    finally:
        editing.close()
    with database.session() as s:
        contact = s.get(Contact, contact_id)
        assert contact.job_title == "Head of Purchasing"
        assert contact.last_contacted_at == later.replace(tzinfo=None) or \
            contact.last_contacted_at == later
        assert contact.version == version + 1  # the edit's bump only
