"""The quote PDF: a valid PDF whose text holds every line and the total; labels in the
reader's language; names outside latin-1 are transliterated, never a crash."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

from pypdf import PdfReader

from bot.documents import latin1
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


def test_names_outside_latin1_are_transliterated() -> None:
    assert latin1("Café “Ōsaka” – 東京") == 'Café "Osaka" - ??'
    data = render_quote_pdf(doc(1, customer="Warung Ḱopi Ŝedap 😀"), Translator("en"))
    _, text = text_of(data)
    assert "Warung Kopi Sedap ?" in text
