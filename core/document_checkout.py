"""Check-out and check-in of knowledge documents: one holder at a time (a check-out is one
conditional UPDATE, so of two concurrent attempts exactly one wins), a lock's time-to-live
and its expiry sweep, an admin breaking a lock (recorded), waiting for a document, and the
new version a check-in makes (who, when, note). The documents are core.knowledge's."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from core.errors import Conflict, DomainError, Forbidden
from core.knowledge import (
    DEFAULT_LOCK_TTL,
    MAX_NOTE,
    UPLOAD_TTL,
    get_document,
    locked_error,
    new_version,
    record_event,
)
from core.models import Role, User
from core.models.knowledge import Document, DocumentVersion, LockWaiter, PendingUpload
from core.notices import enqueue_notice
from core.proposals import TEMPLATE_TYPE, validate_template
from core.sweeps import sweep
from core.textextract import detect_language, extract


# -- check-out / check-in ----------------------------------------------------------------------
def lock_is_live(doc: Document, now: datetime) -> bool:
    return (doc.locked_by_id is not None and doc.lock_expires_at is not None
            and doc.lock_expires_at > now)


def check_out(session: Session, user: User, doc_id: int, *, now: datetime,
              ttl: timedelta = DEFAULT_LOCK_TTL) -> Document:
    """Take the edit lock. One conditional UPDATE: of concurrent attempts exactly one wins;
    the others get Conflict("kb.locked"). Checking out again extends your own lock."""
    doc = get_document(session, user, doc_id)
    if doc.status == "archived":
        raise Conflict("kb.archived", title=doc.title)
    previous = doc.locked_by_id if not lock_is_live(doc, now) else None
    result = session.execute(
        update(Document)
        .where(Document.id == doc_id,
               or_(Document.locked_by_id.is_(None), Document.lock_expires_at <= now,
                   Document.locked_by_id == user.id))
        .values(locked_by_id=user.id, locked_at=now, lock_expires_at=now + ttl)
        .execution_options(synchronize_session=False))
    doc = get_document(session, user, doc_id)
    if result.rowcount != 1 or doc.locked_by_id != user.id:  # type: ignore[attr-defined]
        raise locked_error(session, doc)
    if previous is not None and previous != user.id:
        record_event(session, doc, "expired", session.get(User, previous), now)
    record_event(session, doc, "checkout", user, now, until=(now + ttl).isoformat())
    session.execute(delete(LockWaiter).where(LockWaiter.document_id == doc_id,
                                             LockWaiter.user_id == user.id))
    return doc


def _clear_lock(doc: Document) -> None:
    doc.locked_by_id = None
    doc.locked_at = None
    doc.lock_expires_at = None


def release(session: Session, user: User, doc_id: int, *, now: datetime) -> Document:
    """Give the lock back without a new version (the holder)."""
    doc = get_document(session, user, doc_id, for_update=True)
    if not lock_is_live(doc, now) or doc.locked_by_id != user.id:
        raise Conflict("kb.not_checked_out", title=doc.title)
    _clear_lock(doc)
    record_event(session, doc, "release", user, now)
    notify_waiters(session, doc, now)
    return doc


def break_lock(session: Session, admin: User, doc_id: int, *, now: datetime) -> User | None:
    """An admin takes the lock away from its holder (recorded; the holder is told)."""
    if admin.role != Role.ADMIN:
        raise Forbidden("kb.forbidden")
    doc = get_document(session, admin, doc_id, for_update=True)
    if not lock_is_live(doc, now):
        raise Conflict("kb.not_locked", title=doc.title)
    holder = session.get(User, doc.locked_by_id)
    _clear_lock(doc)
    record_event(session, doc, "break", admin, now, holder_id=holder.id if holder else None,
           holder=holder.name if holder else "")
    if holder is not None and holder.id != admin.id:
        enqueue_notice(session, kind="kb.lock_broken",
                       reason=f"kb:broken:{doc.id}:{now:%Y%m%d%H%M%S}",
                       recipient_user_id=holder.id, due_at=now, now=now,
                       params={"document_id": doc.id, "by": admin.name})
    notify_waiters(session, doc, now)
    return holder


def check_in(
    session: Session,
    user: User,
    doc_id: int,
    *,
    now: datetime,
    note: str,
    text: str | None = None,
    filename: str | None = None,
    data: bytes | None = None,
    mime: str | None = None,
) -> DocumentVersion:
    """A new version from a file (`filename`+`data`) or from `text`; needs your live lock."""
    doc = get_document(session, user, doc_id, for_update=True)
    if doc.locked_by_id != user.id or not lock_is_live(doc, now):
        if lock_is_live(doc, now):
            raise locked_error(session, doc)
        raise Conflict("kb.not_checked_out", title=doc.title)
    note = " ".join(note.split())[:MAX_NOTE]
    if not note:
        raise DomainError("kb.note_needed")
    if data is not None:
        extracted = extract(filename or doc.filename or "file", data, mime)
        new_text, new_mime, content = extracted.text, extracted.mime, data
        doc.language = extracted.language
        name = Path(filename or doc.filename or "file").name
    else:
        new_text = (text or "").strip()
        if not new_text:
            raise DomainError("kb.empty_text")
        base = Path(doc.filename).stem if doc.filename else _slug(doc.title)
        name, new_mime, content = f"{base}.md", "text/markdown", new_text.encode()
        doc.language = detect_language(new_text)
    if doc.doc_type == TEMPLATE_TYPE:
        validate_template(new_text)
    version = new_version(session, doc, author=user, now=now, text=new_text, filename=name,
                           mime=new_mime, content=content, note=note)
    _clear_lock(doc)
    record_event(session, doc, "checkin", user, now, version=version.version)
    notify_waiters(session, doc, now)
    return version


def _slug(title: str) -> str:
    return re.sub(r"[^\w]+", "-", title.lower()).strip("-")[:60] or "document"


def wait_for(session: Session, user: User, doc_id: int, *, now: datetime) -> Document:
    """Ask to be told when a locked document is free (idempotent)."""
    doc = get_document(session, user, doc_id)
    if not lock_is_live(doc, now):
        raise Conflict("kb.not_locked", title=doc.title)
    if doc.locked_by_id == user.id:
        raise Conflict("kb.own_lock", title=doc.title)
    exists = session.get(LockWaiter, (doc.id, user.id))
    if exists is None:
        session.add(LockWaiter(document_id=doc.id, user_id=user.id, created_at=now))
        session.flush()
    return doc


def notify_waiters(session: Session, doc: Document, now: datetime) -> int:
    """Tell everyone waiting for `doc` that it is free; forget them."""
    waiters = session.scalars(select(LockWaiter).where(LockWaiter.document_id == doc.id)).all()
    for waiter in waiters:
        enqueue_notice(session, kind="kb.free",
                       reason=f"kb:free:{doc.id}:{waiter.created_at:%Y%m%d%H%M%S%f}",
                       recipient_user_id=waiter.user_id, due_at=now, now=now,
                       params={"document_id": doc.id})
        session.delete(waiter)
    return len(waiters)


@sweep("knowledge.locks", every=timedelta(minutes=5))
def expire_locks(session: Session, now: datetime) -> int:
    """Expire overdue locks (the holder and the waiters are told); drop stale uploads."""
    docs = session.scalars(select(Document).where(
        Document.locked_by_id.is_not(None), Document.lock_expires_at <= now
    ).with_for_update(skip_locked=True)).all()
    for doc in docs:
        holder_id = doc.locked_by_id
        expired_at = doc.lock_expires_at
        _clear_lock(doc)
        holder = session.get(User, holder_id) if holder_id else None
        record_event(session, doc, "expired", holder, now)
        if holder_id is not None and expired_at is not None:
            enqueue_notice(session, kind="kb.lock_expired",
                           reason=f"kb:expired:{doc.id}:{expired_at:%Y%m%d%H%M%S}",
                           recipient_user_id=holder_id, due_at=now, now=now,
                           params={"document_id": doc.id})
        notify_waiters(session, doc, now)
    session.execute(delete(PendingUpload).where(PendingUpload.created_at < now - UPLOAD_TTL))
    return len(docs)


def locks_held(session: Session, user: User, now: datetime) -> list[Document]:
    """Documents `user` has checked out (live locks)."""
    return list(session.scalars(select(Document).where(
        Document.locked_by_id == user.id, Document.lock_expires_at > now
    ).order_by(Document.title)))
