"""Users, chat identities and invite codes."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.errors import Conflict, DomainError, NotFound
from core.models import ChatIdentity, InviteCode, Role, Team, User

LOCALES = ("en", "id")
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def add_user(
    session: Session,
    *,
    login: str,
    name: str,
    role: Role | str,
    now: datetime,
    team: Team | None = None,
    timezone: str = "Asia/Jakarta",
    locale: str = "en",
    email: str | None = None,
    phone: str | None = None,
) -> User:
    """Create a user; refuse a duplicate login, an unknown role, time zone or locale."""
    login = login.strip().lower()
    if not login or not login.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise DomainError("user.bad_login", login=login)
    try:
        role = Role(role)
    except ValueError as exc:
        raise DomainError("user.bad_role", role=str(role)) from exc
    check_timezone(timezone)
    if locale not in LOCALES:
        raise DomainError("user.bad_locale", locale=locale)
    if session.scalar(select(User.id).where(User.login == login)) is not None:
        raise Conflict("user.exists", login=login)
    user = User(
        login=login,
        name=name.strip() or login,
        role=role.value,
        team_id=team.id if team else None,
        timezone=timezone,
        locale=locale,
        email=email,
        phone=phone,
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def check_timezone(name: str) -> ZoneInfo:
    """Return the zone for an IANA name or raise a DomainError."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DomainError("user.bad_timezone", timezone=name) from exc


def get_user_by_login(session: Session, login: str) -> User:
    user = session.scalar(select(User).where(User.login == login.strip().lower()))
    if user is None:
        raise NotFound("user.not_found", login=login)
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.role, User.login)))


def create_invite(
    session: Session, user: User, *, now: datetime, ttl: timedelta = timedelta(hours=72)
) -> InviteCode:
    """Create a single-use invite code that links one chat identity to `user`."""
    code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
    invite = InviteCode(code=code, user_id=user.id, created_at=now, expires_at=now + ttl)
    session.add(invite)
    session.flush()
    return invite


def identity_user(session: Session, platform: str, external_id: str) -> User | None:
    """Return the user linked to a chat identity, or None."""
    return session.scalar(
        select(User)
        .join(ChatIdentity, ChatIdentity.user_id == User.id)
        .where(ChatIdentity.platform == platform, ChatIdentity.external_id == external_id)
    )


def redeem_invite(
    session: Session,
    *,
    code: str,
    platform: str,
    external_id: str,
    chat_id: str | None,
    now: datetime,
) -> User:
    """Link a chat identity to the invite's user; the code is spent, even if it was expired.

    Raises DomainError("link.bad_code") for an unknown, used or expired code (one message
    for all three, so codes cannot be probed).
    """
    code = code.strip().upper()
    invite = session.scalar(select(InviteCode).where(InviteCode.code == code).with_for_update())
    if invite is None or invite.used_at is not None or invite.expires_at <= now:
        raise DomainError("link.bad_code")
    user = session.get(User, invite.user_id)
    if user is None or not user.active:
        raise DomainError("link.bad_code")
    identity = link_identity(
        session, user, platform=platform, external_id=external_id, chat_id=chat_id, now=now
    )
    invite.used_at = now
    invite.used_by_identity_id = identity.id
    return user


def link_identity(
    session: Session,
    user: User,
    *,
    platform: str,
    external_id: str,
    chat_id: str | None,
    now: datetime,
) -> ChatIdentity:
    """Link (or re-link) a chat identity to `user`; an identity belongs to one user only."""
    identity = session.scalar(
        select(ChatIdentity).where(
            ChatIdentity.platform == platform, ChatIdentity.external_id == external_id
        )
    )
    if identity is None:
        identity = ChatIdentity(
            platform=platform,
            external_id=external_id,
            chat_id=chat_id,
            user_id=user.id,
            linked_at=now,
        )
        session.add(identity)
    else:
        identity.user_id = user.id
        identity.chat_id = chat_id or identity.chat_id
        identity.linked_at = now
    session.flush()
    return identity


def set_locale(user: User, locale: str) -> None:
    if locale not in LOCALES:
        raise DomainError("user.bad_locale", locale=locale)
    user.locale = locale


def deactivate_user(
    session: Session, user: User, *, now: datetime | None = None
) -> dict[str, int]:
    """Deactivate a user: every door refuses them from the next message on; their open deals
    and follow-ups go to their team manager's queue (unassigned when the team has none),
    their pending notices are cancelled. (Their conversations are the chat side's to close:
    bot.conversations.models.close_conversations.)

    Returns counts of what was handed over.
    """
    from core.models import (
        OPEN_STAGES,
        Deal,
        FollowUp,
        NoticeRow,
        NoticeStatus,
    )

    user.active = False
    manager_id = None
    if user.team_id is not None:
        team = session.get(Team, user.team_id)
        if team is not None and team.manager_id not in (None, user.id):
            manager_id = team.manager_id
    deals = session.scalars(select(Deal).where(
        Deal.owner_id == user.id, Deal.stage.in_([s.value for s in OPEN_STAGES]))).all()
    for deal in deals:
        deal.owner_id = manager_id
        if now is not None:
            deal.updated_at = now
    follow_ups = session.scalars(select(FollowUp).where(
        FollowUp.user_id == user.id, FollowUp.status == "open")).all()
    for follow_up in follow_ups:
        if manager_id is not None:
            follow_up.user_id = manager_id
        else:
            follow_up.status = "cancelled"
    notices = session.scalars(select(NoticeRow).where(
        NoticeRow.recipient_user_id == user.id,
        NoticeRow.status == NoticeStatus.PENDING.value)).all()
    for notice in notices:
        notice.status = NoticeStatus.CANCELLED.value
    session.flush()
    return {"deals": len(deals), "follow_ups": len(follow_ups), "notices": len(notices)}


def reactivate_user(session: Session, user: User) -> None:
    """Let a deactivated user in again (their old records stay with whoever has them now)."""
    user.active = True


def link_by_email(
    session: Session,
    *,
    email: str | None,
    platform: str,
    external_id: str,
    chat_id: str | None,
    now: datetime,
) -> User | None:
    """Link `external_id` to the one active user whose e-mail is `email` (case-insensitive): a
    door that can read the e-mail of a platform profile (Slack, when enabled) offers it.

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
    link_identity(session, users[0], platform=platform, external_id=external_id,
                  chat_id=chat_id, now=now)
    return users[0]
