"""Text extraction from document files: .md, .txt, .pdf, .docx, .pptx, under limits.

A file that cannot be read (unknown type, corrupt, encrypted, no text at all) raises
DomainError("kb.unreadable", name=..., reason=...) so it is reported, never indexed empty.

Every file is opened under `ExtractLimits` (from the settings, SFA_UPLOAD_*): its size; for
the ZIP-based formats (.docx, .pptx) the number of entries and their uncompressed size,
read from the archive's directory before anything is inflated (a 751 KB DOCX whose XML
expands to 300 MB is refused here); pages (PDF pages, slides) and extracted characters.
PDF, DOCX and PPTX are parsed in a child process with an address-space limit and a time
limit (standard library: a fresh interpreter by subprocess, resource.setrlimit), so a file
that slips past the checks (a lying archive directory, a PDF that expands in memory) is
killed, not the bot. A refused file raises DomainError("kb.limit_<which>", name=...,
**figures) (LIMIT_CODES), whose words name the limit.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

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


@dataclass(frozen=True)
class ExtractLimits:
    """How far one uploaded or imported document may go (Settings: SFA_MAX_UPLOAD_BYTES and
    SFA_UPLOAD_*)."""

    max_bytes: int = 20 * 1024 * 1024  # the file as sent
    max_unpacked_bytes: int = 100 * 1024 * 1024  # a ZIP-based file's entries, uncompressed
    max_entries: int = 5000  # a ZIP-based file's entries
    max_pages: int = 1000  # PDF pages, presentation slides
    max_chars: int = 5_000_000  # extracted text
    seconds: float = 30.0  # parsing time (the child process is killed after it)
    memory_bytes: int = 1024 * 1024 * 1024  # the parsing child's address space

    @classmethod
    def from_settings(cls, settings: Any) -> ExtractLimits:
        return cls(max_bytes=settings.max_upload_bytes,
                   max_unpacked_bytes=settings.upload_max_unpacked_bytes,
                   max_entries=settings.upload_max_entries,
                   max_pages=settings.upload_max_pages, max_chars=settings.upload_max_chars,
                   seconds=settings.upload_parse_seconds,
                   memory_bytes=settings.upload_parse_memory_bytes)


LIMIT_CODES = tuple(f"kb.limit_{which}" for which in (
    "size", "unpacked", "entries", "pages", "chars", "time", "memory", "pixels"))


def default_limits() -> ExtractLimits:
    """The limits of the current environment's settings (read now)."""
    from core.settings import Settings

    return ExtractLimits.from_settings(Settings())


def _limit(name: str, which: str, **figures: Any) -> DomainError:
    return DomainError(f"kb.limit_{which}", name=name, **figures)


def _size(size: int) -> str:
    """A size in words: "150.2 MB", "2.9 KB", "900 bytes"."""
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def check_size(name: str, size: int, limits: ExtractLimits) -> None:
    """Refuse a file larger than the upload limit (before it is read)."""
    if size > limits.max_bytes:
        raise _limit(name, "size", size=_size(size), limit=_size(limits.max_bytes))


def check_archive(name: str, data: bytes, limits: ExtractLimits) -> None:
    """Refuse a ZIP-based document whose directory declares too many entries or too many
    uncompressed bytes (nothing is inflated here)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise DomainError("kb.unreadable", name=name, reason="not a zip archive") from exc
    if len(entries) > limits.max_entries:
        raise _limit(name, "entries", count=len(entries), max=limits.max_entries)
    unpacked = sum(max(0, e.file_size) for e in entries)
    if unpacked > limits.max_unpacked_bytes:
        raise _limit(name, "unpacked", size=_size(unpacked),
                     limit=_size(limits.max_unpacked_bytes))


def extract(filename: str, data: bytes, mime: str | None = None,
            limits: ExtractLimits | None = None) -> Extracted:
    """Return the text of a document file, or raise DomainError("kb.unreadable" /
    "kb.unsupported" / one of LIMIT_CODES)."""
    limits = limits or default_limits()
    name = PurePath(filename).name or "file"
    ext = extension_of(filename, mime)
    if ext not in SUPPORTED:
        raise DomainError("kb.unsupported", name=name, types=", ".join(SUPPORTED))
    if not data:
        raise DomainError("kb.unreadable", name=name, reason="empty file")
    check_size(name, len(data), limits)
    if ext in (".docx", ".pptx"):
        check_archive(name, data, limits)
    if ext in (".md", ".markdown", ".txt"):
        try:
            text = _plain(data)
        except ValueError as exc:
            raise DomainError("kb.unreadable", name=name, reason=str(exc)) from exc
    else:
        text = _parse_in_child(name, ext, data, limits)
    text = _tidy(text)
    if len(text) > limits.max_chars:
        raise _limit(name, "chars", count=len(text), max=limits.max_chars)
    if not text:
        raise DomainError("kb.unreadable", name=name, reason="no text")
    return Extracted(text=text, mime=MIME[ext], language=detect_language(text))


# -- images ------------------------------------------------------------------------------------
MAX_IMAGE_PIXELS = 40_000_000  # a 40-megapixel photo; more is a decompression bomb


def check_image(name: str, data: bytes, limits: ExtractLimits | None = None,
                max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[int, int]:
    """(width, height) of an uploaded picture, read from its header only (nothing is
    decoded); refused: not an image Pillow knows ("kb.not_image"), too big as sent, or more
    pixels than `max_pixels` (a small file that would decode to gigabytes)."""
    from PIL import Image, UnidentifiedImageError

    limits = limits or default_limits()
    check_size(name, len(data), limits)
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except Image.DecompressionBombError as exc:  # Pillow's own cap (twice its warning)
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = int(found.group(1)) if found else max_pixels + 1
        raise _limit(name, "pixels", megapixels=f"{pixels / 1e6:.0f}",
                     max=f"{max_pixels / 1e6:g}") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise DomainError("kb.not_image", name=name) from None
    if width * height > max_pixels:
        raise _limit(name, "pixels", megapixels=f"{width * height / 1e6:.0f}",
                     max=f"{max_pixels / 1e6:g}")
    return width, height


# -- the parsing child -------------------------------------------------------------------------
def _parse_in_child(name: str, ext: str, data: bytes, limits: ExtractLimits) -> str:
    """Parse in a fresh interpreter (no threads, locks or database connections inherited
    from this process) that limits its own address space and CPU time first; killed when
    it runs past the time limit."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", "from core.textextract import child_main; child_main()",
             ext, json.dumps(dataclasses.asdict(limits))],
            input=data, capture_output=True, timeout=limits.seconds, check=False,
            env={**os.environ, "PYTHONPATH": _PROJECT + os.pathsep +
                 os.environ.get("PYTHONPATH", "")})
    except subprocess.TimeoutExpired:
        raise _limit(name, "time", seconds=_seconds(limits.seconds)) from None
    status, _, payload = done.stdout.partition(b"\n")
    if done.returncode != 0 or not status:
        if done.returncode in (-signal.SIGXCPU, -signal.SIGKILL) or \
                time.monotonic() - started >= limits.seconds * 0.9:
            raise _limit(name, "time", seconds=_seconds(limits.seconds))
        if os.environ.get("SFA_DEBUG_CHILD"):
            print("CHILD", done.returncode, done.stderr[-3000:], file=sys.stderr)
        if b"MemoryError" in done.stderr or done.returncode == -signal.SIGSEGV:
            raise _limit(name, "memory", limit=_size(limits.memory_bytes))
        log.warning("document parser exited with %s", done.returncode)
        raise DomainError("kb.unreadable", name=name, reason="damaged file")
    if status == b"ok":
        return payload.decode("utf-8")
    what, _, value = status.decode().partition(" ")
    if what == "memory":
        raise _limit(name, "memory", limit=_size(limits.memory_bytes))
    if what in ("pages", "chars"):
        raise _limit(name, what, count=int(value), max=getattr(limits, f"max_{what}"))
    raise DomainError("kb.unreadable", name=name, reason=value or "damaged file")


_PROJECT = str(Path(__file__).resolve().parent.parent)
log = logging.getLogger(__name__)


def _seconds(value: float) -> str:
    return f"{value:g}"


def child_main() -> None:
    """The parsing child: limits itself, reads the file on stdin, writes a status line
    ("ok", "pages N", "chars N", "memory", "unreadable REASON") and the text on stdout."""
    import resource

    ext, limits = sys.argv[1], ExtractLimits(**json.loads(sys.argv[2]))
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        cpu = max(1, int(limits.seconds))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    except (ValueError, OSError):  # a lower hard limit is already in force
        pass
    out = sys.stdout.buffer
    try:
        data = sys.stdin.buffer.read()
        if ext == ".pdf":
            text = _pdf(data, limits)
        elif ext == ".docx":
            text = _docx(data, limits)
        else:
            text = _pptx(data, limits)
        out.write(b"ok\n" + text.encode("utf-8", errors="replace"))
    except MemoryError:
        out.write(b"memory\n")
    except _TooMany as exc:
        out.write(f"{exc.what} {exc.count}\n".encode())
    except Exception as exc:  # corrupt archives, broken PDFs: the library's own errors
        # A parser out of memory may say anything (lxml: "unknown error"): near the limit,
        # it was the limit.
        if _peak_bytes() >= limits.memory_bytes // 2:
            out.write(b"memory\n")
        else:
            reason = str(exc) if isinstance(exc, ValueError) and str(exc) in (
                "binary data", "encrypted", "not a zip archive") else "damaged file"
            out.write(f"unreadable {reason}\n".encode())
    out.flush()


def _peak_bytes() -> int:
    """This process's peak resident memory since it started. VmHWM belongs to the memory map
    exec made; getrusage's ru_maxrss is kept across fork and exec, so a child of a big
    process (a test run of 500 MB) would look out of memory before it parsed anything."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class _TooMany(Exception):
    def __init__(self, what: str, count: int) -> None:
        super().__init__(what)
        self.what, self.count = what, count


class _Text:
    """Collects extracted parts, stopping once the character limit is passed."""

    def __init__(self, limit: int) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.limit = limit

    def add(self, part: str) -> None:
        self.parts.append(part)
        self.size += len(part) + 1
        if self.size > self.limit:
            raise _TooMany("chars", self.size)

    def text(self, sep: str = "\n") -> str:
        return sep.join(self.parts)


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


def _pdf(data: bytes, limits: ExtractLimits) -> str:
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a damaged file is our error, not a log
    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            reader.decrypt("")
        except Exception as exc:
            raise ValueError("encrypted") from exc
    pages = len(reader.pages)
    if pages > limits.max_pages:
        raise _TooMany("pages", pages)
    out = _Text(limits.max_chars)
    for page in reader.pages:
        out.add(page.extract_text() or "")
    return out.text("\n\n")


def _docx(data: bytes, limits: ExtractLimits) -> str:
    import docx

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ValueError("not a zip archive")
    document = docx.Document(io.BytesIO(data))
    out = _Text(limits.max_chars)
    for p in document.paragraphs:
        out.add(p.text)
    for table in document.tables:
        for row in table.rows:
            out.add(" | ".join(cell.text for cell in row.cells))
    return out.text()


def _pptx(data: bytes, limits: ExtractLimits) -> str:
    from pptx import Presentation

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ValueError("not a zip archive")
    deck = Presentation(io.BytesIO(data))
    if len(deck.slides) > limits.max_pages:
        raise _TooMany("pages", len(deck.slides))
    out = _Text(limits.max_chars)
    for slide in deck.slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                out.add(shape.text_frame.text)
            if getattr(shape, "has_table", False) and shape.has_table:
                for row in shape.table.rows:
                    out.add(" | ".join(cell.text for cell in row.cells))
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            out.add(slide.notes_slide.notes_text_frame.text)
        out.add("")
    return out.text()
