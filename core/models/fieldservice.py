"""Field service: technician profiles and skills, service jobs and the offers made for them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from core.models.accounts import Company, Contact
from core.models.base import Base
from core.models.org import User

SKILLS: tuple[str, ...] = ("installation", "repair", "maintenance", "network", "electrical",
                           "hvac")
PRIORITIES: tuple[int, ...] = (1, 2, 3, 4)
OPEN = ("new", "offered", "escalated")  # job statuses: waiting for a technician
ACTIVE = ("assigned", "en_route", "on_site")  # held by a technician
FINISHED = ("done", "cannot_complete", "cancelled")


class TechnicianProfile(Base):
    """What dispatch needs to know about a technician beyond the user row.

    Territory coverage is the shared `territory_reps` table; the last known location is
    `User.last_lat` / `User.last_lon`. Working hours are local to `User.timezone`.
    """

    __tablename__ = "technician_profiles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # Minutes after local midnight; a shift that ends before it starts runs past midnight.
    shift_start_min: Mapped[int] = mapped_column(Integer, default=8 * 60)
    shift_end_min: Mapped[int] = mapped_column(Integer, default=17 * 60)
    # Working weekdays as digits, Monday = 0 ("012345" = Monday to Saturday).
    work_days: Mapped[str] = mapped_column(String(7), default="01234")
    load_cap: Mapped[int] = mapped_column(Integer, default=4)
    dispatchable: Mapped[bool] = mapped_column(default=True)
    home_base: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column()

    user: Mapped[User] = relationship()


class TechnicianSkill(Base):
    """One skill of one technician (e.g. "installation", "hvac")."""

    __tablename__ = "technician_skills"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    skill: Mapped[str] = mapped_column(String(40), primary_key=True)


Index("ix_technician_skills_skill", TechnicianSkill.skill, TechnicianSkill.user_id)


class ServiceJob(Base):
    """A job at a customer's site: who needs what, how urgently, who does it, how it went."""

    __tablename__ = "service_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    deal_id: Mapped[int | None] = mapped_column(
        ForeignKey("deals.id", ondelete="SET NULL"), index=True
    )
    territory_id: Mapped[int | None] = mapped_column(
        ForeignKey("territories.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(24), default="service")  # installation, service
    skill: Mapped[str] = mapped_column(String(40))
    priority: Mapped[int] = mapped_column(Integer, default=3)  # 1 (urgent) .. 4 (low)
    site_address: Mapped[str | None] = mapped_column(Text)
    site_lat: Mapped[float | None] = mapped_column()
    site_lon: Mapped[float | None] = mapped_column()
    window_start: Mapped[datetime | None] = mapped_column()
    window_end: Mapped[datetime | None] = mapped_column()
    description: Mapped[str] = mapped_column(Text)
    equipment: Mapped[str | None] = mapped_column(String(300))
    # new, offered, escalated, assigned, en_route, on_site, done, cannot_complete, cancelled
    status: Mapped[str] = mapped_column(String(20), index=True)
    technician_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    assigned_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    eta_at: Mapped[datetime | None] = mapped_column()
    assigned_at: Mapped[datetime | None] = mapped_column()
    en_route_at: Mapped[datetime | None] = mapped_column()
    arrived_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    escalated_at: Mapped[datetime | None] = mapped_column()
    delay_noted_at: Mapped[datetime | None] = mapped_column()
    notes: Mapped[str | None] = mapped_column(Text)
    parts: Mapped[list[Any]] = mapped_column(default=list)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    photo_name: Mapped[str | None] = mapped_column(String(200))
    photo_mime: Mapped[str | None] = mapped_column(String(80))
    photo: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
    version: Mapped[int] = mapped_column(Integer, default=1)

    company: Mapped[Company] = relationship()
    contact: Mapped[Contact | None] = relationship()
    technician: Mapped[User | None] = relationship(foreign_keys=[technician_id])

    __mapper_args__ = {"version_id_col": version}


Index("ix_service_jobs_tech_status", ServiceJob.technician_id, ServiceJob.status)


class JobOffer(Base):
    """One offer of a job to one technician; answered once, or it times out."""

    __tablename__ = "job_offers"
    __table_args__ = (UniqueConstraint("job_id", "technician_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("service_jobs.id", ondelete="CASCADE"))
    technician_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    rank: Mapped[int] = mapped_column(Integer, default=1)
    distance_km: Mapped[float | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16))  # pending, accepted, declined, expired
    offered_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()


Index("ix_job_offers_status_expires", JobOffer.status, JobOffer.expires_at)
Index("ix_job_offers_technician", JobOffer.technician_id, JobOffer.status)
