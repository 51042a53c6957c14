"""Conversation state and processed platform updates: the engine's persistence (chat side;
the tables share core's Base, so one metadata and one migration history hold them all)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.models.base import Base


class ConversationState(Base):
    """Where one (platform, chat, user) is in a flow; survives restarts, shared by workers."""

    __tablename__ = "conversation_states"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    external_user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    flow: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str | None] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Increments on every step; buttons carry it, so a button from an old message is known.
    token: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class ProcessedUpdate(Base):
    """A platform update id already handled (Telegram update_id, Slack event id)."""

    __tablename__ = "processed_updates"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column()
    # The replies, kept until the door has sent them (doors whose platform redelivers an
    # unanswered update): a redelivery after a crash between commit and send replays them.
    answer: Mapped[bytes | None] = mapped_column(LargeBinary)


Index("ix_processed_updates_at", ProcessedUpdate.processed_at)


def close_conversations(session: Session, user_id: int) -> int:
    """Close every conversation of a user (deactivated: no flow waits for them if they come
    back); return how many states were reset."""
    result = session.execute(update(ConversationState).where(
        ConversationState.user_id == user_id).values(
        flow=None, state=None, data={}, expires_at=None))
    return int(getattr(result, "rowcount", 0) or 0)
