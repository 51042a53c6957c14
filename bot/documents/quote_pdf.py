"""The quote as a PDF (fpdf2, core fonts; text transliterated to latin-1 safely)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from fpdf import FPDF

from bot.documents import latin1
from bot.i18n import Translator

SELLER = "PT Solusi Niaga Nusantara"
SELLER_LINES = ("Jl. Jend. Sudirman Kav. 52-53, Jakarta 12190", "sales@solusiniaga.example")


@dataclass(frozen=True)
class PdfLine:
    sku: str
    name: str
    quantity: int
    unit: str
    unit_price: Decimal
    discount_pct: Decimal
    net: Decimal


@dataclass(frozen=True)
class PdfQuote:
    number: str
    version: int
    currency: str
    issued: datetime
    valid_until: date
    customer: str
    customer_address: str | None
    customer_city: str | None
    deal_title: str | None
    prepared_by: str
    lines: tuple[PdfLine, ...]
    subtotal: Decimal
    discount_total: Decimal
    discount_pct: Decimal
    tax_total: Decimal
    total: Decimal
    discount_note: str | None = None


class _Pdf(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=7)
        self.set_text_color(120)
        self.cell(0, 5, self.footer_text + f"  {self.page_no()}/{{nb}}", align="C")


def _pct(value: Decimal) -> str:
    text = f"{Decimal(value).quantize(Decimal('0.01')):f}".rstrip("0").rstrip(".")
    return f"{text}%"


def render_quote_pdf(q: PdfQuote, t: Translator) -> bytes:
    """The quote document: seller header, customer, lines, discounts, tax, totals, validity,
    terms. Labels in the reader's language."""
    pdf = _Pdf(orientation="P", unit="mm", format="A4")
    pdf.footer_text = latin1(f"{q.number} v{q.version}")
    pdf.set_title(latin1(f"{t('Quotation')} {q.number} v{q.version}"))
    pdf.set_author(latin1(SELLER))
    pdf.alias_nb_pages()
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()

    def money(amount: Decimal) -> str:
        return latin1(t.money(amount, q.currency))

    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 8, latin1(SELLER), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=8)
    for seller_line in SELLER_LINES:
        pdf.cell(0, 4, latin1(seller_line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 7, latin1(f"{t('Quotation')} {q.number} (v{q.version})"),
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=9)
    facts = [
        (t("Date"), t.date(q.issued)),
        (t("Valid until"), t.date(q.valid_until)),
        (t("Customer"), q.customer),
    ]
    if q.customer_address or q.customer_city:
        facts.append((t("Address"), q.customer_address or q.customer_city or ""))
    if q.deal_title:
        facts.append((t("Deal"), q.deal_title))
    facts.append((t("Prepared by"), q.prepared_by))
    for label, value in facts:
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(32, 5, latin1(label))
        pdf.set_font("Helvetica", size=9)
        pdf.multi_cell(0, 5, latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    widths = (8, 26, 62, 14, 30, 16, 34)
    heads = ("#", t("SKU"), t("Description"), t("Qty"), t("Unit price"), t("Disc."),
             t("Amount"))
    aligns = ("R", "L", "L", "R", "R", "R", "R")

    def header_row() -> None:
        pdf.set_font("Helvetica", "B", 8)
        pdf.set_fill_color(230, 236, 245)
        for w, h, a in zip(widths, heads, aligns, strict=True):
            pdf.cell(w, 6, latin1(h), border="B", align=a, fill=True)
        pdf.ln()
        pdf.set_font("Helvetica", size=8)

    header_row()
    for i, line in enumerate(q.lines, start=1):
        if pdf.get_y() > pdf.h - 30:
            pdf.add_page()
            header_row()
        name = latin1(line.name)
        while pdf.get_string_width(name) > widths[2] - 2 and len(name) > 4:
            name = name[:-2]
        cells = (str(i), latin1(line.sku), name, f"{line.quantity}", money(line.unit_price),
                 _pct(line.discount_pct) if line.discount_pct else "", money(line.net))
        for w, text, a in zip(widths, cells, aligns, strict=True):
            pdf.cell(w, 5, text, align=a)
        pdf.ln()
    pdf.ln(2)

    totals = [(t("Subtotal"), money(q.subtotal))]
    if q.discount_total:
        totals.append((t("Discounts"), "-" + money(q.discount_total)))
        totals.append((t("Net"), money(q.subtotal - q.discount_total)))
    totals.append((t("Tax (VAT)"), money(q.tax_total)))
    totals.append((t("Total"), money(q.total)))
    for label, value in totals:
        bold = label == t("Total")
        pdf.set_font("Helvetica", "B" if bold else "", 10 if bold else 9)
        pdf.cell(sum(widths) - 40, 6, latin1(label), align="R")
        pdf.cell(40, 6, value, align="R", new_x="LMARGIN", new_y="NEXT")
    if q.discount_pct:
        pdf.set_font("Helvetica", "I", 8)
        pdf.cell(0, 5, latin1(t("Includes a quote discount of {pct}.", pct=_pct(q.discount_pct))),
                 new_x="LMARGIN", new_y="NEXT")
    if q.discount_note:
        pdf.set_font("Helvetica", "I", 8)
        pdf.multi_cell(0, 5, latin1(q.discount_note), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 9)
    pdf.cell(0, 5, latin1(t("Terms")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=8)
    terms = (
        t("Prices in {currency}, VAT shown separately.", currency=q.currency),
        t("This quotation is valid until {date}.", date=t.date(q.valid_until)),
        t("Payment 30 days after invoice. Delivery 2 to 4 weeks after the order."),
    )
    for term in terms:
        pdf.multi_cell(0, 4, latin1("- " + term), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
