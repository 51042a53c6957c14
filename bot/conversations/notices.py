"""Render a due notice for its recipient: the registry's renderer for its kind, in the
recipient's language and time zone, flattened into an OutboundMessage for the outbox.

Only action buttons survive (a pushed message is outside any flow); their payloads are
stamped here exactly as the engine stamps them, so a press comes back as the action.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from bot.conversations.engine import encode_payload
from bot.conversations.messages import Reply, to_outbound
from bot.conversations.registry import Registry
from bot.i18n import Translator
from core.models import NoticeRow, User
from core.ports import OutboundMessage

# kind -> prefetch(session, notices): loads the records a batch of notices of that kind will
# render (into the session's identity map), so rendering 10k reminders is not 30k queries.
# It returns what it loaded: the identity map holds objects weakly, so the caller keeps them
# referenced while the batch renders (else each `session.get` queries again).
PREFETCH: dict[str, Callable[[Session, list[NoticeRow]], Sequence[object] | None]] = {}


def prefetch_notices(session: Session, notices: list[NoticeRow]) -> list[object]:
    """Load what a batch of notices renders; the loaded objects (keep them referenced)."""
    by_kind: dict[str, list[NoticeRow]] = {}
    for notice in notices:
        by_kind.setdefault(notice.kind, []).append(notice)
    loaded: list[object] = []
    for kind, rows in by_kind.items():
        loader = PREFETCH.get(kind)
        if loader is not None:
            loaded.extend(loader(session, rows) or ())
    return loaded


def stamp_actions(reply: Reply) -> Reply:
    """Give action buttons their payloads; drop flow buttons (no flow to answer them)."""
    rows = []
    for row in reply.buttons:
        kept = tuple(replace(b, payload=encode_payload(b, None, 0)) for b in row if b.action)
        if kept:
            rows.append(kept)
    return replace(reply, buttons=tuple(rows))


def render_notice(
    registry: Registry, session: Session, notice: NoticeRow, user: User | None, *,
    default_locale: str = "en", default_timezone: str = "Asia/Jakarta",
    translators: _Translators | None = None,
) -> OutboundMessage | None:
    """Render `notice`; None when it no longer applies. LookupError for an unknown kind."""
    renderer = registry.notices.get(notice.kind)
    if renderer is None:
        raise LookupError(notice.kind)
    locale, zone = ((user.locale, user.timezone) if user is not None
                    else (default_locale, default_timezone))
    t = (translators.get(locale, zone) if translators is not None
         else Translator(locale, zone))
    reply = renderer(session, notice, user, t)
    if reply is None:
        return None
    return _outbound(reply)


def _outbound(reply: Reply) -> OutboundMessage:
    """to_outbound(stamp_actions(reply)) without copying each button first."""
    if reply.attachment is not None:
        return to_outbound(stamp_actions(reply))
    rows = []
    for row in reply.buttons:
        kept = tuple((b.label, encode_payload(b, None, 0)) for b in row if b.action)
        if kept:
            rows.append(kept)
    return OutboundMessage(text=reply.text, buttons=tuple(rows))


class _MemoTranslator(Translator):
    """A Translator that remembers the dates and times it formatted (a batch of reminders
    formats the same few minutes thousands of times; Babel's formatting is the slow part)."""

    def __init__(self, locale: str, timezone: str) -> None:
        super().__init__(locale, timezone)
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

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], Translator] = {}

    def get(self, locale: str, zone: str) -> Translator:
        t = self._by_key.get((locale, zone))
        if t is None:
            if len(self._by_key) >= 256:
                self._by_key.clear()
            t = self._by_key[(locale, zone)] = _MemoTranslator(locale, zone)
        return t


def notice_renderer(registry: Registry, *, default_locale: str = "en",
                    default_timezone: str = "Asia/Jakarta"
                    ) -> Callable[[Session, NoticeRow, User | None], OutboundMessage | None]:
    """The scheduler's render callable bound to a registry."""
    translators = _Translators()

    def render(session: Session, notice: NoticeRow, user: User | None
               ) -> OutboundMessage | None:
        return render_notice(registry, session, notice, user, default_locale=default_locale,
                             default_timezone=default_timezone, translators=translators)

    render.prefetch = prefetch_notices  # type: ignore[attr-defined]
    return render
