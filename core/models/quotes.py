"""Catalogue, price lists, discounts, quotes and orders."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.models.base import Base, Money

Rate = Numeric(7, 4)  # a percentage such as 11.0000 (tax) or 12.5000 (discount)


class Product(Base):
    """A product of the catalogue (a server, a fridge, a phone plan, a rack kit...)."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    category: Mapped[str] = mapped_column(String(60), index=True)
    unit: Mapped[str] = mapped_column(String(20), default="unit")
    tax_rate: Mapped[Decimal] = mapped_column(Rate, default=Decimal("11"))
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()


class ProductRule(Base):
    """A configuration rule between two products.

    kind: requires (the product needs `quantity` x target per unit), excludes (never together),
    bundle (the product expands into `quantity` x target), option (target is an optional
    add-on of the product), suggests (customers buying the product also need the target).
    """

    __tablename__ = "product_rules"
    __table_args__ = (UniqueConstraint("kind", "product_id", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    note: Mapped[str | None] = mapped_column(String(200))

    product: Mapped[Product] = relationship(foreign_keys=[product_id])
    target: Mapped[Product] = relationship(foreign_keys=[target_id])


class PriceList(Base):
    """Prices in one currency for one customer segment (None = every segment), valid from/to."""

    __tablename__ = "price_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    currency: Mapped[str] = mapped_column(String(3))
    segment: Mapped[str | None] = mapped_column(String(40))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(default=True)


class PriceListItem(Base):
    """A product's unit price on a price list, with the floor no discount may go below."""

    __tablename__ = "price_list_items"
    __table_args__ = (UniqueConstraint("price_list_id", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    price_list_id: Mapped[int] = mapped_column(
        ForeignKey("price_lists.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    unit_price: Mapped[Decimal] = mapped_column(Money)
    floor_price: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))


class DiscountSchedule(Base):
    """One volume tier: from `min_quantity` units of a product or a category, `pct` off."""

    __tablename__ = "discount_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    category: Mapped[str | None] = mapped_column(String(60))
    product_id: Mapped[int | None] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"))
    min_quantity: Mapped[int] = mapped_column(Integer)
    pct: Mapped[Decimal] = mapped_column(Rate)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)


class Quote(Base):
    """A quote to a customer (optionally for a deal); its versions are kept."""

    __tablename__ = "quotes"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    deal_id: Mapped[int | None] = mapped_column(
        ForeignKey("deals.id", ondelete="SET NULL"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    currency: Mapped[str] = mapped_column(String(3))
    price_list_id: Mapped[int | None] = mapped_column(
        ForeignKey("price_lists.id", ondelete="SET NULL"))
    # draft, pending (a discount awaits approval), sent, accepted
    status: Mapped[str] = mapped_column(String(16), default="draft")
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()

    versions: Mapped[list[QuoteVersion]] = relationship(
        back_populates="quote", order_by="QuoteVersion.number")


class QuoteVersion(Base):
    """One priced version of a quote (v1, v2, ...): lines, discount, totals, validity."""

    __tablename__ = "quote_versions"
    __table_args__ = (UniqueConstraint("quote_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    # Discount on the whole quote: the applied percentage, and the one asked for.
    discount_pct: Mapped[Decimal] = mapped_column(Rate, default=Decimal("0"))
    requested_discount_pct: Mapped[Decimal] = mapped_column(Rate, default=Decimal("0"))
    # none, applied, pending, rejected
    discount_status: Mapped[str] = mapped_column(String(16), default="none")
    approval_id: Mapped[int | None] = mapped_column(Integer)
    subtotal: Mapped[Decimal] = mapped_column(Money)
    discount_total: Mapped[Decimal] = mapped_column(Money)
    tax_total: Mapped[Decimal] = mapped_column(Money)
    total: Mapped[Decimal] = mapped_column(Money)
    valid_until: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column()

    quote: Mapped[Quote] = relationship(back_populates="versions")
    lines: Mapped[list[QuoteLine]] = relationship(
        back_populates="version", order_by="QuoteLine.position", cascade="all, delete-orphan")


class QuoteLine(Base):
    """A priced line of a quote version (a snapshot: later price changes do not touch it)."""

    __tablename__ = "quote_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("quote_versions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int | None] = mapped_column(
        ForeignKey("products.id", ondelete="SET NULL"), index=True)
    sku: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(160))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    discount_pct: Mapped[Decimal] = mapped_column(Rate)
    net: Mapped[Decimal] = mapped_column(Money)
    tax_rate: Mapped[Decimal] = mapped_column(Rate)
    tax: Mapped[Decimal] = mapped_column(Money)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    version: Mapped[QuoteVersion] = relationship(back_populates="lines")


class SalesOrder(Base):
    """The order an accepted quote version became."""

    __tablename__ = "sales_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    quote_id: Mapped[int] = mapped_column(
        ForeignKey("quotes.id", ondelete="CASCADE"), unique=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("quote_versions.id", ondelete="CASCADE"))
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Money)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column()


Index("ix_discount_schedules_lookup", DiscountSchedule.product_id, DiscountSchedule.category)
