"""Visibility: which records a user may see (rep: own territories; manager: team; admin: all).

Every lookup, report and list filters through these clauses, so nothing leaks across
territories: a record outside the scope is reported as "not found", never shown.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from core.models import Company, Deal, Role, Territory, TerritoryRep, User


def territory_ids_for(session: Session, user: User) -> set[int] | None:
    """Return the territory ids the user covers, or None for "all" (admins)."""
    if user.role == Role.ADMIN:
        return None
    if user.role == Role.MANAGER:
        ids = set(
            session.scalars(select(Territory.id).where(Territory.team_id == user.team_id))
            if user.team_id is not None
            else []
        )
        ids |= set(session.scalars(select(TerritoryRep.territory_id).where(
            TerritoryRep.user_id == user.id)))
        return ids
    return set(
        session.scalars(select(TerritoryRep.territory_id).where(TerritoryRep.user_id == user.id))
    )


def company_visible(session: Session, user: User) -> ColumnElement[bool]:
    """A WHERE clause on Company for the companies `user` may see."""
    if not user.active:
        return false()
    ids = territory_ids_for(session, user)
    if ids is None:
        return true()
    return or_(Company.territory_id.in_(ids), Company.owner_id == user.id)


def deal_visible(session: Session, user: User) -> ColumnElement[bool]:
    """A WHERE clause on Deal for the deals `user` may see."""
    if not user.active:
        return false()
    if user.role == Role.ADMIN:
        return true()
    if user.role == Role.MANAGER:
        ids = territory_ids_for(session, user) or set()
        return or_(Deal.team_id == user.team_id, Deal.territory_id.in_(ids),
                   Deal.owner_id == user.id)
    ids = territory_ids_for(session, user) or set()
    return or_(Deal.owner_id == user.id, Deal.territory_id.in_(ids))


def can_see_company(session: Session, user: User, company: Company) -> bool:
    """True when `company` is inside the user's scope."""
    return bool(
        session.scalar(
            select(Company.id).where(Company.id == company.id, company_visible(session, user))
        )
    )
