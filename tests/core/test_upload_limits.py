"""Every document is opened under limits: a zip bomb (built here, never committed), too many
parts, pages or characters, a parser that runs away in memory or time. A refused file gets
one line naming the limit; nothing is saved; the process that got it is unharmed."""

from __future__ import annotations

import io
import resource
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bot.cli import main
from core.errors import DomainError
from core.models.knowledge import Document, PendingUpload
from core.textextract import ExtractLimits, extract
from tests.support.chat import CollectingChat, texts

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _docx(text: str = "Harga daftar dalam rupiah dan belum termasuk PPN.") -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(text)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def zip_bomb(unpacked_mb: int) -> bytes:
    """A valid DOCX whose word/document.xml inflates to `unpacked_mb` MB (one repeated
    paragraph: it compresses about 1000:1)."""
    source = zipfile.ZipFile(io.BytesIO(_docx()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as bomb:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename != "word/document.xml":
                bomb.writestr(info, data)
                continue
            head, tail = data.split(b"<w:body>", 1)
            paragraph = b"<w:p><w:r><w:t>" + b"A" * 1000 + b"</w:t></w:r></w:p>"
            block = paragraph * 1024  # ~1 MB
            with bomb.open("word/document.xml", "w", force_zip64=True) as xml:
                xml.write(head + b"<w:body>")
                for _ in range(unpacked_mb):
                    xml.write(block)
                xml.write(tail)
    return out.getvalue()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    data = zip_bomb(150)
    assert len(data) < 1_000_000  # under a megabyte as sent, 150 MB unpacked
    return data


def _refused(code: str, *args, **kw) -> DomainError:
    with pytest.raises(DomainError) as caught:
        extract(*args, **kw)
    assert caught.value.code == code, caught.value
    return caught.value


def test_zip_bomb_is_refused_before_parsing(bomb: bytes) -> None:
    started = time.monotonic()
    error = _refused("kb.limit_unpacked", "prices.docx", bomb, limits=ExtractLimits())
    assert time.monotonic() - started < 1.0  # the archive's directory only: nothing inflated
    assert error.params["limit"] == "100 MB" and float(error.params["size"][:-3]) > 150


def test_a_bomb_past_the_directory_check_is_stopped_by_the_child_limits(bomb: bytes) -> None:
    """A directory that lies (here: a limit set too high) still cannot take the process: the
    child parsing it hits its memory (or time) limit and is gone; this process stays small."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    limits = ExtractLimits(max_unpacked_bytes=10**12, memory_bytes=400 * 2**20, seconds=8)
    started = time.monotonic()
    with pytest.raises(DomainError) as caught:
        extract("prices.docx", bomb, limits=limits)
    assert caught.value.code in ("kb.limit_memory", "kb.limit_time")
    assert time.monotonic() - started < 10
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 50


def test_entries_pages_and_characters_are_capped() -> None:
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w") as archive:
        for i in range(40):
            archive.writestr(f"part{i}.xml", "<x/>")
    _refused("kb.limit_entries", "many.docx", many.getvalue(),
             limits=ExtractLimits(max_entries=20))

    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for page in range(5):
        pdf.add_page()
        pdf.cell(0, 10, f"Page {page} of the price book")
    error = _refused("kb.limit_pages", "book.pdf", bytes(pdf.output()),
                     limits=ExtractLimits(max_pages=3))
    assert error.params == {"name": "book.pdf", "count": 5, "max": 3}
    assert "Page 4" in extract("book.pdf", bytes(pdf.output()), limits=ExtractLimits()).text

    _refused("kb.limit_chars", "long.docx", _docx("word " * 2000),
             limits=ExtractLimits(max_chars=1000))
    _refused("kb.limit_chars", "long.txt", b"word " * 2000, limits=ExtractLimits(max_chars=1000))
    _refused("kb.limit_size", "big.txt", b"x" * 2000, limits=ExtractLimits(max_bytes=1000))


def test_parsing_time_is_capped() -> None:
    error = _refused("kb.limit_time", "prices.docx", _docx(), limits=ExtractLimits(seconds=0.01))
    assert error.params["seconds"] == "0.01"


async def test_rep_sending_a_bomb_in_chat_gets_one_line_and_nothing_is_kept(
        chat: CollectingChat, app, database, bomb: bytes) -> None:
    budi = chat.as_user("budi")
    started = time.monotonic()
    out = texts(await budi.upload("prices.docx", bomb, DOCX_MIME))
    assert time.monotonic() - started < 5
    assert out.strip().splitlines() == [
        next(line for line in out.splitlines() if line.startswith("prices.docx unpacks to"))]
    assert "the limit is 100 MB. Nothing was saved" in out
    with database.session() as s:
        assert s.scalar(select(func.count(PendingUpload.id))) == 0
    # The bot goes on: a good file right after is taken.
    out = texts(await budi.upload("prices.docx", _docx(), DOCX_MIME))
    assert "Got prices.docx" in out or "What kind of document" in out, out


async def test_indonesian_words_name_the_limit(chat: CollectingChat, bomb: bytes) -> None:
    budi = chat.as_user("budi")
    await budi.say("/language id")
    out = texts(await budi.upload("harga.docx", bomb, DOCX_MIME))
    assert "harga.docx" in out and "100 MB" in out and "{" not in out


def test_kb_add_refuses_the_bomb_with_one_line(tmp_path: Path, bomb: bytes) -> None:
    env = {"SFA_DATABASE_URL": f"sqlite:///{tmp_path / 'kb.db'}",
           "SFA_DATA_DIR": str(tmp_path / "data"), "SFA_LOG_LEVEL": "CRITICAL"}
    runner = CliRunner()
    assert runner.invoke(main, ["seed", "--base-only", "--companies", "5", "--contacts", "5"],
                         env=env).exit_code == 0
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "bomb.docx").write_bytes(bomb)
    (tmp_path / "docs" / "good.docx").write_bytes(_docx())
    started = time.monotonic()
    result = runner.invoke(main, ["kb", "add", str(tmp_path / "docs")], env=env)
    assert time.monotonic() - started < 20
    assert result.exit_code == 1
    assert "added 1, updated 0, unchanged 0, failed 1" in result.output
    assert "bomb.docx unpacks to 15" in result.output and "the limit is 100 MB" in result.output
    big = tmp_path / "big.md"
    big.write_bytes(b"# x\n" + b"y" * 3000)
    result = runner.invoke(main, ["kb", "add", str(big)],
                           env={**env, "SFA_MAX_UPLOAD_BYTES": "1000"})
    assert "big.md is 2.9 KB; the limit is 1000 bytes" in result.output
    assert result.exit_code == 1
    from core.db import Database

    db = Database(env["SFA_DATABASE_URL"])
    with db.session() as s:
        assert s.scalar(select(func.count(Document.id)).where(
            Document.filename == "bomb.docx")) == 0
    db.dispose()


def test_pictures_are_checked_by_their_header() -> None:
    from PIL import Image

    from core.textextract import check_image

    small = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(small, "PNG")
    assert check_image("ok.png", small.getvalue(), ExtractLimits()) == (64, 48)
    # A PNG of 20000 x 20000 pixels, one colour: a few hundred KB that would decode to
    # 1.2 GB. Written row by row by hand (the header is all that is read).
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    side = 20_000
    rows = zlib.compressobj(9)
    packed = b"".join(rows.compress(b"\x00" + b"\x00" * side * 3) for _ in range(side))
    packed += rows.flush()
    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2,
                                                               0, 0, 0))
            + chunk(b"IDAT", packed) + chunk(b"IEND", b""))
    assert len(bomb) < 2_000_000
    error = _refused_image(bomb)
    assert error.code == "kb.limit_pixels" and error.params["megapixels"] == "400"
    assert _refused_image(b"\xff\xd8\xff\xe0 not really a jpeg").code == "kb.not_image"


def _refused_image(data: bytes) -> DomainError:
    from core.textextract import check_image

    with pytest.raises(DomainError) as caught:
        check_image("photo.png", data, ExtractLimits())
    return caught.value
