"""Render a due notice for its recipient: the registry's renderer for its kind, in the
recipient's language and time zone, flattened into an OutboundMessage for the outbox.

Only action buttons survive (a pushed message is outside any flow); their payloads are
stamped here exactly as the engine stamps them, so a press comes back as the action.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from sqlalchemy.orm import Session

from bot.conversations.engine import encode_payload
from bot.conversations.messages import Reply, to_outbound
from bot.conversations.registry import Registry
from bot.i18n import Translator
from core.models import NoticeRow, User
from core.ports import OutboundMessage

# kind -> prefetch(session, notices): loads the records a batch of notices of that kind will
# render (into the session's identity map), so rendering 10k reminders is not 30k queries.
PREFETCH: dict[str, Callable[[Session, list[NoticeRow]], None]] = {}


def prefetch_notices(session: Session, notices: list[NoticeRow]) -> None:
    by_kind: dict[str, list[NoticeRow]] = {}
    for notice in notices:
        by_kind.setdefault(notice.kind, []).append(notice)
    for kind, rows in by_kind.items():
        loader = PREFETCH.get(kind)
        if loader is not None:
            loader(session, rows)


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
) -> OutboundMessage | None:
    """Render `notice`; None when it no longer applies. LookupError for an unknown kind."""
    renderer = registry.notices.get(notice.kind)
    if renderer is None:
        raise LookupError(notice.kind)
    t = (Translator(user.locale, user.timezone) if user is not None
         else Translator(default_locale, default_timezone))
    reply = renderer(session, notice, user, t)
    if reply is None:
        return None
    return to_outbound(stamp_actions(reply))


def notice_renderer(registry: Registry, *, default_locale: str = "en",
                    default_timezone: str = "Asia/Jakarta"
                    ) -> Callable[[Session, NoticeRow, User | None], OutboundMessage | None]:
    """The scheduler's render callable bound to a registry."""

    def render(session: Session, notice: NoticeRow, user: User | None
               ) -> OutboundMessage | None:
        return render_notice(registry, session, notice, user, default_locale=default_locale,
                             default_timezone=default_timezone)

    render.prefetch = prefetch_notices  # type: ignore[attr-defined]
    return render
