"""The quote PDF: a valid PDF whose text holds every line and the total; labels in the
reader's language; names in Latin Extended and Vietnamese print as typed (Unicode font),
characters outside the font become their base letter or "?", never a crash."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

from pypdf import PdfReader

from bot.documents.fonts import printable
from bot.documents.quote_pdf import PdfLine, PdfQuote, render_quote_pdf
from bot.i18n import Translator


def doc(lines: int, customer: str = "PT Sinar Jaya Abadi") -> PdfQuote:
    return PdfQuote(
        number="Q-2026-0007", version=2, currency="USD",
        issued=datetime(2026, 3, 2, 2, tzinfo=UTC), valid_until=date(2026, 4, 1),
        customer=customer, customer_address="Jl. Hayam Wuruk No. 16, Jakarta",
        customer_city="Jakarta", deal_title="Servers", prepared_by="Budi Santoso",
        lines=tuple(PdfLine(sku=f"SKU-{i}", name=f"Item number {i}", quantity=i, unit="unit",
                            unit_price=Decimal("10.50"), discount_pct=Decimal(0),
                            net=Decimal("10.50") * i) for i in range(1, lines + 1)),
        subtotal=Decimal("10.50") * sum(range(1, lines + 1)), discount_total=Decimal(0),
        discount_pct=Decimal(0), tax_total=Decimal("1.16"),
        total=Decimal("10.50") * sum(range(1, lines + 1)) + Decimal("1.16"))


def text_of(data: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def test_long_quote_spans_pages_with_every_line_and_the_total() -> None:
    q = doc(120)
    pages, text = text_of(render_quote_pdf(q, Translator("en")))
    assert pages >= 3
    for i in (1, 60, 120):
        assert f"Item number {i}" in text and f"SKU-{i}" in text
    assert "Total" in text and "$76,231.16" in text  # 10.50 x 7260 + 1.16
    assert "This quotation is valid until Wed 1 Apr 2026." in text


def test_indonesian_labels() -> None:
    _, text = text_of(render_quote_pdf(doc(2), Translator("id")))
    assert "Penawaran Harga Q-2026-0007 (v2)" in text
    assert "Berlaku sampai" in text and "Harga satuan" in text


def test_names_in_any_latin_script_print_as_typed() -> None:
    data = render_quote_pdf(doc(1, customer="Công ty Nguyễn Thị Minh Khai – Łódź “Żółć”"),
                            Translator("en"))
    _, text = text_of(data)
    assert "Công ty Nguyễn Thị Minh Khai – Łódź “Żółć”" in text
    # typed with combining marks (decomposed), printed with the font's own letters
    assert printable("Nguye\u0302\u0303n") == "Nguyễn"
    assert printable("Café 東京 😀 Ｏsaka") == "Café ?? ? Osaka"
    _, text = text_of(render_quote_pdf(doc(1, customer="Warung 東京 😀"), Translator("en")))
    assert "Warung ?? ?" in text
