"""Analysers: English with the Porter stemmer, Indonesian with PySastrawi (the dictionary-
based Nazief-Adriani stemmer); stop words of both.

English documents are indexed in the `*_en` fields, Indonesian ones in `*_id`; a query is
analysed once per field, so an English word is stemmed the English way and an Indonesian
word is never put through the English (Porter) stemmer.

Each analyser is one pass (`WordAnalyzer`): tokenise, lower-case, drop stop words and words
of one letter, stem through a cache. It yields what `RegexTokenizer() | LowercaseFilter() |
StopFilter(minsize=2) | StemFilter(...)` yields, at about a third of the cost of four
chained generators, which is most of the time an index build spends outside Whoosh's own
posting writer.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from typing import Any, cast

from whoosh.analysis import (
    Analyzer,
    LowercaseFilter,
    RegexTokenizer,
    StopFilter,
    Token,
    Tokenizer,
)
from whoosh.lang.porter import stem as porter_stem

EN_STOP = frozenset(str.split(
    "a an and are as at be but by for from has have if in into is it its of on or our "
    "so such that the their then there these they this to was were will with we you your "
    "not no can may must should all any each per"))
ID_STOP = frozenset(str.split(
    "yang dan di ke dari untuk dengan pada adalah ini itu tidak akan dalam atau juga oleh "
    "sebagai harus dapat bisa kami kita anda mereka ia dia saya para bagi agar supaya karena "
    "jika bila maka sudah belum telah sedang masih hanya lebih paling sangat setiap semua "
    "tersebut tentang antara serta namun tetapi atau pun lagi ada"))
STOP_WORDS = EN_STOP | ID_STOP
_TOKEN = re.compile(r"\w+(?:\.?\w+)*", re.UNICODE)  # RegexTokenizer's, without '*'
_STEM_CACHE = 200_000


@functools.lru_cache(maxsize=1)
def _sastrawi() -> Any:
    from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

    # Not the factory's cached stemmer: our own lru_cache below is bounded and C-fast.
    return StemmerFactory().create_stemmer(False)


@functools.lru_cache(maxsize=_STEM_CACHE)
def stem_id(word: str) -> str:
    """The root of an Indonesian word (PySastrawi): "pengiriman", "mengirim", "dikirimkan"
    -> "kirim"; "penawaran" -> "tawar"; "kebijakan" -> "bijak"; "pembayaran" -> "bayar".
    A word it cannot take apart (a name, a product code, an English word) stays whole."""
    if not word.isalpha():
        return word  # "x1", "2026", "3.5": Sastrawi would cut the digits off
    return _sastrawi().stem(word) or word


# One cache per language for the whole process: the index's fields, the query words and
# the snippets' marker share it (PySastrawi takes ~0.5 ms a word it has not seen).
_STEMMERS: dict[str, Callable[[str], str]] = {
    "en": functools.lru_cache(maxsize=_STEM_CACHE)(porter_stem), "id": stem_id, "": str}


class WordAnalyzer(Tokenizer):
    """Tokenise, lower-case, drop stop words (and one-letter words), stem: one pass."""

    def __init__(self, language: str = "") -> None:
        self.language = language
        self._stem = _STEMMERS[language]

    def __getstate__(self) -> dict[str, Any]:  # pickled in the index's schema
        return {"language": self.language}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state.get("language", ""))  # type: ignore[misc]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WordAnalyzer) and other.language == self.language

    def __hash__(self) -> int:
        return hash((WordAnalyzer, self.language))

    def term(self, token: str) -> str | None:
        """What one token of `tokens` becomes, as `__call__` yields it: None for a stop
        word or a word of one letter (dropped), else its stem."""
        word = token.lower()
        if len(word) < 2 or word in STOP_WORDS:
            return None
        return self._stem(word)

    @staticmethod
    def tokens(value: str) -> list[str]:
        """The tokens `__call__` analyses, in order (before lower-casing)."""
        return _TOKEN.findall(value)

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, tokenize: bool = True, mode: str = "",
                 **kwargs: Any) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        stem = self._stem
        if not tokenize:
            t.original = value  # type: ignore[attr-defined]  # Token's are set freely
            t.text = stem(value.lower())
            t.boost = 1.0
            t.stopped = False
            if positions:
                t.pos = start_pos
            if chars:
                t.startchar, t.endchar = start_char, start_char + len(value)
            yield t
            return
        pos = start_pos
        if not (chars or keeporiginal):  # the common case: words only, no match objects
            t.boost = 1.0
            for text in _TOKEN.findall(value):
                word = text.lower()  # each word, as LowercaseFilter does ("İ" grows a dot)
                stopped = len(word) < 2 or word in STOP_WORDS
                if stopped and removestops:
                    continue
                t.text = word if stopped else stem(word)
                t.stopped = stopped
                if positions:
                    t.pos = pos
                pos += 1
                yield t
            return
        for match in _TOKEN.finditer(value):
            text = match.group(0)
            word = text.lower()
            stopped = len(word) < 2 or word in STOP_WORDS
            if stopped and removestops:
                continue
            t.text = word if stopped else stem(word)
            t.stopped = stopped
            t.boost = 1.0
            if keeporiginal:
                t.original = text  # type: ignore[attr-defined]
            if positions:
                t.pos = pos
            if chars:
                t.startchar = start_char + match.start()
                t.endchar = start_char + match.end()
            pos += 1
            yield t


@functools.lru_cache(maxsize=65536)
def terms(language: str, word: str) -> tuple[str, ...]:
    """The terms a word becomes in the fields of a language ("en", "id"): none for a stop
    word, else its stem (analysers are pure: cached)."""
    return tuple(t.text for t in _analyzer(language)(word))


@functools.lru_cache(maxsize=4)
def _analyzer(language: str) -> WordAnalyzer:
    return WordAnalyzer(language)


def english_analyzer() -> Analyzer:
    # A tokenizer is a whole analyser to Whoosh (a RegexTokenizer alone is one), though
    # whoosh3's annotations ask for an Analyzer.
    return cast(Analyzer, WordAnalyzer("en"))


def indonesian_analyzer() -> Analyzer:
    return cast(Analyzer, WordAnalyzer("id"))


def plain_analyzer() -> Analyzer:
    """Lower-cased words, no stemming (spelling suggestions)."""
    return RegexTokenizer() | LowercaseFilter() | StopFilter(stoplist=STOP_WORDS, minsize=2)
