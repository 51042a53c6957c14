"""The quote as a PDF (fpdf2, the Unicode document font): the seller's letterhead from the
organisation's details, the customer, lines, discounts, tax, totals and the seller's terms."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from bot.documents import DocumentPdf, letterhead
from bot.i18n import Translator
from core.organisation import Seller


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
    seller: Seller = field(default_factory=Seller)  # a draft until the admin sets it


GREY_TEXT = 90


def _pct(value: Decimal) -> str:
    text = f"{Decimal(value).quantize(Decimal('0.01')):f}".rstrip("0").rstrip(".")
    return f"{text}%"


def render_quote_pdf(q: PdfQuote, t: Translator) -> bytes:
    """The quote document: seller letterhead, customer, lines, discounts, tax, totals,
    validity, the seller's terms. Labels in the reader's language."""
    pdf = DocumentPdf(q.seller, t, footer_text=f"{q.number} v{q.version}")
    pdf.set_title(f"{t('Quotation')} {q.number} v{q.version}")
    pdf.add_page()

    def money(amount: Decimal) -> str:
        return t.money(amount, q.currency)

    letterhead(pdf)
    pdf.font(13, bold=True)
    pdf.text_cell(0, 7, f"{t('Quotation')} {q.number} (v{q.version})",
                  new_x="LMARGIN", new_y="NEXT")
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
        pdf.font(9, bold=True)
        pdf.text_cell(32, 5, label)
        pdf.font(9)
        pdf.text_block(0, 5, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    widths = (8, 26, 62, 14, 30, 16, 34)
    heads = ("#", t("SKU"), t("Description"), t("Qty"), t("Unit price"), t("Disc."),
             t("Amount"))
    aligns = ("R", "L", "L", "R", "R", "R", "R")

    def header_row() -> None:
        pdf.font(8, bold=True)
        pdf.set_fill_color(230, 236, 245)
        for w, h, a in zip(widths, heads, aligns, strict=True):
            pdf.text_cell(w, 6, h, border="B", align=a, fill=True)
        pdf.ln()
        pdf.font(8)

    header_row()
    for i, line in enumerate(q.lines, start=1):
        if pdf.get_y() > pdf.h - 32:
            pdf.add_page()
            header_row()
        name = line.name
        while pdf.get_string_width(name) > widths[2] - 2 and len(name) > 4:
            name = name[:-2]
        cells = (str(i), line.sku, name, f"{line.quantity}", money(line.unit_price),
                 _pct(line.discount_pct) if line.discount_pct else "", money(line.net))
        for w, text, a in zip(widths, cells, aligns, strict=True):
            pdf.text_cell(w, 5, text, align=a)
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
        pdf.font(10 if bold else 9, bold=bold)
        pdf.text_cell(sum(widths) - 40, 6, label, align="R")
        pdf.text_cell(40, 6, value, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.font(8)
    pdf.set_text_color(GREY_TEXT)
    if q.discount_pct:
        pdf.text_cell(0, 5, t("Includes a quote discount of {pct}.", pct=_pct(q.discount_pct)),
                      new_x="LMARGIN", new_y="NEXT")
    if q.discount_note:
        pdf.text_block(0, 5, q.discount_note, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0)
    pdf.ln(4)
    pdf.font(9, bold=True)
    pdf.text_cell(0, 5, t("Terms"), new_x="LMARGIN", new_y="NEXT")
    pdf.font(8)
    seller = q.seller
    terms = [
        t("Prices in {currency}, VAT shown separately.", currency=q.currency),
        t("This quotation is valid until {date}.", date=t.date(q.valid_until)),
    ]
    for column in ("payment_terms", "delivery_terms"):
        if wording := seller.text(column, t.locale):
            terms.append(wording)
    if seller.bank_details:
        terms.append(t("Payment to: {bank}", bank=seller.bank_details))
    for term in terms:
        pdf.text_block(0, 4, "- " + term, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
