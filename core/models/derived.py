"""Derived tables kept for speed (issue 23): the due sweeps' high-water marks.

Everything here can be rebuilt from the other tables; a missing row means "start over"
(a full pass).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class SweepMark(Base):
    """How far a periodic sweep has looked: the time of its last committed run (everything
    due by then was seen), the highest id of its table then, and its last full pass."""

    __tablename__ = "sweep_marks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    seen_until: Mapped[datetime] = mapped_column()
    max_id: Mapped[int] = mapped_column()
    full_at: Mapped[datetime] = mapped_column()
