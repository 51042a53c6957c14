"""The rep's day in the field: customer sites with coordinates (and who set them), verified
visit check-ins, day plans, and which knowledge documents a user last opened."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.models.accounts import Company
from core.models.base import Base


class CompanySite(Base):
    """One place of a customer: its head office, a delivery site or another site.

    `grid_row` is floor(lat * 100) (core.geo.grid_row); with `lon` it is the indexed spatial
    prefilter of "near me" and of the arrival check (a few index ranges, never a scan).
    """

    __tablename__ = "company_sites"
    __table_args__ = (UniqueConstraint("company_id", "kind", "label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # head_office, delivery, other
    label: Mapped[str] = mapped_column(String(120), default="")
    address: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float] = mapped_column()
    lon: Mapped[float] = mapped_column()
    grid_row: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))  # import, chat, link, demo
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()

    company: Mapped[Company] = relationship()


Index("ix_company_sites_grid", CompanySite.grid_row, CompanySite.lon)


class SiteChange(Base):
    """The log of a site's coordinates: who moved it, from where to where, how."""

    __tablename__ = "company_site_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(
        ForeignKey("company_sites.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    old_lat: Mapped[float | None] = mapped_column()
    old_lon: Mapped[float | None] = mapped_column()
    new_lat: Mapped[float] = mapped_column()
    new_lon: Mapped[float] = mapped_column()
    source: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column()


class VisitCheckin(Base):
    """A location shared for a logged visit, compared with the customer's nearest site:
    verified when within the radius; otherwise kept with its distance (None: no site)."""

    __tablename__ = "visit_checkins"

    activity_id: Mapped[int] = mapped_column(
        ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    site_id: Mapped[int | None] = mapped_column(
        ForeignKey("company_sites.id", ondelete="SET NULL"))
    lat: Mapped[float] = mapped_column()
    lon: Mapped[float] = mapped_column()
    distance_m: Mapped[int | None] = mapped_column(Integer)
    verified: Mapped[bool] = mapped_column(default=False)
    at: Mapped[datetime] = mapped_column()


Index("ix_visit_checkins_user_at", VisitCheckin.user_id, VisitCheckin.at)


class DayPlan(Base):
    """A rep's planned route for one local day: the stops in order with their estimated
    arrival times (JSON), and what the rep pinned or dropped (kept across re-plans)."""

    __tablename__ = "day_plans"
    __table_args__ = (UniqueConstraint("user_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    start_lat: Mapped[float | None] = mapped_column()
    start_lon: Mapped[float | None] = mapped_column()
    stops: Mapped[list[Any]] = mapped_column(default=list)
    pinned: Mapped[list[Any]] = mapped_column(default=list)
    dropped: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class DocumentRead(Base):
    """The version of a knowledge document a user last opened (for "what changed since")."""

    __tablename__ = "kb_reads"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # No foreign key: this area's migration branches from the foundation, not from the
    # knowledge area's; a read of a document deleted since is simply never matched.
    document_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[datetime] = mapped_column()
