"""/whoami names the user's team (read as one column, not through the ORM's lazy load)."""

from __future__ import annotations

from sqlalchemy import select

from core.db import Database
from core.models import Team, User
from core.teams import team_name
from tests.support.chat import CollectingChat, texts


async def test_whoami_names_the_team_or_none(chat: CollectingChat, database: Database) -> None:
    r = await chat.as_user("budi").say("/whoami")
    assert "You are Budi Santoso (budi), role rep, team Java West" in texts(r)
    with database.session() as s:
        budi = s.scalars(select(User).where(User.login == "budi")).one()
        other = s.scalars(select(Team).where(Team.id != budi.team_id)).first()
        assert other is not None
        budi.team_id, moved_to = other.id, other.name
    r = await chat.as_user("budi").say("/whoami")
    assert f"role rep, team {moved_to}," in texts(r)
    with database.session() as s:
        s.scalars(select(User).where(User.login == "budi")).one().team_id = None
    r = await chat.as_user("budi").say("/whoami")
    assert "role rep, team —," in texts(r)


def test_team_name_uses_a_loaded_team(database: Database, world: object) -> None:
    with database.session() as s:
        budi = s.scalars(select(User).where(User.login == "budi")).one()
        assert team_name(s, budi) == "Java West"
        renamed = budi.team
        assert renamed is not None
        renamed.name = "Java West (renamed)"  # not flushed: the loaded object is what counts
        assert team_name(s, budi) == "Java West (renamed)"
        budi.team = None
        assert team_name(s, budi) is None
