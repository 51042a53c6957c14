"""A filled proposal / contract summary as a PDF: the rendered template text laid out with
markdown-like headings (#, ##), bullet lines (- or *) and paragraphs (fpdf2 core fonts)."""

from __future__ import annotations

from fpdf import FPDF

from bot.documents import latin1


def proposal_pdf(title: str, text: str, footer: str) -> bytes:
    """Lay out `text` (the filled template) under `title`."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_title(latin1(title))
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(width, 8, latin1(title))
    pdf.ln(2)
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            pdf.ln(3)
            continue
        if line.startswith("## "):
            pdf.set_font("Helvetica", "B", 12)
            pdf.multi_cell(width, 7, latin1(line[3:]))
        elif line.startswith("# "):
            pdf.set_font("Helvetica", "B", 14)
            pdf.multi_cell(width, 8, latin1(line[2:]))
        elif line.lstrip().startswith(("- ", "* ")):
            pdf.set_font("Helvetica", size=10)
            pdf.set_x(pdf.l_margin + 4)
            pdf.multi_cell(width - 4, 5, latin1("- " + line.lstrip()[2:]))
        else:
            pdf.set_font("Helvetica", size=10)
            pdf.multi_cell(width, 5, latin1(line))
    pdf.set_y(-20)
    pdf.set_font("Helvetica", size=7)
    pdf.set_text_color(120)
    pdf.cell(0, 5, latin1(footer), align="C")
    return bytes(pdf.output())
