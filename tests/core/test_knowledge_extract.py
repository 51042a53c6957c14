"""Text extraction from every supported file type, built by the test itself."""

from __future__ import annotations

import io

import pytest

from core.errors import DomainError
from core.textextract import detect_language, extract


def _pdf(text: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def _docx(paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    import docx

    document = docx.Document()
    for p in paragraphs:
        document.add_paragraph(p)
    if table:
        t = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                t.cell(r, c).text = value
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _pptx(slides: list[tuple[str, str]]) -> bytes:
    from pptx import Presentation

    deck = Presentation()
    for title, body in slides:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    buf = io.BytesIO()
    deck.save(buf)
    return buf.getvalue()


def test_markdown_and_text() -> None:
    got = extract("notes.md", b"# Price rules\n\nDiscounts need approval.")
    assert "Discounts need approval." in got.text and got.mime == "text/markdown"
    got = extract("list.TXT", b"Harga daftar dalam rupiah dan belum termasuk PPN.")
    assert got.language == "id" and got.mime == "text/plain"
    # cp1252 text (a Windows export) still reads
    assert "café" in extract("old.txt", "Meeting at the café".encode("cp1252")).text


def test_pdf() -> None:
    got = extract("policy.pdf", _pdf("Travel policy: hotel limit IDR 900,000 per night."))
    assert "hotel limit" in got.text and got.mime == "application/pdf"


def test_docx_with_table() -> None:
    data = _docx(["Proposal for PT Sinar Jaya Abadi", "Scope: compressors"],
                 [["Item", "Price"], ["Compressor", "IDR 120,000,000"]])
    got = extract("proposal.docx", data)
    assert "Sinar Jaya Abadi" in got.text and "Compressor | IDR 120,000,000" in got.text


def test_pptx() -> None:
    got = extract("deck.pptx", _pptx([("Who we are", "Industrial equipment since 2004"),
                                      ("Service", "24-hour response")]))
    assert "Industrial equipment since 2004" in got.text and "24-hour response" in got.text


@pytest.mark.parametrize(("name", "data", "code"), [
    ("broken.pdf", b"%PDF-1.4 not really", "kb.unreadable"),
    ("broken.docx", b"PK\x03\x04 not a real archive", "kb.unreadable"),
    ("broken.pptx", b"plain text pretending", "kb.unreadable"),
    ("empty.md", b"", "kb.unreadable"),
    ("blank.txt", b"   \n\n  ", "kb.unreadable"),
    ("binary.txt", b"\x00\x01\x02binary", "kb.unreadable"),
    ("photo.jpg", b"\xff\xd8\xff", "kb.unsupported"),
])
def test_unreadable_files_are_refused(name: str, data: bytes, code: str) -> None:
    with pytest.raises(DomainError) as info:
        extract(name, data)
    assert info.value.code == code
    assert info.value.params["name"] == name


def test_pdf_without_text_is_refused() -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()  # an empty page: a scan without OCR looks like this
    with pytest.raises(DomainError) as info:
        extract("scan.pdf", bytes(pdf.output()))
    assert info.value.params["reason"] == "no text"


def test_language_detection() -> None:
    assert detect_language("The price list is valid for 30 days and excludes VAT.") == "en"
    assert detect_language("Penawaran ini berlaku 30 hari dan belum termasuk PPN.") == "id"


def test_extension_from_mime() -> None:
    got = extract("upload", b"# Title\n\nSome words here.", "text/markdown")
    assert got.mime == "text/markdown"
