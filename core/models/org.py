"""Organisation: teams, territories, users, chat identities and invite codes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.models.base import Base, Money


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", use_alter=True, ondelete="SET NULL"), nullable=True
    )
    # The team channel (a Telegram group or a Slack channel) that gets lead announcements.
    channel_platform: Mapped[str | None] = mapped_column(String(16))
    channel_id: Mapped[str | None] = mapped_column(String(64))
    # Contracts above this amount need the manager's approval before Order placed.
    approval_threshold: Mapped[Decimal] = mapped_column(Money, default=Decimal("500000000"))
    currency: Mapped[str] = mapped_column(String(3), default="IDR")

    manager: Mapped[User | None] = relationship(foreign_keys=[manager_id], post_update=True)
    territories: Mapped[list[Territory]] = relationship(back_populates="team")


class Territory(Base):
    """A sales territory: a region, optionally narrowed to one industry."""

    __tablename__ = "territories"
    __table_args__ = (UniqueConstraint("region", "industry"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    region: Mapped[str] = mapped_column(String(80))
    industry: Mapped[str | None] = mapped_column(String(80))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))

    team: Mapped[Team | None] = relationship(back_populates="territories")
    reps: Mapped[list[User]] = relationship(secondary="territory_reps", viewonly=True)


class TerritoryRep(Base):
    """A rep (or technician) covering a territory."""

    __tablename__ = "territory_reps"

    territory_id: Mapped[int] = mapped_column(
        ForeignKey("territories.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Jakarta")
    locale: Mapped[str] = mapped_column(String(8), default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    # Lead allocation: a rep who is away gets no new leads; cap on open leads (None = default).
    away_until: Mapped[datetime | None] = mapped_column()
    lead_cap: Mapped[int | None] = mapped_column(Integer)
    # Largest discount (percent) this user may give without a manager's approval.
    discount_limit_pct: Mapped[Decimal | None] = mapped_column()
    # Last shared location (visits check-in, technician dispatch).
    last_lat: Mapped[float | None] = mapped_column()
    last_lon: Mapped[float | None] = mapped_column()
    last_location_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()

    team: Mapped[Team | None] = relationship(foreign_keys=[team_id])
    territories: Mapped[list[Territory]] = relationship(secondary="territory_reps", viewonly=True)
    identities: Mapped[list[ChatIdentity]] = relationship(back_populates="user")


class ChatIdentity(Base):
    """A chat platform identity linked to one user."""

    __tablename__ = "chat_identities"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    # Where to push messages to this user (the private chat / DM channel id).
    chat_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    linked_at: Mapped[datetime] = mapped_column()

    user: Mapped[User] = relationship(back_populates="identities")


class InviteCode(Base):
    """A single-use code that links a chat identity to a user."""

    __tablename__ = "invite_codes"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    used_by_identity_id: Mapped[int | None] = mapped_column(
        ForeignKey("chat_identities.id", ondelete="SET NULL")
    )


Index("ix_territory_reps_user", TerritoryRep.user_id)
