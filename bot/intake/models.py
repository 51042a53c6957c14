"""Inbound platform updates acknowledged but not yet done (bot.intake)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class InboundUpdate(Base):
    """An update a door acknowledged and must still work: kept until its answer went out, so
    another worker takes it over when the claiming one stops renewing its claim."""

    __tablename__ = "inbound_updates"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)  # the door's own serialized job
    received_at: Mapped[datetime] = mapped_column()
    claimed_by: Mapped[str | None] = mapped_column(String(64))  # a worker's name; None: free
    claimed_at: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=1)  # claims so far
    # No index besides the key: the table holds only the updates in flight (a few rows).

