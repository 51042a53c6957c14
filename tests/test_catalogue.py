"""Every user-facing string in bot/ has an Indonesian translation, with the same
placeholders; the catalogue loads and formats."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir

from bot.i18n import Translator, load_catalogue

BOT_DIR = Path(__file__).resolve().parent.parent / "bot"
KEYWORDS = {"t": None, "N_": None, "_": None, "n": (1, 2)}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _msgids() -> dict[str, str]:
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(BOT_DIR), method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        ids = message if isinstance(message, tuple) else (message,)
        for msgid in ids:
            if msgid:
                found.setdefault(msgid, f"bot/{filename}:{lineno}")
    return found


def test_every_message_has_an_indonesian_translation() -> None:
    catalogue = load_catalogue("id")
    missing = [f"{where}: {msgid!r}" for msgid, where in _msgids().items()
               if msgid not in catalogue]
    assert not missing, "add to bot/locale/id/<area>.po:\n" + "\n".join(missing)


def test_translations_keep_placeholders() -> None:
    catalogue = load_catalogue("id")
    bad = []
    for msgid, text in catalogue.items():
        forms = text if isinstance(text, tuple | list) else (text,)
        for form in forms:
            if set(PLACEHOLDER.findall(form)) - set(PLACEHOLDER.findall(msgid)):
                bad.append(msgid)
    assert not bad, f"translations with unknown placeholders: {bad}"


def test_translator_formats_and_falls_back() -> None:
    t = Translator("id")
    assert t("Cancelled.") == "Dibatalkan."
    assert Translator("en")("Hello {name}", name="Budi") == "Hello Budi"
    assert Translator("xx")("Cancelled.") == "Cancelled."  # unknown locale -> English
    assert t("no such message {x}", x=1) == "no such message 1"


# Calls inside f-strings ({t('decision maker')}) are invisible to babel's extractor.
_IN_FSTRING = re.compile(r"""\{(?:ctx\.)?t\((['"])((?:(?!\1).)+)\1\)""")


def test_messages_inside_f_strings_are_translated_too() -> None:
    catalogue = load_catalogue("id")
    missing = []
    for path in sorted(BOT_DIR.rglob("*.py")):
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            for m in _IN_FSTRING.finditer(line):
                if m.group(2) not in catalogue:
                    missing.append(f"{path.relative_to(BOT_DIR.parent)}:{lineno}: "
                                   f"{m.group(2)!r}")
    assert not missing, "add to bot/locale/id/<area>.po:\n" + "\n".join(missing)
