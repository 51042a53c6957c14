"""Generated documents (the PDF quote); user-facing labels go through the Translator."""

from __future__ import annotations

import unicodedata

# Characters the PDF core fonts (latin-1) lack, with a readable stand-in.
_REPLACEMENTS = {"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"',
                 "\u201d": '"', "\u2026": "...", "\u20ac": "EUR", "\u2022": "-", "\u00a0": " ",
                 "\u202f": " ", "\u2009": " "}


def latin1(text: str) -> str:
    """Text the core PDF fonts can draw: accents kept when latin-1 has them, other letters
    transliterated (NFKD, accents dropped), anything else replaced by '?'."""
    out = []
    for ch in text:
        ch = _REPLACEMENTS.get(ch, ch)
        try:
            ch.encode("latin-1")
            out.append(ch)
            continue
        except UnicodeEncodeError:
            pass
        base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii")
        out.append(base or "?")
    return "".join(out)
