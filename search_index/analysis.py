"""Analysers: English with stemming, Indonesian with a light affix stripper; stop words of both.

English documents are indexed in the `*_en` fields, Indonesian ones in `*_id`; a query is
analysed once per field, so an English word is stemmed the English way and an Indonesian
word is never put through the English (Porter) stemmer.
"""

from __future__ import annotations

from whoosh.analysis import (
    Analyzer,
    LowercaseFilter,
    RegexTokenizer,
    StemFilter,
    StopFilter,
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

_PARTICLES = ("lah", "kah", "tah", "pun")
_POSSESSIVES = ("nya", "ku", "mu")
_PREFIXES = ("meng", "meny", "mem", "men", "me", "peng", "peny", "pem", "pen", "per", "pe",
             "ber", "be", "ter", "di", "ke", "se")
_SUFFIXES = ("kan", "an", "i")
_MIN_STEM = 4


def stem_id(word: str) -> str:
    """A light Indonesian stemmer: particles, possessives, one prefix, one suffix.

    Conservative on purpose (never leaves fewer than four letters): what matters for search
    is that "menjual", "penjualan" and "jual" meet on the same stem.
    """
    w = word
    if len(w) <= _MIN_STEM + 1:
        return w
    for group in (_PARTICLES, _POSSESSIVES):
        for ending in group:
            if w.endswith(ending) and len(w) - len(ending) >= _MIN_STEM:
                w = w[: -len(ending)]
                break
    for prefix in _PREFIXES:
        if w.startswith(prefix) and len(w) - len(prefix) >= _MIN_STEM:
            w = w[len(prefix):]
            break
    for ending in _SUFFIXES:
        if w.endswith(ending) and len(w) - len(ending) >= _MIN_STEM:
            w = w[: -len(ending)]
            break
    return w


def english_analyzer() -> Analyzer:
    return (RegexTokenizer() | LowercaseFilter() | StopFilter(stoplist=STOP_WORDS, minsize=2)
            | StemFilter(stemfn=porter_stem, cachesize=50000))


def indonesian_analyzer() -> Analyzer:
    return (RegexTokenizer() | LowercaseFilter() | StopFilter(stoplist=STOP_WORDS, minsize=2)
            | StemFilter(stemfn=stem_id, cachesize=50000))


def plain_analyzer() -> Analyzer:
    """Lower-cased words, no stemming (spelling suggestions)."""
    return RegexTokenizer() | LowercaseFilter() | StopFilter(stoplist=STOP_WORDS, minsize=2)
