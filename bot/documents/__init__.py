"""Generated documents (quote, proposal, contract summary): one Unicode font (DejaVu Sans,
bot.documents.fonts), the seller's letterhead from the organisation's details
(core.organisation), and a visible DRAFT line until those details are set. User-facing
labels go through the Translator of the document's language."""

from __future__ import annotations

import io
from typing import Any

from fpdf import FPDF

from bot.documents.fonts import FAMILY, font_files, printable
from bot.i18n import N_, Translator
from core.organisation import Seller

DRAFT_LINE = N_("DRAFT — set your company details with sfa org set")
GREY = 110
RED = (180, 20, 20)


class DocumentPdf(FPDF):
    """An A4 document in the Unicode font whose footer names the seller and the page."""

    def __init__(self, seller: Seller, t: Translator, footer_text: str = "") -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        for style, path in font_files().items():
            self.add_font(FAMILY, style, str(path))
        self.seller = seller
        self.t = t
        self.footer_text = footer_text
        self.alias_nb_pages()
        self.set_auto_page_break(auto=True, margin=20)
        if seller.name:
            self.set_author(printable(seller.name))
        self.set_creator("SFA Assistant")

    def font(self, size: float, bold: bool = False) -> None:
        self.set_font(FAMILY, "B" if bold else "", size)

    def text_cell(self, w: float, h: float, text: str, **kw: Any) -> None:
        """A cell whose text is printed exactly as given (no markup is interpreted)."""
        self.cell(w, h, printable(text), **kw)

    def text_block(self, w: float, h: float, text: str, **kw: Any) -> None:
        """Wrapped text, printed exactly as given."""
        self.multi_cell(w, h, printable(text), **kw)

    def footer(self) -> None:
        self.set_y(-14)
        self.font(7)
        self.set_text_color(GREY)
        seller = self.seller
        parts = [seller.legal_name or seller.name or "",
                 (self.t("Tax number {number}", number=seller.tax_number)
                  if seller.tax_number else "")]
        line = " · ".join(p for p in parts if p)
        if seller.is_draft:
            line = self.t(DRAFT_LINE)
        if line:
            self.text_cell(0, 4, line, align="C", new_x="LMARGIN", new_y="NEXT")
        self.text_cell(0, 4, f"{self.footer_text}  {self.page_no()}/{{nb}}".strip(),
                       align="C")
        self.set_text_color(0)


def letterhead(pdf: DocumentPdf) -> None:
    """The seller's name, address and contacts at the top of the first page (the logo on
    the right), or the DRAFT line while the details are not set."""
    seller, t = pdf.seller, pdf.t
    top = pdf.get_y()
    text_width = pdf.epw
    if seller.logo:
        try:
            info = pdf.image(io.BytesIO(seller.logo), x=pdf.w - pdf.r_margin - 40, y=top,
                             w=0, h=18, keep_aspect_ratio=True)
            text_width = pdf.epw - 44 if info else text_width
        except Exception:  # a logo fpdf cannot draw is left out, never a failed document
            text_width = pdf.epw
    if seller.name:
        pdf.font(15, bold=True)
        pdf.text_block(text_width, 7, seller.name, new_x="LMARGIN", new_y="NEXT")
    pdf.font(8)
    if seller.legal_name and seller.legal_name != seller.name:
        pdf.text_block(text_width, 4, seller.legal_name, new_x="LMARGIN", new_y="NEXT")
    if seller.address:
        pdf.text_block(text_width, 4, seller.address, new_x="LMARGIN", new_y="NEXT")
    reach = [seller.phone and t("Phone {phone}", phone=seller.phone), seller.email,
             seller.website]
    if any(reach):
        pdf.text_block(text_width, 4, " · ".join(r for r in reach if r),
                       new_x="LMARGIN", new_y="NEXT")
    if seller.tax_number:
        pdf.text_block(text_width, 4, t("Tax number {number}", number=seller.tax_number),
                       new_x="LMARGIN", new_y="NEXT")
    if seller.is_draft:
        pdf.ln(1)
        pdf.font(10, bold=True)
        pdf.set_text_color(*RED)
        pdf.text_block(text_width, 6, t(DRAFT_LINE), new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0)
    pdf.set_y(max(pdf.get_y(), top + (20 if seller.logo else 0)))
    pdf.ln(3)
