"""Linking a Slack identity by the e-mail address of its Slack profile (when enabled)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import users as user_service
from core.models import User


def link_by_email(
    session: Session,
    *,
    email: str | None,
    platform: str,
    external_id: str,
    chat_id: str | None,
    now: datetime,
) -> User | None:
    """Link `external_id` to the one active user whose e-mail is `email` (case-insensitive).

    Returns the user, or None when the address is empty, unknown, shared by several users
    (ambiguous: nobody is linked) or belongs to a deactivated user.
    """
    address = (email or "").strip().lower()
    if not address or "@" not in address:
        return None
    users = session.scalars(
        select(User).where(func.lower(User.email) == address).limit(2)
    ).all()
    if len(users) != 1 or not users[0].active:
        return None
    user_service.link_identity(session, users[0], platform=platform, external_id=external_id,
                               chat_id=chat_id, now=now)
    return users[0]
