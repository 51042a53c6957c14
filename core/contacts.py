"""Contacts and companies: lookup within the user's scope (the contacts area extends this)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import Company, Contact, User
from core.scope import company_visible


@dataclass(frozen=True)
class CompanyMatch:
    company: Company
    score: float


@dataclass(frozen=True)
class ContactMatch:
    contact: Contact
    score: float


def find_companies(session: Session, user: User, query: str, limit: int = 5) -> list[CompanyMatch]:
    """Companies the user may see whose name matches `query`, best first."""
    q = query.strip().lower()
    if not q:
        return []
    rows = session.scalars(
        select(Company)
        .where(company_visible(session, user), func.lower(Company.name).contains(q))
        .order_by(func.length(Company.name))
        .limit(limit)
    ).all()
    return [CompanyMatch(c, 100.0) for c in rows]


def find_contacts(session: Session, user: User, query: str, limit: int = 5) -> list[ContactMatch]:
    """Contacts (of companies the user may see) whose name matches `query`, best first."""
    q = query.strip().lower()
    if not q:
        return []
    rows = session.scalars(
        select(Contact)
        .join(Company, Company.id == Contact.company_id)
        .where(company_visible(session, user), func.lower(Contact.name).contains(q))
        .order_by(func.length(Contact.name))
        .limit(limit)
    ).all()
    return [ContactMatch(c, 100.0) for c in rows]
