"""The selling organisation's own identity (one row): what every document prints as the
seller. Text that is read by customers is kept per language ({"en": ..., "id": ...})."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class OrganisationProfile(Base):
    __tablename__ = "organisation_profile"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1: there is one seller
    name: Mapped[str | None] = mapped_column(String(200))  # as printed on the letterhead
    legal_name: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(60))
    email: Mapped[str | None] = mapped_column(String(200))
    website: Mapped[str | None] = mapped_column(String(200))
    tax_number: Mapped[str | None] = mapped_column(String(60))
    bank_details: Mapped[str | None] = mapped_column(Text)
    payment_terms: Mapped[dict[str, Any]] = mapped_column(default=dict)  # language -> text
    delivery_terms: Mapped[dict[str, Any]] = mapped_column(default=dict)  # language -> text
    quote_validity_days: Mapped[int] = mapped_column(Integer, default=30)
    logo: Mapped[bytes | None] = mapped_column(LargeBinary)
    logo_mime: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[datetime | None]
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
