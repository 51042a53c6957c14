"""The one message catalogue: English msgids in code, Indonesian in bot/locale/id/*.po.

Each area keeps its own .po file (bot/locale/id/<area>.po); all are merged at load time
with Babel's PO reader, so there is no compile step. Use `ctx.t("Text {name}", name=...)` in
steps, `N_("...")` to mark module-level strings, and `register_errors` to give core's error
codes their words.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LOCALES = ("en", "id")
BABEL_LOCALE = {"en": "en_US", "id": "id_ID"}

_ERRORS: dict[str, str] = {}


def N_(msgid: str) -> str:
    """Mark a string for translation without translating it yet."""
    return msgid


def register_errors(messages: Mapping[str, str]) -> None:
    """Give domain error codes their (English msgid) messages; params fill {placeholders}."""
    _ERRORS.update(messages)


# Error parameters whose values are internal keys (a stage "order_placed", a requirement
# "budget"): the words to show instead, per parameter name.
_PARAM_WORDS: dict[str, Any] = {}


def register_error_words(words: Mapping[str, Any]) -> None:
    """Turn error parameters holding internal keys into words: {"stage": fn(t, value)}."""
    _PARAM_WORDS.update(words)


def error_message(code: str) -> str | None:
    return _ERRORS.get(code)


@cache
def load_catalogue(locale: str) -> dict[str, Any]:
    """Return msgid -> msgstr (or tuple of plural forms) for `locale`, from every .po file."""
    messages: dict[str, Any] = {}
    folder = LOCALE_DIR / locale
    if not folder.is_dir():
        return messages
    for po_file in sorted(folder.glob("*.po")):
        with po_file.open("rb") as fh:
            catalog = read_po(fh, locale=BABEL_LOCALE.get(locale, locale))
        for message in catalog:
            if not message.id or not message.string or message.fuzzy:
                continue
            key = message.id if isinstance(message.id, str) else message.id[0]
            messages[str(key)] = message.string
    return messages


class _SafeDict(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Translator:
    """Translate and format for one user: their language and their time zone."""

    def __init__(self, locale: str = "en", timezone: str = "Asia/Jakarta") -> None:
        self.locale = locale if locale in LOCALES else "en"
        self.babel_locale = BABEL_LOCALE[self.locale]
        self.tz = ZoneInfo(timezone)
        self._messages = load_catalogue(self.locale) if self.locale != "en" else {}

    def __call__(self, msgid: str, **params: Any) -> str:
        text = self._messages.get(msgid, msgid)
        if isinstance(text, tuple | list):
            text = text[0]
        return text.format_map(_SafeDict(params)) if params else text

    def n(self, singular: str, plural: str, count: int, **params: Any) -> str:
        """Plural-aware translation; `count` is available as {count}."""
        forms = self._messages.get(singular)
        if isinstance(forms, tuple | list):
            text = forms[0] if len(forms) == 1 or count == 1 else forms[1]
        elif isinstance(forms, str):
            text = forms
        else:
            text = singular if count == 1 else plural
        return text.format_map(_SafeDict({"count": count, **params}))

    def error(self, code: str, params: Mapping[str, Any]) -> str:
        msgid = error_message(code)
        if msgid is None:
            return self("That did not work ({code}). Try again, or /cancel.", code=code)
        shown = {k: (_PARAM_WORDS[k](self, v) if k in _PARAM_WORDS and isinstance(v, str)
                     else v) for k, v in params.items()}
        return self(msgid, **shown)

    # -- formatting in the user's locale and time zone --------------------------------------
    def local(self, when: dt.datetime) -> dt.datetime:
        return when.astimezone(self.tz)

    def datetime(self, when: dt.datetime) -> str:
        return format_datetime(self.local(when), "EEE d MMM yyyy HH:mm", locale=self.babel_locale)

    def date(self, when: dt.date | dt.datetime) -> str:
        day = self.local(when).date() if isinstance(when, dt.datetime) else when
        return format_date(day, "EEE d MMM yyyy", locale=self.babel_locale)

    def time(self, when: dt.datetime) -> str:
        return format_time(self.local(when), "HH:mm", locale=self.babel_locale)

    def money(self, amount: Decimal, currency: str = "IDR") -> str:
        return format_currency(amount, currency, locale=self.babel_locale)

    def number(self, value: Decimal | float | int) -> str:
        return format_decimal(value, locale=self.babel_locale)
