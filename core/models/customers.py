"""Customers area: the history of merged duplicates, and the bot's own chat profile."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class MergeRecord(Base):
    """One merge of a duplicate into the record that was kept: who, when, what the
    duplicate held (its fields) and how many rows of each table moved to the kept one."""

    __tablename__ = "merge_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # contact | company
    kept_id: Mapped[int] = mapped_column(Integer)
    merged_id: Mapped[int] = mapped_column(Integer)
    merged_name: Mapped[str] = mapped_column(String(200))
    # The kept record's company (a contact merge) or the kept company itself.
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    snapshot: Mapped[dict[str, Any]] = mapped_column(default=dict)
    moved: Mapped[dict[str, Any]] = mapped_column(default=dict)
    merged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    merged_at: Mapped[datetime] = mapped_column()


Index("ix_merge_records_kept", MergeRecord.kind, MergeRecord.kept_id)


class BotProfile(Base):
    """What a chat platform says about our bot (Telegram's getMe username), cached so that
    the command line and every worker can build deep links without asking again."""

    __tablename__ = "bot_profiles"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column()
