"""Knowledge management: documents, versions, history, permissions, uploads and imports.
Check-out / check-in is core.document_checkout; search and keeping the index
(core.ports.KnowledgeIndex) in step with the documents table, core.knowledge_search.

Rules:
- Published documents are visible to every active user; drafts to their owner and admins;
  archived documents to admins only (and never in search).
- One holder at a time: a check-out is one conditional UPDATE, so of two concurrent attempts
  exactly one wins. A lock expires after its time-to-live; an admin can break it (recorded).
- A check-in needs the caller's live lock and makes a new version (who, when, note).
- The index is derived data, synced by `revision` (a stamp bumped on every change): only
  documents whose revision differs are re-indexed.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from core.approvals import approver_for
from core.errors import Conflict, DomainError, Forbidden, NotFound
from core.models import Role, User
from core.models.knowledge import Document, DocumentEvent, DocumentVersion, PendingUpload
from core.notices import enqueue_notice
from core.proposals import TEMPLATE_TYPE, validate_template
from core.textextract import (
    SUPPORTED,
    Extracted,
    check_size,
    default_limits,
    detect_language,
    extract,
)

DOC_TYPES: tuple[str, ...] = (
    "policy", "presentation", "phone_list", "proposal_template", "expense_form", "rule",
    "sales_report", "other",
)
STATUSES: tuple[str, ...] = ("draft", "published", "archived")
SEARCHABLE = ("draft", "published")
DEFAULT_LOCK_TTL = timedelta(hours=8)
UPLOAD_TTL = timedelta(hours=24)
MAX_NOTE = 500
MAX_TITLE = 200
PUBLISHERS = frozenset({Role.ADMIN, Role.MANAGER})

# Words people type for each type (English and Indonesian), for `type:` filters and guesses.
TYPE_ALIASES: dict[str, str] = {
    "policy": "policy", "policies": "policy", "kebijakan": "policy", "handbook": "policy",
    "presentation": "presentation", "slides": "presentation", "deck": "presentation",
    "presentasi": "presentation",
    "phone_list": "phone_list", "phone": "phone_list", "phones": "phone_list",
    "phonelist": "phone_list", "telepon": "phone_list", "directory": "phone_list",
    "proposal_template": "proposal_template", "template": "proposal_template",
    "templates": "proposal_template", "proposal": "proposal_template",
    "templat": "proposal_template", "proposal-template": "proposal_template",
    "expense_form": "expense_form", "expense": "expense_form", "expenses": "expense_form",
    "form": "expense_form", "biaya": "expense_form", "formulir": "expense_form",
    "rule": "rule", "rules": "rule", "aturan": "rule", "peraturan": "rule",
    "sales_report": "sales_report", "report": "sales_report", "reports": "sales_report",
    "laporan": "sales_report",
    "other": "other", "lain": "other", "lainnya": "other",
}


# -- errors with words in bot/conversations/knowledge.py -------------------------------------
def locked_error(session: Session, doc: Document) -> Conflict:
    holder = session.get(User, doc.locked_by_id) if doc.locked_by_id else None
    return Conflict("kb.locked", title=doc.title, holder=holder.name if holder else "?",
                    since=doc.locked_at.isoformat() if doc.locked_at else "",
                    document_id=doc.id)


# -- permissions -----------------------------------------------------------------------------
def can_see(user: User, doc: Document) -> bool:
    """Published: everyone active; drafts: owner and admins; archived: admins."""
    if not user.active:
        return False
    if user.role == Role.ADMIN:
        return True
    if doc.status == "published":
        return True
    return doc.status == "draft" and doc.owner_id == user.id


def can_publish(user: User) -> bool:
    return Role(user.role) in PUBLISHERS


def get_document(session: Session, user: User, doc_id: int, *, for_update: bool = False
                 ) -> Document:
    """The document if `user` may see it, else NotFound (never say which)."""
    stmt = select(Document).where(Document.id == doc_id)
    if for_update:
        stmt = stmt.with_for_update()
    doc = session.scalar(stmt.execution_options(populate_existing=True))
    if doc is None or not (can_see(user, doc) or _team_draft(session, user, doc)):
        raise NotFound("kb.not_found", document_id=doc_id)
    return doc


def _team_draft(session: Session, user: User, doc: Document) -> bool:
    """A manager may open (and publish) the drafts of their team's members."""
    if user.role != Role.MANAGER or doc.status != "draft" or doc.owner_id is None:
        return False
    owner = session.get(User, doc.owner_id)
    return owner is not None and owner.team_id is not None and owner.team_id == user.team_id


def normalise_type(value: str) -> str:
    key = value.strip().lower().replace(" ", "_")
    if key in TYPE_ALIASES:
        return TYPE_ALIASES[key]
    raise DomainError("kb.bad_type", value=value[:40], types=", ".join(DOC_TYPES))


def guess_type(name: str, text: str = "") -> str:
    """A document type from its file name or title (falls back to "other")."""
    words = re.findall(r"[a-z]+", (name + " " + text[:200]).lower())
    for word in words:
        if word in TYPE_ALIASES and word not in ("other", "lain", "form"):
            return TYPE_ALIASES[word]
    if "price" in words or "harga" in words or "discount" in words:
        return "rule"
    return "other"


def clean_tags(tags: Iterable[str]) -> list[str]:
    out: list[str] = []
    for tag in tags:
        t = re.sub(r"[^\w\-]", "", tag.strip().lower().lstrip("#"))[:32]
        if t and t not in out:
            out.append(t)
    return out[:12]


_REVISION_LOCK = zlib.crc32(b"documents.revision") & 0x7FFFFFFF


def next_revision(session: Session) -> int:
    """The next revision stamp. On PostgreSQL a transaction-level advisory lock makes writers
    take stamps one after the other and commit in stamp order, so two concurrent changes
    never share a stamp and a node that synced up to stamp N never misses a change stamped
    below N committed later (SQLite writers are serialized anyway)."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _REVISION_LOCK})
    return int(session.scalar(select(func.coalesce(func.max(Document.revision), 0))) or 0) + 1


def touch(session: Session, doc: Document, now: datetime) -> None:
    doc.revision = next_revision(session)
    doc.updated_at = now


def record_event(session: Session, doc: Document, kind: str, user: User | None, now: datetime,
           **details: Any) -> None:
    session.add(DocumentEvent(document_id=doc.id, kind=kind,
                              user_id=user.id if user else None, at=now, details=details))


# -- adding documents ------------------------------------------------------------------------
def add_document(
    session: Session,
    *,
    title: str,
    text: str,
    owner: User | None,
    now: datetime,
    doc_type: str = "other",
    tags: Sequence[str] = (),
    status: str = "published",
    source: str = "upload",
    source_path: str | None = None,
    filename: str | None = None,
    mime: str | None = None,
    content: bytes | None = None,
    language: str | None = None,
    note: str = "",
) -> Document:
    """Create a document and its version 1."""
    title = " ".join(title.split())[:MAX_TITLE]
    if not title:
        raise DomainError("kb.bad_title")
    if not text.strip():
        raise DomainError("kb.unreadable", name=filename or title, reason="no text")
    if doc_type not in DOC_TYPES:
        doc_type = normalise_type(doc_type)
    if doc_type == TEMPLATE_TYPE:
        validate_template(text)  # a template that does not parse is refused, with its line
    if status not in STATUSES:
        raise DomainError("kb.bad_status", status=status)
    doc = Document(
        title=title, doc_type=doc_type, tags=clean_tags(tags), source=source,
        source_path=source_path, owner_id=owner.id if owner else None, status=status,
        language=language or detect_language(text), version=1,
        revision=next_revision(session), text=text, filename=filename, mime=mime,
        content=content, content_hash=_hash(content if content is not None else text.encode()),
        created_at=now, updated_at=now)
    session.add(doc)
    session.flush()
    session.add(DocumentVersion(
        document_id=doc.id, version=1, title=doc.title, text=text, filename=filename,
        mime=mime, content=content, note=note[:MAX_NOTE], author_id=owner.id if owner else None,
        created_at=now))
    session.flush()
    return doc


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def title_from_filename(filename: str) -> str:
    stem = Path(filename).stem
    words = re.sub(r"[_\-.]+", " ", stem).strip()
    return (words[:1].upper() + words[1:]) if words else "Untitled"


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, error code)


def import_file(
    session: Session,
    path: Path,
    *,
    owner: User | None,
    now: datetime,
    source: str = "import",
    doc_type: str | None = None,
    tags: Sequence[str] = (),
    status: str = "published",
) -> tuple[Document, str]:
    """Import one file: a new document, a new version of the same source path when the file
    changed, or nothing when it did not. Returns (document, "added"|"updated"|"unchanged").
    A file over the upload limits is refused (core.textextract.LIMIT_CODES) unread."""
    limits = default_limits()
    check_size(path.name, path.stat().st_size, limits)
    data = path.read_bytes()
    key = str(path.resolve())
    existing = session.scalar(select(Document).where(Document.source_path == key))
    if existing is not None and existing.content_hash == _hash(data):
        return existing, "unchanged"
    extracted = extract(path.name, data, limits=limits)
    if existing is not None:
        new_version(session, existing, author=owner, now=now, text=extracted.text,
                     filename=path.name, mime=extracted.mime, content=data,
                     note=f"{source}: {path.name}")
        existing.language = extracted.language
        return existing, "updated"
    doc = add_document(
        session, title=title_from_filename(path.name), text=extracted.text, owner=owner,
        now=now, doc_type=doc_type or guess_type(path.name, extracted.text), tags=tags,
        status=status, source=source, source_path=key, filename=path.name,
        mime=extracted.mime, content=data, language=extracted.language,
        note=f"{source}: {path.name}")
    return doc, "added"


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Supported files under the given files and folders (sorted, hidden files skipped)."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.suffix.lower() in SUPPORTED and not any(
                        part.startswith(".") for part in child.relative_to(path).parts):
                    yield child
        elif path.is_file():
            yield path


def import_paths(
    session: Session,
    paths: Sequence[Path],
    *,
    owner: User | None,
    now: datetime,
    source: str = "import",
    progress: Callable[[Path], None] | None = None,
) -> ImportReport:
    """Import files and folders; unreadable files are reported, the rest still imported.
    Each file is its own savepoint, so a bad file leaves nothing half-written."""
    report = ImportReport()
    for path in iter_files(paths):
        try:
            with session.begin_nested():
                _doc, outcome = import_file(session, path, owner=owner, now=now, source=source)
        except DomainError as exc:
            report.failed.append((str(path), exc.code + _reason(exc)))
        except OSError as exc:
            report.failed.append((str(path), f"kb.unreadable ({exc.strerror or exc})"))
        else:
            getattr(report, outcome).append(str(path))
        if progress is not None:
            progress(path)
    return report


def _reason(exc: DomainError) -> str:
    reason = exc.params.get("reason")
    if reason:
        return f" ({reason})"
    # An upload limit (kb.limit_*): its figures, e.g. "(size 150 MB, limit 100 MB)".
    figures = ", ".join(f"{k} {v}" for k, v in exc.params.items() if k != "name")
    return f" ({figures})" if figures else ""


def sync_folder(session: Session, folder: Path, *, owner: User | None, now: datetime
                ) -> ImportReport:
    """The watched-folder source: import new files, re-version changed ones, archive
    documents whose file disappeared from the folder."""
    report = import_paths(session, [folder], owner=owner, now=now, source="folder")
    prefix = str(folder.resolve())
    seen = {str(Path(p).resolve()) for p in report.added + report.updated + report.unchanged}
    gone = session.scalars(select(Document).where(
        Document.source == "folder", Document.status != "archived",
        Document.source_path.startswith(prefix, autoescape=True))).all()
    for doc in gone:
        if doc.source_path not in seen and not Path(doc.source_path or "").exists():
            doc.status = "archived"
            touch(session, doc, now)
            record_event(session, doc, "archived", None, now, reason="file removed")
    return report


# -- uploads in chat ---------------------------------------------------------------------------
def stage_upload(session: Session, user: User, *, filename: str, mime: str, data: bytes,
                 now: datetime, extracted: Extracted | None = None) -> PendingUpload:
    """Keep an uploaded file (text extracted now, under the upload limits, unless the caller
    did that already: an unreadable or too large file is refused at once)."""
    extracted = extracted or extract(filename, data, mime)
    upload = PendingUpload(user_id=user.id, filename=Path(filename).name[:255] or "file",
                           mime=extracted.mime, content=data, text=extracted.text,
                           language=extracted.language, created_at=now)
    session.add(upload)
    session.flush()
    return upload


def get_upload(session: Session, user: User, upload_id: int) -> PendingUpload:
    upload = session.get(PendingUpload, upload_id)
    if upload is None or upload.user_id != user.id:
        raise NotFound("kb.upload_gone")
    return upload


def add_from_upload(session: Session, user: User, upload_id: int, *, doc_type: str,
                    now: datetime, title: str | None = None, publish: bool = False
                    ) -> Document:
    """A new document from a staged upload: published when the user may publish and asked,
    otherwise a draft (visible to the owner and admins until a manager publishes it)."""
    upload = get_upload(session, user, upload_id)
    status = "published" if publish and can_publish(user) else "draft"
    doc = add_document(
        session, title=title or title_from_filename(upload.filename), text=upload.text,
        owner=user, now=now, doc_type=doc_type, status=status, source="upload",
        filename=upload.filename, mime=upload.mime, content=upload.content,
        language=upload.language, note=upload.filename)
    session.delete(upload)
    if doc.status == "draft" and not can_publish(user):
        reviewer = approver_for(session, user)
        if reviewer is not None:
            enqueue_notice(session, kind="kb.review", reason=f"kb:review:{doc.id}",
                           recipient_user_id=reviewer.id, due_at=now, now=now,
                           params={"document_id": doc.id, "by": user.name})
    return doc


def set_status(session: Session, user: User, doc_id: int, status: str, now: datetime
               ) -> Document:
    """Publish, return to draft or archive (managers and admins; owners may archive)."""
    if status not in STATUSES:
        raise DomainError("kb.bad_status", status=status)
    doc = get_document(session, user, doc_id)
    if not can_publish(user) and not (status == "archived" and doc.owner_id == user.id):
        raise Forbidden("kb.forbidden")
    if doc.status != status:
        doc.status = status
        touch(session, doc, now)
        record_event(session, doc, status, user, now)
    return doc


# -- versions ----------------------------------------------------------------------------------
def new_version(session: Session, doc: Document, *, author: User | None, now: datetime,
                 text: str, filename: str | None, mime: str | None, content: bytes | None,
                 note: str) -> DocumentVersion:
    """The document's next version (its text and file as given, who, when, the note)."""
    doc.version += 1
    doc.text = text
    doc.filename = filename
    doc.mime = mime
    doc.content = content
    doc.content_hash = _hash(content if content is not None else text.encode())
    touch(session, doc, now)
    version = DocumentVersion(document_id=doc.id, version=doc.version, title=doc.title,
                              text=text, filename=filename, mime=mime, content=content,
                              note=note[:MAX_NOTE], author_id=author.id if author else None,
                              created_at=now)
    session.add(version)
    session.flush()
    return version


# -- history -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    kind: str  # "version", "checkout", "checkin", "release", "break", "expired", ...
    user_name: str
    version: int | None = None
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def history(session: Session, user: User, doc_id: int, *, with_events: bool = True
            ) -> list[HistoryEntry]:
    """Every version (who, when, note) and, optionally, the lock events; oldest first."""
    get_document(session, user, doc_id)
    versions = list(session.scalars(select(DocumentVersion).where(
        DocumentVersion.document_id == doc_id).order_by(DocumentVersion.version)))
    events = list(session.scalars(select(DocumentEvent).where(
        DocumentEvent.document_id == doc_id, DocumentEvent.kind != "checkin"))
    ) if with_events else []
    people = {v.author_id for v in versions} | {e.user_id for e in events}
    people.discard(None)
    names: dict[int | None, str] = {
        user_id: name for user_id, name in session.execute(
            select(User.id, User.name).where(User.id.in_(people)))}
    entries = [
        HistoryEntry(at=v.created_at, kind="version", user_name=names.get(v.author_id, "—"),
                     version=v.version, note=v.note)
        for v in versions
    ]
    entries += [
        HistoryEntry(at=e.at, kind=e.kind, user_name=names.get(e.user_id, "—"),
                     details=dict(e.details or {}))
        for e in events
    ]
    entries.sort(key=lambda e: (e.at, 0 if e.kind != "version" else 1))
    return entries


def get_version(session: Session, user: User, doc_id: int, version: int) -> DocumentVersion:
    get_document(session, user, doc_id)
    row = session.scalar(select(DocumentVersion).where(
        DocumentVersion.document_id == doc_id, DocumentVersion.version == version))
    if row is None:
        raise NotFound("kb.no_version", version=version)
    return row
