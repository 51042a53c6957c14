"""Teams: the team channel (a Telegram group or Slack channel) that gets announcements."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from core.errors import Conflict, DomainError, Forbidden, NotFound
from core.models import Role, Team, User
from core.prepared import Prepared, autoflush

# A plain column read on the driver (core.prepared): the ORM's lazy load of User.team cost
# ~0.15 ms, the read through Session.execute ~0.1 ms (a quarter of a /whoami update).
_TEAM_NAME = Prepared(select(Team.name).where(Team.id == bindparam("id")))


def team_name(session: Session, user: User) -> str | None:
    """The name of the team `user` belongs to (None without a team), without loading the
    Team (one cached column read; an already loaded `user.team` is used as it is)."""
    if user.team_id is None:
        return None
    if "team" in user.__dict__:  # loaded already (or set in this session)
        return user.team.name if user.team is not None else None
    autoflush(session)  # as a query through the session would
    row = _TEAM_NAME.first(session.connection(), {"id": user.team_id})
    return None if row is None else str(row[0])


def team_of(session: Session, user: User) -> Team | None:
    """Return the team `user` manages, else the team they belong to."""
    managed = session.scalar(select(Team).where(Team.manager_id == user.id).order_by(Team.id))
    if managed is not None:
        return managed
    return session.get(Team, user.team_id) if user.team_id is not None else None


def link_team_channel(
    session: Session,
    user: User,
    *,
    platform: str,
    channel_id: str,
    team_name: str | None = None,
) -> Team:
    """Make a group chat the team channel of the user's team (or, for an admin, of
    `team_name`).

    Args:
        platform: the chat platform of the group ("telegram", "slack").
        channel_id: the group's chat id on that platform.
        team_name: admins may name any team; managers may only link their own team.

    Raises DomainError "channel.team_needed" (an admin without a team named none),
    NotFound "channel.no_team", Forbidden "channel.not_your_team" (a manager naming another team),
    Conflict "channel.taken" (the group is already another team's channel).
    """
    role = Role(user.role)
    if role not in (Role.ADMIN, Role.MANAGER):
        raise Forbidden("engine.role_refused")
    own = team_of(session, user)
    team: Team | None
    if team_name:
        team = session.scalar(select(Team).where(Team.name.ilike(team_name.strip())))
        if team is None:
            raise NotFound("channel.no_team", name=team_name.strip())
        if role != Role.ADMIN and (own is None or team.id != own.id):
            raise Forbidden("channel.not_your_team", name=team.name)
    else:
        team = own
        if team is None:
            raise DomainError("channel.team_needed")
    other = session.scalar(select(Team).where(
        Team.channel_platform == platform, Team.channel_id == channel_id, Team.id != team.id))
    if other is not None:
        raise Conflict("channel.taken", name=other.name)
    team.channel_platform = platform
    team.channel_id = channel_id
    session.flush()
    return team
