"""The guided configurator: product families (attributes and questions, as data), the
attributes of each product, and the configurations saved on deals (answers, the proposed
bills of materials, the chosen one and its quote)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class ConfigFamily(Base):
    """A product family: its questions, the attributes they set and the components of a
    solution, declared as data (see core.configurator for the format)."""

    __tablename__ = "config_families"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column()


class ProductSpec(Base):
    """A product's place in a family and its attribute values (e.g. max_users: 100)."""

    __tablename__ = "product_specs"

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    family: Mapped[str] = mapped_column(String(40), index=True)
    attrs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column()


class Configuration(Base):
    """One revision of a customer's configuration (on a deal when there is one)."""

    __tablename__ = "configurations"
    __table_args__ = (UniqueConstraint("deal_id", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="CASCADE"))
    family: Mapped[str] = mapped_column(String(40))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # {"budget": {"items": {sku: qty}, "total": "..."}, "recommended": {...}}
    proposal: Mapped[dict[str, Any]] = mapped_column(default=dict)
    chosen: Mapped[str | None] = mapped_column(String(16))
    quote_id: Mapped[int | None] = mapped_column(ForeignKey("quotes.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column()
