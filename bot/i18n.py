"""The one message catalogue: English msgids in code, Indonesian in bot/locale/id/*.po.

Each area keeps its own .po file (bot/locale/id/<area>.po); all are merged at load time
with Babel's PO reader, so there is no compile step. Use `ctx.t("Text {name}", name=...)` in
steps, `N_("...")` to mark module-level strings. Core's error codes get their words from
an ErrorTexts, which the flow registry owns (Registry.add_errors) and passes to the
translators the engine makes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
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

# Turns an error parameter holding an internal key (a stage "order_placed") into words.
ParamWords = Callable[["Translator", str], str]


def N_(msgid: str) -> str:
    """Mark a string for translation without translating it yet."""
    return msgid


class ErrorTexts:
    """The words of domain error codes (English msgids; params fill {placeholders}) and of
    error parameters that hold internal keys. Owned by the flow registry, which the
    composition root fills (Registry.add_errors); a Translator made with it renders errors.
    """

    def __init__(self) -> None:
        self._messages: dict[str, str] = {}
        self._words: dict[str, ParamWords] = {}

    def add(self, messages: Mapping[str, str]) -> None:
        """Give codes their messages; a code given two different messages is refused."""
        for code, msgid in messages.items():
            if self._messages.get(code, msgid) != msgid:
                raise ValueError(f"error code {code!r} given two different texts")
        self._messages.update(messages)

    def add_words(self, words: Mapping[str, ParamWords]) -> None:
        """Turn parameters holding internal keys into words: {"stage": fn(t, value)}."""
        for name in words:
            if name in self._words:
                raise ValueError(f"error parameter {name!r} given words twice")
        self._words.update(words)

    def joined(self, messages: Mapping[str, str]) -> ErrorTexts:
        """These texts and `messages` (a new object; this one is unchanged)."""
        both = ErrorTexts()
        both._messages.update(self._messages)
        both._words.update(self._words)
        both.add(messages)
        return both

    def message(self, code: str) -> str | None:
        return self._messages.get(code)

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(self._messages)

    def shown(self, t: Translator, params: Mapping[str, Any]) -> dict[str, Any]:
        return {k: (self._words[k](t, v) if k in self._words and isinstance(v, str) else v)
                for k, v in params.items()}


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

    def __init__(self, locale: str = "en", timezone: str = "Asia/Jakarta",
                 errors: ErrorTexts | None = None) -> None:
        self.locale = locale if locale in LOCALES else "en"
        self.timezone = timezone
        # The words of error codes (the registry's); without them t.error names the code.
        self.errors = errors if errors is not None else ErrorTexts()
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

    def in_language(self, locale: str, timezone: str | None = None) -> Translator:
        """A translator for `locale` (and `timezone`, default this one's) with the same
        error texts."""
        return Translator(locale, timezone or self.timezone, errors=self.errors)

    def error(self, code: str, params: Mapping[str, Any]) -> str:
        msgid = self.errors.message(code)
        if msgid is None:
            return self("That did not work ({code}). Try again, or /cancel.", code=code)
        return self(msgid, **self.errors.shown(self, params))

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

