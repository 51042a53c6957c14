"""Knowledge service: permissions, check-out / check-in rules, expiry, concurrency (exactly
one wins, on SQLite and PostgreSQL), history, imports and the watched folder."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core import document_checkout as checkout
from core import knowledge as kb
from core import users as user_service
from core.clock import ManualClock
from core.db import Database
from core.errors import Conflict, DomainError, Forbidden, NotFound
from core.knowledge_search import parse_query
from core.models import NoticeRow, Team, User
from core.models.knowledge import Document, DocumentEvent, DocumentVersion, LockWaiter


@pytest.fixture
def people(database: Database, clock: ManualClock) -> dict[str, int]:
    with database.session() as s:
        team = Team(name="Java West")
        s.add(team)
        s.flush()
        ids = {}
        for login, role in (("admin", "admin"), ("maya", "manager"), ("budi", "rep"),
                            ("andi", "rep"), ("dewi", "rep")):
            u = user_service.add_user(s, login=login, name=login.title(), role=role,
                                      now=clock.now(), team=team if login != "dewi" else None)
            ids[login] = u.id
        team.manager_id = ids["maya"]
    return ids


def _user(s, ids: dict[str, int], login: str) -> User:
    user = s.get(User, ids[login])
    assert user is not None
    return user


def _add(database: Database, clock: ManualClock, ids: dict[str, int], *, owner: str = "admin",
         status: str = "published", title: str = "Price rules",
         text: str = "Discounts above 5 percent need approval.") -> int:
    with database.session() as s:
        doc = kb.add_document(s, title=title, text=text, owner=_user(s, ids, owner),
                              now=clock.now(), doc_type="rule", tags=["Pricing", "#price"],
                              status=status)
        return doc.id


def test_visibility_of_drafts_and_archived(database: Database, clock: ManualClock,
                                           people: dict[str, int]) -> None:
    draft = _add(database, clock, people, owner="budi", status="draft")
    with database.session() as s:
        assert kb.get_document(s, _user(s, people, "budi"), draft).status == "draft"
        assert kb.get_document(s, _user(s, people, "admin"), draft)
        assert kb.get_document(s, _user(s, people, "maya"), draft)  # budi's team manager
        with pytest.raises(NotFound):
            kb.get_document(s, _user(s, people, "andi"), draft)
        with pytest.raises(NotFound):
            kb.get_document(s, _user(s, people, "dewi"), draft)
        with pytest.raises(NotFound):
            kb.set_status(s, _user(s, people, "andi"), draft, "published", clock.now())
        with pytest.raises(Forbidden):  # the owner sees it but may not publish
            kb.set_status(s, _user(s, people, "budi"), draft, "published", clock.now())
    with database.session() as s:
        kb.set_status(s, _user(s, people, "maya"), draft, "published", clock.now())
    with database.session() as s:
        assert kb.get_document(s, _user(s, people, "andi"), draft).status == "published"
        kb.set_status(s, _user(s, people, "admin"), draft, "archived", clock.now())
    with database.session() as s:
        with pytest.raises(NotFound):
            kb.get_document(s, _user(s, people, "budi"), draft)
        assert s.get(Document, draft).tags == ["pricing", "price"]  # type: ignore[union-attr]


def test_check_out_lock_rules_and_check_in(database: Database, clock: ManualClock,
                                           people: dict[str, int]) -> None:
    doc_id = _add(database, clock, people)
    with database.session() as s:
        doc = checkout.check_out(s, _user(s, people, "budi"), doc_id, now=clock.now(),
                           ttl=timedelta(hours=2))
        assert doc.lock_expires_at == clock.now() + timedelta(hours=2)
    with database.session() as s:
        with pytest.raises(Conflict) as info:
            checkout.check_out(s, _user(s, people, "andi"), doc_id, now=clock.now())
        assert info.value.code == "kb.locked" and info.value.params["holder"] == "Budi"
        with pytest.raises(Conflict):  # andi cannot check in over budi's lock
            checkout.check_in(s, _user(s, people, "andi"), doc_id, now=clock.now(), note="x",
                        text="new")
        checkout.wait_for(s, _user(s, people, "andi"), doc_id, now=clock.now())
        checkout.wait_for(s, _user(s, people, "andi"), doc_id, now=clock.now())  # idempotent
        with pytest.raises(Conflict):
            checkout.wait_for(s, _user(s, people, "budi"), doc_id, now=clock.now())
    clock.advance(minutes=30)
    with database.session() as s:
        with pytest.raises(DomainError) as bad:
            checkout.check_in(s, _user(s, people, "budi"), doc_id, now=clock.now(), note="  ",
                        text="New rules")
        assert bad.value.code == "kb.note_needed"
    with database.session() as s:
        version = checkout.check_in(s, _user(s, people, "budi"), doc_id, now=clock.now(),
                              note="Raised the limit to 7 percent",
                              text="Discounts above 7 percent need approval.")
        assert version.version == 2
    with database.session() as s:
        doc = s.get(Document, doc_id)
        assert doc is not None and doc.locked_by_id is None and doc.version == 2
        assert "7 percent" in doc.text
        assert s.scalar(select(func.count()).select_from(LockWaiter)) == 0
        notice = s.scalars(select(NoticeRow).where(NoticeRow.kind == "kb.free")).one()
        assert notice.recipient_user_id == people["andi"]
        entries = kb.history(s, _user(s, people, "andi"), doc_id)
        versions = [(e.version, e.user_name, e.note) for e in entries if e.kind == "version"]
        assert versions == [(1, "Admin", ""), (2, "Budi", "Raised the limit to 7 percent")]
        assert [e.kind for e in entries if e.kind != "version"] == ["checkout"]
        old = kb.get_version(s, _user(s, people, "andi"), doc_id, 1)
        assert "5 percent" in old.text
        with pytest.raises(NotFound):
            kb.get_version(s, _user(s, people, "andi"), doc_id, 9)
        # checking in again needs a new check-out
        with pytest.raises(Conflict) as info:
            checkout.check_in(s, _user(s, people, "budi"), doc_id, now=clock.now(), note="again",
                        text="x")
        assert info.value.code == "kb.not_checked_out"


def test_lock_expires_and_the_sweep_tells_holder_and_waiters(
    database: Database, clock: ManualClock, people: dict[str, int]
) -> None:
    doc_id = _add(database, clock, people)
    with database.session() as s:
        checkout.check_out(s, _user(s, people, "budi"), doc_id, now=clock.now(),
                     ttl=timedelta(hours=1))
        checkout.wait_for(s, _user(s, people, "andi"), doc_id, now=clock.now())
    clock.advance(minutes=59)
    with database.session() as s:
        assert checkout.expire_locks(s, clock.now()) == 0
        with pytest.raises(Conflict):
            checkout.check_out(s, _user(s, people, "andi"), doc_id, now=clock.now())
    clock.advance(minutes=2)
    # the old holder cannot check in on an expired lock
    with database.session() as s, pytest.raises(Conflict):
        checkout.check_in(s, _user(s, people, "budi"), doc_id, now=clock.now(), note="late",
                        text="late text")
    with database.session() as s:
        assert checkout.expire_locks(s, clock.now()) == 1
        assert checkout.expire_locks(s, clock.now()) == 0
    with database.session() as s:
        kinds = sorted(s.scalars(select(NoticeRow.kind)).all())
        assert kinds == ["kb.free", "kb.lock_expired"]
        assert s.scalar(select(DocumentEvent.kind).where(DocumentEvent.kind == "expired"))
        doc = checkout.check_out(s, _user(s, people, "andi"), doc_id, now=clock.now())
        assert doc.locked_by_id == people["andi"]


def test_expired_lock_can_be_taken_over_before_the_sweep(
    database: Database, clock: ManualClock, people: dict[str, int]
) -> None:
    doc_id = _add(database, clock, people)
    with database.session() as s:
        checkout.check_out(s, _user(s, people, "budi"), doc_id, now=clock.now(),
                     ttl=timedelta(minutes=10))
    clock.advance(minutes=11)
    with database.session() as s:
        doc = checkout.check_out(s, _user(s, people, "andi"), doc_id, now=clock.now())
        assert doc.locked_by_id == people["andi"]
        kinds = [e.kind for e in kb.history(s, _user(s, people, "andi"), doc_id)]
        assert kinds.count("expired") == 1


def test_admin_breaks_a_lock_and_it_is_recorded(database: Database, clock: ManualClock,
                                                 people: dict[str, int]) -> None:
    doc_id = _add(database, clock, people)
    with database.session() as s:
        checkout.check_out(s, _user(s, people, "budi"), doc_id, now=clock.now())
    with database.session() as s, pytest.raises(Forbidden):
        checkout.break_lock(s, _user(s, people, "maya"), doc_id, now=clock.now())
    with database.session() as s:
        holder = checkout.break_lock(s, _user(s, people, "admin"), doc_id, now=clock.now())
        assert holder is not None and holder.login == "budi"
    with database.session() as s:
        event = s.scalars(select(DocumentEvent).where(DocumentEvent.kind == "break")).one()
        assert event.user_id == people["admin"] and event.details["holder"] == "Budi"
        assert s.scalar(select(NoticeRow.recipient_user_id).where(
            NoticeRow.kind == "kb.lock_broken")) == people["budi"]
        with pytest.raises(Conflict):
            checkout.break_lock(s, _user(s, people, "admin"), doc_id, now=clock.now())


def test_release_gives_the_lock_back(database: Database, clock: ManualClock,
                                     people: dict[str, int]) -> None:
    doc_id = _add(database, clock, people)
    with database.session() as s:
        checkout.check_out(s, _user(s, people, "budi"), doc_id, now=clock.now())
        with pytest.raises(Conflict):
            checkout.release(s, _user(s, people, "andi"), doc_id, now=clock.now())
        checkout.release(s, _user(s, people, "budi"), doc_id, now=clock.now())
        assert checkout.check_out(s, _user(s, people, "andi"), doc_id, now=clock.now())


def test_concurrent_check_outs_exactly_one_wins(database: Database, clock: ManualClock,
                                               people: dict[str, int]) -> None:
    doc_id = _add(database, clock, people)
    logins = ["budi", "andi", "maya", "admin"]
    barrier = threading.Barrier(len(logins))
    outcomes: dict[str, str] = {}

    def attempt(login: str) -> None:
        barrier.wait()
        try:
            with database.session() as s:
                checkout.check_out(s, _user(s, people, login), doc_id, now=clock.now())
            outcomes[login] = "won"
        except Conflict as exc:
            outcomes[login] = exc.code

    threads = [threading.Thread(target=attempt, args=(login,)) for login in logins]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert sorted(outcomes.values()) == ["kb.locked"] * 3 + ["won"], outcomes
    winner = next(login for login, outcome in outcomes.items() if outcome == "won")
    with database.session() as s:
        doc = s.get(Document, doc_id)
        assert doc is not None and doc.locked_by_id == people[winner]
        assert s.scalar(select(func.count()).select_from(DocumentEvent).where(
            DocumentEvent.kind == "checkout")) == 1


def test_check_in_with_a_file_and_unreadable_file_changes_nothing(
    database: Database, clock: ManualClock, people: dict[str, int]
) -> None:
    doc_id = _add(database, clock, people)
    with database.session() as s:
        checkout.check_out(s, _user(s, people, "budi"), doc_id, now=clock.now())
    with database.session() as s:
        with pytest.raises(DomainError) as info:
            checkout.check_in(s, _user(s, people, "budi"), doc_id, now=clock.now(), note="scan",
                        filename="scan.pdf", data=b"%PDF-broken")
        assert info.value.code == "kb.unreadable"
    with database.session() as s:
        doc = s.get(Document, doc_id)
        assert doc is not None and doc.version == 1 and doc.locked_by_id == people["budi"]
        v = checkout.check_in(s, _user(s, people, "budi"), doc_id, now=clock.now(), note="file",
                        filename="rules.md", data=b"# Rules\n\nNew tiers for 2026.")
        assert v.version == 2 and v.filename == "rules.md" and v.content is not None


def test_import_folder_versions_changed_files_and_reports_bad_ones(
    database: Database, clock: ManualClock, people: dict[str, int], tmp_path: Path
) -> None:
    folder = tmp_path / "library"
    (folder / "sub").mkdir(parents=True)
    (folder / "price-rules.md").write_text("# Price rules\n\nTier 2 from 10 units.")
    (folder / "sub" / "kebijakan-harga.txt").write_text("Harga daftar dalam rupiah.")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    (folder / ".hidden.md").write_text("secret")
    (folder / "image.png").write_bytes(b"\x89PNG")
    with database.session() as s:
        report = kb.sync_folder(s, folder, owner=_user(s, people, "admin"), now=clock.now())
    assert len(report.added) == 2 and report.updated == [] and len(report.failed) == 1
    assert report.failed[0][1].startswith("kb.unreadable")
    with database.session() as s:
        docs = {d.title: d for d in s.scalars(select(Document))}
        assert docs["Kebijakan harga"].language == "id"
        assert docs["Price rules"].doc_type == "rule"
    clock.advance(hours=1)
    (folder / "price-rules.md").write_text("# Price rules\n\nTier 2 from 12 units.")
    (folder / "sub" / "kebijakan-harga.txt").unlink()
    with database.session() as s:
        report = kb.sync_folder(s, folder, owner=None, now=clock.now())
    assert len(report.updated) == 1 and report.added == []
    with database.session() as s:
        docs = {d.title: d for d in s.scalars(select(Document))}
        assert docs["Price rules"].version == 2 and "12 units" in docs["Price rules"].text
        assert docs["Kebijakan harga"].status == "archived"
        assert s.scalar(select(func.count()).select_from(DocumentVersion)) == 3


def test_parse_query_filters() -> None:
    parsed = parse_query("type:policy tag:Travel,hotel hotel limit jenis:laporan")
    assert parsed.text == "hotel limit"
    assert parsed.doc_types == ("policy", "sales_report")
    assert parsed.tags == ("travel", "hotel")
    with pytest.raises(DomainError):
        parse_query("type:banana x")


def test_concurrent_changes_take_distinct_revisions_in_commit_order(
        database: Database, clock: ManualClock, people: dict[str, int]) -> None:
    """Two documents changed at once by two workers: each change gets its own revision
    stamp, and the later stamp commits later, so a node that synced between the two commits
    sees the second change by its revision (count and top stamp) rather than after the
    minute-long full check. On SQLite writers are serialized by the database itself."""
    first = _add(database, clock, people, title="Travel policy", status="draft")
    second = _add(database, clock, people, title="Expense form", status="draft")
    holding = threading.Event()
    release = threading.Event()
    order: list[tuple[str, int]] = []

    def change(doc_id: int, name: str, hold: bool) -> None:
        with database.session() as s:
            doc = kb.set_status(s, _user(s, people, "admin"), doc_id, "published", clock.now())
            stamp = doc.revision
            if hold:
                holding.set()
                release.wait(10)
            order.append((name, stamp))

    a = threading.Thread(target=change, args=(first, "a", True))
    a.start()
    assert holding.wait(10)
    b = threading.Thread(target=change, args=(second, "b", False))
    b.start()
    b.join(0.5)
    if database.is_postgres:
        assert b.is_alive()  # waits for the first writer's commit before taking its stamp
    release.set()
    a.join(10)
    b.join(10)
    stamps = dict(order)
    assert stamps["b"] == stamps["a"] + 1, order
    with database.session() as s:
        assert len(set(s.scalars(select(Document.revision)))) == 2
