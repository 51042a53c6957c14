"""Text extraction from document files: .md, .txt, .pdf, .docx, .pptx.

A file that cannot be read (unknown type, corrupt, encrypted, no text at all) raises
DomainError("kb.unreadable", name=..., reason=...) so it is reported, never indexed empty.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from dataclasses import dataclass
from pathlib import PurePath

from core.errors import DomainError

SUPPORTED = (".md", ".markdown", ".txt", ".pdf", ".docx", ".pptx")
MIME = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_MIME_EXT = {
    "text/markdown": ".md",
    "text/plain": ".txt",
    "application/pdf": ".pdf",
    MIME[".docx"]: ".docx",
    MIME[".pptx"]: ".pptx",
}

# A few very frequent Indonesian function words: enough to tell Indonesian from English.
_ID_WORDS = frozenset(str.split(
    "yang dan di ke dari untuk dengan pada adalah ini itu tidak akan dalam atau juga "
    "oleh sebagai harus dapat bisa kami kita anda harga setiap jika sudah belum"))
_EN_WORDS = frozenset(str.split(
    "the and of to in for with on is this that not will be or also by as must can we "
    "you price every if are have has"))
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


@dataclass(frozen=True)
class Extracted:
    text: str
    mime: str
    language: str


def extension_of(filename: str, mime: str | None = None) -> str:
    """The file's lower-case extension, or one derived from its MIME type."""
    ext = PurePath(filename).suffix.lower()
    if ext in SUPPORTED:
        return ext
    if mime and mime.split(";")[0].strip() in _MIME_EXT:
        return _MIME_EXT[mime.split(";")[0].strip()]
    return ext


def detect_language(text: str) -> str:
    """'id' when the text reads as Indonesian, else 'en' (function-word counts)."""
    words = [w.lower() for w in _WORD.findall(text[:20000])]
    id_score = sum(1 for w in words if w in _ID_WORDS)
    en_score = sum(1 for w in words if w in _EN_WORDS)
    return "id" if id_score > en_score else "en"


def extract(filename: str, data: bytes, mime: str | None = None) -> Extracted:
    """Return the text of a document file, or raise DomainError("kb.unreadable")."""
    name = PurePath(filename).name or "file"
    ext = extension_of(filename, mime)
    if ext not in SUPPORTED:
        raise DomainError("kb.unsupported", name=name, types=", ".join(SUPPORTED))
    if not data:
        raise DomainError("kb.unreadable", name=name, reason="empty file")
    try:
        if ext in (".md", ".markdown", ".txt"):
            text = _plain(data)
        elif ext == ".pdf":
            text = _pdf(data)
        elif ext == ".docx":
            text = _docx(data)
        else:
            text = _pptx(data)
    except Exception as exc:  # corrupt archives, broken PDFs: the library's own errors
        reason = str(exc) if isinstance(exc, ValueError) and str(exc) in (
            "binary data", "encrypted", "not a zip archive") else "damaged file"
        raise DomainError("kb.unreadable", name=name, reason=reason) from exc
    text = _tidy(text)
    if not text:
        raise DomainError("kb.unreadable", name=name, reason="no text")
    return Extracted(text=text, mime=MIME[ext], language=detect_language(text))


def _tidy(text: str) -> str:
    text = text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _plain(data: bytes) -> str:
    if b"\x00" in data[:4096]:
        raise ValueError("binary data")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _pdf(data: bytes) -> str:
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a damaged file is our error, not a log
    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            reader.decrypt("")
        except Exception as exc:
            raise ValueError("encrypted") from exc
    return "\n\n".join((page.extract_text() or "") for page in reader.pages)


def _docx(data: bytes) -> str:
    import docx

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ValueError("not a zip archive")
    document = docx.Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append(" | ".join(cell.text for cell in row.cells))
    return "\n".join(parts)


def _pptx(data: bytes) -> str:
    from pptx import Presentation

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ValueError("not a zip archive")
    deck = Presentation(io.BytesIO(data))
    parts: list[str] = []
    for slide in deck.slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                parts.append(shape.text_frame.text)
            if getattr(shape, "has_table", False) and shape.has_table:
                for row in shape.table.rows:
                    parts.append(" | ".join(cell.text for cell in row.cells))
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            parts.append(slide.notes_slide.notes_text_frame.text)
        parts.append("")
    return "\n".join(parts)
