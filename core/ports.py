"""Protocols the domain needs from the outside world; adapters live outside core."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Source of the current time (aware UTC)."""

    def now(self) -> datetime: ...


@dataclass(frozen=True)
class IndexedDocument:
    """What the knowledge index stores for one document version."""

    id: int
    version: int
    title: str
    body: str
    doc_type: str
    tags: Sequence[str] = ()
    status: str = "published"
    owner_id: int | None = None
    source: str = ""
    language: str = "en"


@dataclass(frozen=True)
class SearchHit:
    """One knowledge search result."""

    id: int
    title: str
    doc_type: str
    score: float
    snippet: str = ""


@dataclass(frozen=True)
class SearchResult:
    """A page of knowledge search results and optional spelling suggestions."""

    hits: list[SearchHit]
    total: int
    page: int
    suggestions: list[str] = field(default_factory=list)
    partial: bool = False  # no document has every word: these have some of them
    total_exact: bool = True  # False: `total` is a lower bound ("500+ documents")


class KnowledgeIndex(Protocol):
    """Full-text index over knowledge documents (Whoosh in search_index/)."""

    def upsert(self, docs: Iterable[IndexedDocument]) -> int: ...

    def delete(self, doc_ids: Iterable[int]) -> None: ...

    def search(
        self,
        query: str,
        *,
        doc_types: Sequence[str] = (),
        tags: Sequence[str] = (),
        visible_owner_id: int | None = None,
        include_drafts: bool = False,
        page: int = 1,
        page_size: int = 5,
    ) -> SearchResult: ...

    def indexed_versions(self) -> dict[int, int]: ...

    def clear(self) -> None: ...


class DeliveryError(Exception):
    """Sending failed; worth retrying later with back-off."""


class RateLimited(DeliveryError):
    """The platform said 429: retry after `retry_after` seconds, not before."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after}s")
        self.retry_after = retry_after


class PermanentFailure(DeliveryError):
    """The recipient cannot be reached (blocked the bot, chat gone): do not retry."""


class MessageSender(Protocol):
    """A door's outgoing side: deliver one pushed message to one chat on its platform.

    `message` is what the notice renderer made (the chat side's Reply), as the scheduler
    read it back from the outbox. `key` names this push uniquely: a door whose platform can
    carry it (Slack message metadata) sends it along, so that a send whose result was lost
    can be looked up later (SentMessageFinder) instead of being sent again. Returns the
    platform's id of the message, when it has one."""

    platform: str

    async def deliver(self, chat_id: str, message: Any, key: str | None = None
                      ) -> str | None: ...


@runtime_checkable
class SentMessageFinder(Protocol):
    """A sender that can tell whether a keyed push already reached the chat (Slack: the
    message metadata it was sent with); Telegram cannot, so its sender is not one."""

    async def find_sent(self, chat_id: str, key: str, since: datetime) -> str | None:
        """The platform's id of the message sent with `key` since `since`, else None."""
        ...
