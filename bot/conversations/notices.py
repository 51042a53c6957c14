"""Notices as the scheduler renders and stores them: the registry's renderer for a notice's
kind writes a Reply in the recipient's language and time zone; that Reply is what the
platform's sender gets, stored in the outbox once as JSON (encode) and read back once when
it is sent (decode). `NoticeRendering` is the scheduler's port to the chat side
(scheduler.outbox.NoticeRenderer), built by the composition root from the registry.

Only action buttons survive (a pushed message is outside any flow); their payloads are
stamped here exactly as the engine stamps them, so a press comes back as the action.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from bot.conversations.engine import encode_payload
from bot.conversations.messages import Attachment, Button, Reply
from bot.conversations.registry import Registry
from bot.i18n import ErrorTexts, Translator
from core.models import NoticeRow, User


def stamp_actions(reply: Reply) -> Reply:
    """Give action buttons their payloads; drop flow buttons (no flow to answer them)."""
    rows = []
    for row in reply.buttons:
        kept = tuple(Button(label=b.label, action=b.action, arg=b.arg,
                            payload=encode_payload(b, None, 0)) for b in row if b.action)
        if kept:
            rows.append(kept)
    if not rows and not reply.buttons:
        return reply
    return Reply(text=reply.text, buttons=tuple(rows), attachment=reply.attachment,
                 preformatted=reply.preformatted)


def encode_reply(reply: Reply) -> dict[str, Any]:
    """A pushed Reply as the outbox stores it (JSON): text, button rows of [label, payload],
    the attachment as [filename, mime, base64], its caption and preformatted when set."""
    data: dict[str, Any] = {
        "text": reply.text,
        "buttons": [[[b.label, b.payload] for b in row] for row in reply.buttons],
        "attachment": None,
    }
    a = reply.attachment
    if a is not None:
        data["attachment"] = [a.filename, a.mime, base64.b64encode(a.data).decode("ascii")]
        if a.caption:
            data["caption"] = a.caption
    if reply.preformatted:
        data["preformatted"] = True
    return data


def decode_reply(data: dict[str, Any]) -> Reply:
    """The Reply encode_reply stored."""
    attachment = None
    if data.get("attachment"):
        name, mime, b64 = data["attachment"][:3]
        attachment = Attachment(filename=name, data=base64.b64decode(b64), mime=mime,
                                caption=data.get("caption"))
    return Reply(
        text=data.get("text", ""),
        buttons=tuple(tuple(Button(label=label, payload=payload) for label, payload in row)
                      for row in data.get("buttons") or ()),
        attachment=attachment,
        preformatted=bool(data.get("preformatted")))


def render_notice(
    registry: Registry, session: Session, notice: NoticeRow, user: User | None, *,
    default_locale: str = "en", default_timezone: str = "Asia/Jakarta",
    translators: _Translators | None = None,
) -> Reply | None:
    """Render `notice` as it is pushed (action buttons stamped); None when it no longer
    applies. LookupError for a kind no renderer is registered for."""
    renderer = registry.notices.get(notice.kind)
    if renderer is None:
        raise LookupError(notice.kind)
    locale, zone = ((user.locale, user.timezone) if user is not None
                    else (default_locale, default_timezone))
    t = (translators.get(locale, zone) if translators is not None
         else Translator(locale, zone, errors=registry.errors))
    reply = renderer(session, notice, user, t)
    if reply is None:
        return None
    return stamp_actions(reply)


class _MemoTranslator(Translator):
    """A Translator that remembers the dates and times it formatted (a batch of reminders
    formats the same few minutes thousands of times; Babel's formatting is the slow part)."""

    def __init__(self, locale: str, timezone: str, errors: ErrorTexts) -> None:
        super().__init__(locale, timezone, errors=errors)
        self._formatted: dict[tuple[str, object], str] = {}

    def _memo(self, kind: str, when: Any, fmt: Callable[[Any], str]) -> str:
        key = (kind, when)
        text = self._formatted.get(key)
        if text is None:
            if len(self._formatted) >= 4096:
                self._formatted.clear()
            text = self._formatted[key] = fmt(when)
        return text

    def datetime(self, when: dt.datetime) -> str:
        return self._memo("dt", when, super().datetime)

    def date(self, when: dt.date | dt.datetime) -> str:
        return self._memo("d", when, super().date)

    def time(self, when: dt.datetime) -> str:
        return self._memo("t", when, super().time)


class _Translators:
    """One translator per (language, time zone), kept by a notice renderer."""

    def __init__(self, errors: ErrorTexts) -> None:
        self.errors = errors
        self._by_key: dict[tuple[str, str], Translator] = {}

    def get(self, locale: str, zone: str) -> Translator:
        t = self._by_key.get((locale, zone))
        if t is None:
            if len(self._by_key) >= 256:
                self._by_key.clear()
            t = self._by_key[(locale, zone)] = _MemoTranslator(locale, zone, self.errors)
        return t


class NoticeRendering:
    """The registry's notice renderers and their batch loaders, as the scheduler uses them
    (its port scheduler.outbox.NoticeRenderer; bot.app builds one)."""

    def __init__(self, registry: Registry, *, default_locale: str = "en",
                 default_timezone: str = "Asia/Jakarta") -> None:
        self.registry = registry
        self.default_locale = default_locale
        self.default_timezone = default_timezone
        self._translators = _Translators(registry.errors)

    @property
    def kinds(self) -> frozenset[str]:
        """The notice kinds there are words for."""
        return frozenset(self.registry.notices)

    def prefetch(self, session: Session, notices: Sequence[NoticeRow]) -> list[object]:
        """Load what a batch of notices renders; the loaded objects (keep them referenced)."""
        by_kind: dict[str, list[NoticeRow]] = {}
        for notice in notices:
            by_kind.setdefault(notice.kind, []).append(notice)
        loaded: list[object] = []
        for kind, rows in by_kind.items():
            loader = self.registry.notice_prefetch.get(kind)
            if loader is not None:
                loaded.extend(loader(session, rows) or ())
        return loaded

    def render(self, session: Session, notice: NoticeRow, user: User | None) -> Reply | None:
        return render_notice(self.registry, session, notice, user,
                             default_locale=self.default_locale,
                             default_timezone=self.default_timezone,
                             translators=self._translators)

    encode = staticmethod(encode_reply)
    decode = staticmethod(decode_reply)
