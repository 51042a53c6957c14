"""Search snippets: about SNIPPET_CHARS of a document around the first word that matched,
every matching word marked *like this*.

A word of the text is marked when it is a query word or when it stems to the same term as
one (English through Porter, Indonesian through PySastrawi), as the index matched it: a
search for "kirim" marks "pengiriman" and "mengirim", "price" marks "pricing", not
"priceless". A regex finds the candidates in C (words holding a query stem; or an
Indonesian stem without the first letter its prefix melts: meng+kirim = "mengirim"; or
starting with an English stem but its last letter: pric-ing) and only those go through
the stemmers, so a long document's words that match nothing cost little.
"""

from __future__ import annotations

import functools
import re

from search_index.analysis import STOP_WORDS, terms

SNIPPET_CHARS = 180
_CONTEXT_CHARS = 50  # of text before the first match
_WINDOW_CHARS = 1200  # of raw text taken around the first match before it is tidied
_MARKUP = re.compile(r"(?:^|\s)(?:#{1,6}|[-|]{2,}|\|)(?=\s|$)")
_MELTING = frozenset("ktps")  # first letters an Indonesian prefix melts (mem-, men-, meny-)


class Marker:
    """Finds and marks the words of a text that match the query words."""

    def __init__(self, words: tuple[str, ...]) -> None:
        self.words = frozenset(w for w in words if w not in STOP_WORDS)
        self.en = frozenset(t for w in self.words for t in terms("en", w))
        self.id = frozenset(t for w in self.words for t in terms("id", w))
        parts: set[str] = {re.escape(w) for w in self.words}
        for stem in self.en | self.id:
            if len(stem) >= 3:
                parts.add(r"\w*" + re.escape(stem) + r"\w*")
        for stem in self.en:  # Porter ends a stem in e / i where the word may not: pric-ing
            if len(stem) >= 4:
                parts.add(re.escape(stem[:-1]) + r"\w*")
        for stem in self.id:
            if len(stem) >= 4 and stem[0] in _MELTING:
                parts.add(r"\w*" + re.escape(stem[1:]) + r"\w*")
        alternatives = "|".join(sorted(parts, key=len, reverse=True))
        self.pattern = (re.compile(r"(?<!\w)(?:" + alternatives + r")(?!\w)", re.IGNORECASE)
                        if parts else None)

    def matches(self, word: str) -> bool:
        """Whether a word of the text is a query word or one of its forms."""
        lower = word.lower()
        return (lower in self.words or any(t in self.en for t in terms("en", lower))
                or any(t in self.id for t in terms("id", lower)))

    def first(self, text: str) -> re.Match[str] | None:
        if self.pattern is None:
            return None
        for match in self.pattern.finditer(text):
            if self.matches(match.group(0)):
                return match
        return None

    def mark(self, text: str) -> str:
        if self.pattern is None:
            return text

        def mark(found: re.Match[str]) -> str:
            word = found.group(0)
            return "*" + word + "*" if self.matches(word) else word

        return self.pattern.sub(mark, text)


@functools.lru_cache(maxsize=4096)
def snippet_marker(words: tuple[str, ...]) -> Marker:
    return Marker(words)


def snippet(text: str, marker: Marker) -> str:
    """About SNIPPET_CHARS of text around the first match, matches marked *like this*; the
    lead of the text when no word of it matches (a title-only match)."""
    found = marker.first(text)
    if found is None:
        return _lead(text)
    # Tidy only a window of the raw text around the match: a long document costs no more.
    raw_start = max(0, found.start() - _WINDOW_CHARS // 4)
    raw_end = min(len(text), found.end() + _WINDOW_CHARS)
    before = _flat(text[raw_start:found.start()])
    if before and text[found.start() - 1].isspace():
        before += " "
    at = len(before)  # where the match starts in the tidied window
    flat = before + _flat(text[found.start():raw_end])
    more_before = raw_start > 0 and bool(text[:raw_start].strip())
    more_after = raw_end < len(text) and bool(text[raw_end:].strip())
    start = max(0, at - _CONTEXT_CHARS)
    if start:
        start = flat.find(" ", start) + 1 or start
    end = min(len(flat), start + SNIPPET_CHARS)
    if end < len(flat):
        cut = flat.rfind(" ", start, end)
        end = cut if cut > at + len(found.group(0)) else end
    window = flat[start:end]
    return (("… " if start or more_before else "") + marker.mark(window)
            + (" …" if end < len(flat) or more_after else ""))


def _flat(text: str) -> str:
    return " ".join(_MARKUP.sub(" ", text).split())


def _lead(text: str) -> str:
    flat = " ".join(text[:SNIPPET_CHARS * 4].split())
    if len(flat) <= SNIPPET_CHARS and len(text) <= SNIPPET_CHARS * 4:
        return flat
    cut = flat[:SNIPPET_CHARS].rsplit(" ", 1)[0]
    return cut + " …"
