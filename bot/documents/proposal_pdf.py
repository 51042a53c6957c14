"""A filled proposal / contract summary as a PDF: the seller's letterhead, then the rendered
template text laid out with markdown-like headings (#, ##), bullet lines (- or *) and
paragraphs, in the Unicode document font; the DRAFT line while the seller is not set."""

from __future__ import annotations

from bot.documents import DocumentPdf, letterhead
from bot.i18n import Translator
from core.organisation import Seller


def proposal_pdf(title: str, text: str, footer: str, *, seller: Seller | None = None,
                 t: Translator | None = None) -> bytes:
    """Lay out `text` (the filled template) under `title`; labels in `t`'s language (the
    document's, which may differ from the reader's)."""
    pdf = DocumentPdf(seller or Seller(), t or Translator("en"), footer_text=footer)
    pdf.set_title(title)
    pdf.add_page()
    letterhead(pdf)
    width = pdf.epw
    pdf.font(16, bold=True)
    pdf.text_block(width, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            pdf.ln(3)
            continue
        if line.startswith("## "):
            pdf.font(12, bold=True)
            pdf.text_block(width, 7, line[3:], new_x="LMARGIN", new_y="NEXT")
        elif line.startswith("# "):
            pdf.font(14, bold=True)
            pdf.text_block(width, 8, line[2:], new_x="LMARGIN", new_y="NEXT")
        elif line.lstrip().startswith(("- ", "* ")):
            pdf.font(10)
            pdf.set_x(pdf.l_margin + 4)
            pdf.text_block(width - 4, 5, "• " + line.lstrip()[2:], new_x="LMARGIN",
                           new_y="NEXT")
        else:
            pdf.font(10)
            pdf.text_block(width, 5, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
