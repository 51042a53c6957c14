"""The documents' font: DejaVu Sans, a freely licensed Unicode TrueType font, taken from
the copy matplotlib ships (matplotlib/mpl-data/fonts/ttf/DejaVuSans*.ttf, its licence
next to it in LICENSE_DEJAVU: Bitstream Vera terms, changes public domain).

Every name in Latin, Latin Extended and Vietnamese prints. The font is cut down once to
those scripts (fontTools) and kept in the user's cache directory: parsing the whole font
for each document cost about 300 ms a PDF, the cut one about 75 ms (measured, see
benchmarks/quotes.py). A character the cut font lacks (CJK, emoji) prints as its base
letter when it has one, else "?", never as an empty box.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
import unicodedata
from functools import cache
from pathlib import Path

FAMILY = "DejaVu"
STYLES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
LICENCE = "LICENSE_DEJAVU"
# Latin, Latin-1, Latin Extended A/B, IPA-free modifiers, combining marks, Latin Extended
# Additional (Vietnamese), punctuation, currency (Rp is Latin; €, £, ¥, ₫), letterlike (№,
# ™), arrows, minus, bullets and boxes.
RANGES = ((0x20, 0x7E), (0xA0, 0x24F), (0x2B0, 0x2FF), (0x300, 0x36F), (0x1E00, 0x1EFF),
          (0x2000, 0x206F), (0x20A0, 0x20CF), (0x2100, 0x2122), (0x2190, 0x2193),
          (0x2212, 0x2212), (0x25A0, 0x25CF))
_LOCK = threading.Lock()


def source_dir() -> Path:
    """Where matplotlib keeps DejaVu (and its licence)."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(base) / "sfa-assistant" / "fonts"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        probe = folder / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
        return folder
    except OSError:  # no writable home (a container): a private folder for this process
        return Path(tempfile.mkdtemp(prefix="sfa-fonts-"))


def _cut(source: Path, target: Path) -> None:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    logging.getLogger("fontTools").setLevel(logging.WARNING)  # a line per table at INFO

    options = subset.Options()
    options.layout_features = []  # no shaping is used for these scripts
    options.name_IDs = ["*"]  # keep the names (and the licence notice) of the font
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False
    options.drop_tables += ["FFTM", "GSUB", "GPOS", "GDEF", "kern"]
    font = TTFont(str(source))
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[c for low, high in RANGES for c in range(low, high + 1)])
    subsetter.subset(font)
    partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}")
    font.save(str(partial))
    os.replace(partial, target)  # atomic: another process never reads half a file


@cache
def font_files() -> dict[str, Path]:
    """The cut font file of each style ("" regular, "B" bold), made on first use."""
    with _LOCK:
        source = source_dir()
        folder = _cache_dir()
        files: dict[str, Path] = {}
        for style, name in STYLES.items():
            path = source / name
            if not path.is_file():
                raise RuntimeError(f"the DejaVu font is missing from matplotlib ({path})")
            stat = path.stat()
            key = hashlib.sha256(f"{path}|{stat.st_size}|{stat.st_mtime_ns}|{RANGES}".encode())
            target = folder / f"{path.stem}-{key.hexdigest()[:12]}.ttf"
            if not target.is_file() or target.stat().st_size == 0:
                _cut(path, target)
            files[style] = target
        return files


@cache
def covered() -> frozenset[int]:
    """The code points the cut font draws."""
    from fontTools.ttLib import TTFont

    with TTFont(str(font_files()[""]), lazy=True) as font:
        return frozenset(font.getBestCmap())


def printable(text: str) -> str:
    """`text` as the font can draw it: composed (NFC: a Vietnamese name typed with combining
    marks uses the font's own letters); a character the font lacks becomes its base letter
    (NFKD) when it has one, else "?"."""
    text = unicodedata.normalize("NFC", text)
    have = covered()
    if all(ord(ch) in have or ch in "\n\t" for ch in text):
        return text
    out = []
    for ch in text:
        if ord(ch) in have or ch in "\n\t":
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if ord(c) in have
                       and not unicodedata.combining(c))
        out.append(base or "?")
    return "".join(out)
