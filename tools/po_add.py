"""Add or update Indonesian translations in one area's catalogue (developer tool).

Usage: python tools/po_add.py AREA FILE.py   (FILE.py defines a dict T = {msgid: msgstr})
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

LOCALE_DIR = Path(__file__).resolve().parent.parent / "bot" / "locale" / "id"


def main() -> None:
    area, source = sys.argv[1], sys.argv[2]
    translations: dict[str, str] = runpy.run_path(source)["T"]
    path = LOCALE_DIR / f"{area}.po"
    if path.exists():
        with path.open("rb") as fh:
            catalog = read_po(fh, locale="id_ID")
    else:
        catalog = Catalog(locale="id_ID", project="sfa-assistant", fuzzy=False)
    for msgid, msgstr in translations.items():
        catalog.add(msgid, msgstr)
    LOCALE_DIR.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_po(fh, catalog, width=99, omit_header=False, sort_output=True)
    print(f"{path}: {len(catalog)} messages")


if __name__ == "__main__":
    main()
